// What one load costs on this adapter, by where it reads (a storage buffer or workgroup memory), whether every
// invocation reads the same address, and its width (f32 or vec4f), against what one multiply-add costs: the
// numbers behind the matmul kernels' shapes on CPU adapters (bench/README.md, "What makes the difference on
// llvmpipe"). Raw WebGPU on the engine's device: each probe is one small shader whose loop does the probed work
// and nothing else, so its time less the empty loop's is the work's.
import { platform } from '../src/runtime/platform.js';
import { engine } from '../src/tensor/engine.js';
import { median } from '../src/util/timing.js';

const WORKGROUP = 64;
/** Enough work that a dispatch takes tens of milliseconds: on a CPU adapter 512 workgroups do; a GPU needs more to
 * outlast the submit's own latency (the most one dimension of a dispatch allows). */
const workgroups = () => (engine().runtime.software ? 512 : 65_535);
/** Loop trips per invocation: far below llvmpipe's 65,535-iteration limit. */
const TRIPS = 2048;
/** f32 values the probes read: 512 KiB, within a core's L2, so the probes time the load and not the memory. */
const SPAN = 1 << 17;

interface Probe {
  label: string;
  /** The loop body: adds what it loads into `acc` (a vec4f); `k` is the trip, `lid` the invocation in its workgroup. */
  body: string;
  /** Values loaded, or multiply-adds done, per trip: what the marginal time is divided by. */
  per: number;
  unit: 'value' | 'multiply-add';
}

const fmaChain = Array.from({ length: 8 }, () => 'acc = fma(v, acc, acc2); acc2 = fma(v, acc2, acc);').join(' ');
const PROBES: Probe[] = [
  { label: 'multiply-adds (16 vec4f)', body: `let v = vec4f(f32(k)); ${fmaChain}`, per: 64, unit: 'multiply-add' },
  { label: 'storage, same address for all: 4 vec4f', body: `let o = (k * 16u) % ${SPAN / 4 - 4}u; acc += B4[o] + B4[o + 1u] + B4[o + 2u] + B4[o + 3u];`, per: 16, unit: 'value' },
  { label: 'storage, own address: 4 f32', body: `let o = (k * 256u + lid) % ${SPAN - 192}u; acc += vec4f(B[o], B[o + 64u], B[o + 128u], B[o + 192u]);`, per: 4, unit: 'value' },
  { label: 'storage, own address: 4 vec4f', body: `let o = (k * 256u + lid * 4u) % ${SPAN / 4 - 4}u; acc += B4[o] + B4[o + 1u] + B4[o + 2u] + B4[o + 3u];`, per: 16, unit: 'value' },
  { label: 'workgroup memory, same address for all: 4 f32', body: 'let o = (k * 64u) % 4000u; acc += vec4f(S[o], S[o + 64u], S[o + 1u], S[o + 65u]);', per: 4, unit: 'value' },
  { label: 'workgroup memory, own address: 4 f32', body: 'let o = (k * 64u + lid) % 4000u; acc += vec4f(S[o], S[o + 64u], S[o + 1u], S[o + 65u]);', per: 4, unit: 'value' },
  { label: 'workgroup memory, own address: 4 vec4f', body: 'let o = (k * 64u + lid * 4u) % 1000u; acc += S4[o] + S4[o + 1u] + S4[o + 2u] + S4[o + 3u];', per: 16, unit: 'value' },
];

function shader(body: string): string {
  return `
@group(0) @binding(0) var<storage, read> B: array<f32>;
@group(0) @binding(1) var<storage, read> B4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> O: array<vec4f>;
var<workgroup> S: array<f32, 4096>;
var<workgroup> S4: array<vec4f, 1024>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3u) {
  S[lid] = f32(lid);
  S4[lid] = vec4f(f32(lid));
  workgroupBarrier();
  var acc = vec4f(0.0);
  var acc2 = vec4f(1.0);
  for (var i = 0u; i < ${TRIPS}u; i++) {
    let k = i + wg.x * 7u;
    ${body}
  }
  // every binding used (so the layout has them all), and the sums kept
  if (lid == 9999u) { acc += B4[0] + vec4f(B[0]) + S4[0] + vec4f(S[0]); }
  O[wg.x * ${WORKGROUP}u + lid] = acc + acc2;
}`;
}

export interface LoadCost {
  label: string;
  unit: Probe['unit'];
  /** Nanoseconds per value loaded (or per multiply-add), per invocation, beyond the empty loop. */
  ns: number;
}

/** Each probe's marginal cost: medians of `rounds` rounds, the probes and the empty loop alternating in each. */
export async function loadCosts(rounds = 5): Promise<LoadCost[]> {
  const device = engine().runtime.device;
  const groups = workgroups();
  const input = device.createBuffer({ size: SPAN * 4, usage: GPUBufferUsage.STORAGE });
  const output = device.createBuffer({ size: WORKGROUP * groups * 16, usage: GPUBufferUsage.STORAGE });
  const timer = (body: string) => {
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: shader(body) }), entryPoint: 'main' } });
    const bindings = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [input, input, output].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    return async () => {
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindings);
      pass.dispatchWorkgroups(groups);
      pass.end();
      const start = performance.now();
      device.queue.submit([encoder.finish()]);
      // waited for as the runtime waits: a spinning wait would take a core from a CPU adapter's threads
      await platform.waitForGpu(device.queue.onSubmittedWorkDone());
      return ((performance.now() - start) * 1e6) / (TRIPS * WORKGROUP * groups);
    };
  };
  const empty = timer('acc += vec4f(f32(k));');
  const probes = PROBES.map((p) => ({ ...p, run: timer(p.body), ns: [] as number[] }));
  await empty(); // compiles the pipelines before anything is timed
  for (const p of probes) await p.run();
  for (let r = 0; r < rounds; r++) {
    for (const p of probes) {
      const base = await empty();
      p.ns.push(((await p.run()) - base) / p.per);
    }
  }
  input.destroy();
  output.destroy();
  return probes.map((p) => ({ label: p.label, unit: p.unit, ns: median(p.ns) }));
}
