// `npm run bench [-- SECTION...]`: tokenwave against peers measured in the same run, on the same adapter.
// Sections: matmul, loads, spectrogram, models (the TF.js and PyTorch peers: tfjs and pytorch, each also alone), jaxjs, host, tune, soak (default: all). `--runs N` sets the timed repetitions of the model rows;
// `--no-wasm` leaves out TF.js's WASM peer, a one-thread CPU peer that takes minutes and says nothing about a GPU.
import { modelConfig } from '../src/models/config.js';
import { init, shutdown } from '../src/tensor/engine.js';
import { BatchTooLargeError, checkBatchFits } from '../src/train/fits.js';
import { loadCosts } from './loads.js';
import { MATMUL_SHAPES, tokenwaveMatmul } from './matmul.js';
import { useJaxjs } from './jaxjs-model.js';
import { hostMilliseconds, jaxjsModel, tfjsModel, tokenwaveModel, type Measured, type Workload } from './models.js';
import { tfjsMatmul, useRegisteredTfjsWebgpu, useTfjsWasm, useTfjsWebgpu } from './peers.js';
import { soak } from './soak.js';
import { findTorch, torchModel } from './torch-peer.js';
import { spectrogramThroughput } from './spectrogram.js';
import { median } from '../src/util/timing.js';
import { setTuneMode, tuneMode } from '../src/kernels/tuner.js';
import { compareModelWithRules, tuneModel } from '../src/train/tune.js';

/** Why this adapter (or TOKENWAVE_GPU_MEMORY_MIB) has no room for a workload, if it has none. */
function fitRefusal(w: Workload): Promise<string | undefined> {
  return checkBatchFits(modelConfig(w.model), w.batch, w.mode === 'train' ? 'training' : 'inference', 'a batch of').then(
    () => undefined,
    (err: unknown) => {
      if (err instanceof BatchTooLargeError) return err.message;
      throw err;
    },
  );
}

/** What the PyTorch and jax-js tables compare: the paper models' training and inference at batch 64, and one clip. */
const PEER_WORKLOADS: Workload[] = [
  { model: 'TASR_4L_8T-8H', mode: 'train', batch: 64 },
  { model: 'TASR_4L_8T-8H', mode: 'infer', batch: 64 },
  { model: 'TASR_4L_NT-8H', mode: 'train', batch: 64 },
  { model: 'TASR_4L_NT-8H', mode: 'infer', batch: 64 },
  { model: 'TASR_4L_8T-8H', mode: 'infer', batch: 1 },
];

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 3;
const sections = args.filter((a, i) => !a.startsWith('--') && (runsAt < 0 || i !== runsAt + 1));
const withWasm = !args.includes('--no-wasm');
const SECTIONS = ['matmul', 'loads', 'spectrogram', 'models', 'tfjs', 'pytorch', 'jaxjs', 'host', 'tune', 'soak'];
if (args.includes('--help') || args.includes('-h')) {
  console.log(`usage: npm run bench [-- SECTION...] [--runs N] [--no-wasm]
  SECTION: ${SECTIONS.join(', ')} (default: all)
    models: the paper models against TF.js (WebGPU, WASM) and PyTorch (the CPU, and the CUDA GPU where its
    torch has one): the sections tfjs and pytorch together
    loads: what one load costs on this adapter (storage or workgroup memory, one address or each its own)
  --runs N    timed steps per model row (default 3)
  --no-wasm   leave out TF.js's WASM peer (one CPU thread: minutes, and nothing about a GPU)
What each section measures and the figures on record: bench/README.md.`);
  process.exit(0);
}
const unknown = sections.filter((s) => !SECTIONS.includes(s));
if (unknown.length > 0 || !(runs >= 1)) {
  console.error(`bench: ${unknown.length > 0 ? `unknown section ${unknown.join(', ')}` : '--runs needs a number of at least 1'}; try --help`);
  process.exit(2);
}
const wanted = (name: string) => sections.length === 0 || sections.includes(name);
/** The medians of 3 rounds of two measurements taken side by side (ours, the peer's). */
async function medianPair(round: () => Promise<[number, number]>): Promise<[number, number]> {
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < 3; r++) {
    const [a, b] = await round();
    ours.push(a);
    theirs.push(b);
  }
  return [median(ours), median(theirs)];
}

/** The workloads this adapter (or TOKENWAVE_GPU_MEMORY_MIB) has room for; the others said up front and skipped, in seconds. */
async function fitting<W extends Workload>(workloads: readonly W[]): Promise<W[]> {
  const fit: W[] = [];
  for (const w of workloads) {
    const refusal = await fitRefusal(w);
    if (refusal) console.log(`  skipped: ${refusal}`);
    else fit.push(w);
  }
  return fit;
}
/** A peer's measurement, or '(failed)' where it threw (out of memory, say): a note in its cell, not the benchmark's end. */
async function measured<M extends Measured>(peer: string, w: Workload, measure: () => Promise<M> | M): Promise<M | string> {
  try {
    return await measure();
  } catch (e) {
    console.error(`  (${peer} failed on ${w.model} ${w.mode} ${w.batch}: ${(e as Error).message})`);
    return '(failed)';
  }
}
/** A peer's cell, `width` wide: its clips per second (with `mark`) and tokenwave's ratio to it, or the note it has instead. */
function peerCell(ours: Measured, theirs: Measured | string, width: number, mark = ''): string {
  if (typeof theirs === 'string') return `${theirs.padStart(width)} ${''.padStart(7)}`;
  return `${(theirs.clipsPerSecond.toFixed(2) + mark).padStart(width)} ${(ours.clipsPerSecond / theirs.clipsPerSecond).toFixed(2).padStart(6)}x`;
}
/** A model table's header, the peers' columns (each `[name, width]`) after tokenwave's. */
function printHeader(peers: [string, number][]): void {
  const columns = peers.map(([name, width]) => `${name.padStart(width)} ${'ratio'.padStart(7)}`).join(' ');
  console.log(`  ${'model'.padEnd(14)} ${'step'.padEnd(10)} ${'batch'.padStart(5)} ${'tokenwave'.padStart(10)} ${columns}  parameters`);
}
/** A model table's row: the workload, tokenwave's clips per second, the peers' cells, and the parameter count (both
 * where `peer`, the first peer's measurement, counted other than tokenwave). */
function printRow(w: Workload, ours: Measured, cells: string[], peer: Measured | string): void {
  const theirParameters = typeof peer === 'string' ? ours.parameters : peer.parameters;
  console.log(
    `  ${w.model.padEnd(14)} ${(w.mode === 'train' ? 'training' : 'inference').padEnd(10)} ${String(w.batch).padStart(5)} ${ours.clipsPerSecond.toFixed(2).padStart(10)} ${cells.join(' ')}  ` +
      `${ours.parameters === theirParameters ? ours.parameters.toLocaleString('en-US') : `${ours.parameters} vs ${theirParameters}`}`,
  );
}

const eng = await init();
console.log(`adapter: ${eng.runtime.adapterName} (${eng.runtime.backend}${eng.runtime.software ? ', software' : ''}); ${new Date().toISOString().slice(0, 10)}`);
const KERNEL_CHOICES = { on: 'tuned on this adapter before each model row is timed, as `train` does', cached: 'the cached tuned choices, the rules elsewhere', off: 'the hand-written rules' };
console.log(`kernels: ${KERNEL_CHOICES[tuneMode()]} (TOKENWAVE_TUNE=${tuneMode()})`);
// TF.js takes a device of its own from the adapter: only where a section compares with it
if (wanted('matmul') || wanted('models') || wanted('tfjs')) {
  const webgpu = await useTfjsWebgpu();
  console.log(`peers:   ${webgpu}, on its own device from the same adapter${withWasm ? '; TensorFlow.js WASM' : ''}\n`);
}

if (wanted('matmul')) {
  console.log('matmul GFLOP/s (2 FLOPs per multiply-add; median of 3 timed rounds of at least 1 s each)');
  console.log(`  ${'shape'.padEnd(58)} ${'tokenwave'.padStart(9)} ${'tfjs'.padStart(7)} ${'ratio'.padStart(6)}`);
  for (const shape of MATMUL_SHAPES) {
    const [a, b] = await medianPair(async () => [await tokenwaveMatmul(shape), await tfjsMatmul(shape)]);
    console.log(`  ${shape.label.padEnd(58)} ${a.toFixed(2).padStart(9)} ${b.toFixed(2).padStart(7)} ${(a / b).toFixed(2).padStart(5)}x`);
  }
  console.log();
}

if (wanted('loads')) {
  // why the matmul tiles on CPU adapters are shaped as they are: a load against a multiply-add
  console.log('one load against one multiply-add: ns per invocation beyond an empty loop (medians of 5 alternating rounds)');
  const costs = await loadCosts();
  const fma = costs.find((c) => c.unit === 'multiply-add')!.ns;
  for (const c of costs) {
    const worth = c.unit === 'value' ? `${(c.ns / fma).toFixed(0).padStart(4)} multiply-adds' time` : '';
    console.log(`  ${`${c.label} (per ${c.unit})`.padEnd(62)} ${c.ns.toFixed(4).padStart(8)} ns  ${worth}`);
  }
  console.log();
}

if (wanted('spectrogram')) {
  console.log('spectrograms per second (paper preset, 1 s clips at 16 kHz -> 124 x 129; median of 3 rounds)');
  console.log(`  ${'batch'.padEnd(10)} ${'tokenwave GPU'.padStart(13)} ${'TypeScript CPU'.padStart(15)} ${'ratio'.padStart(6)}`);
  for (const clips of [1, 16, 64]) {
    const [a, b] = await medianPair(async () => {
      const r = await spectrogramThroughput(clips);
      return [r.gpu, r.cpu];
    });
    console.log(`  ${String(clips).padEnd(10)} ${a.toFixed(1).padStart(13)} ${b.toFixed(1).padStart(15)} ${(a / b).toFixed(2).padStart(5)}x`);
  }
  console.log();
}

if (wanted('models') || wanted('tfjs')) {
  // TF.js WASM runs out of its 4 GB heap training TASR_4L_NT-8H at batch 64: that row compares at 32.
  const workloads: (Workload & { wasm: boolean })[] = [
    { model: 'TASR_4L_8T-8H', mode: 'train', batch: 64, wasm: true },
    { model: 'TASR_4L_8T-8H', mode: 'infer', batch: 64, wasm: true },
    { model: 'TASR_4L_NT-8H', mode: 'train', batch: 64, wasm: false },
    { model: 'TASR_4L_NT-8H', mode: 'train', batch: 32, wasm: true },
    { model: 'TASR_4L_NT-8H', mode: 'infer', batch: 64, wasm: true },
    { model: 'TASR_4L_8T-8H', mode: 'train', batch: 16, wasm: true },
    { model: 'TASR_4L_8T-8H', mode: 'infer', batch: 16, wasm: true },
  ];
  console.log(`paper models, clips per second (median of ${runs} timed steps after one warm-up; training: forward with dropout, loss,`);
  console.log('backward, optimizer, the loss read back; inference: logits read back). TF.js WASM has no gradient kernels for');
  console.log('convolution filters and depthwise convolutions: the peer model computes those through custom gradients.');
  printHeader([['tfjs-webgpu', 12], ['tfjs-wasm', 10]]);
  let wasm = '';
  const peer = (w: Workload) => measured('peer', w, () => tfjsModel(w, runs));
  for (const w of await fitting(workloads)) {
    const ours = await tokenwaveModel(w, runs);
    await useRegisteredTfjsWebgpu();
    const gpuPeer = await peer(w);
    let wasmPeer: Measured | string = withWasm ? '(heap)' : '(skipped)';
    if (w.wasm && withWasm) {
      wasm = await useTfjsWasm();
      wasmPeer = await peer(w);
    }
    printRow(w, ours, [peerCell(ours, gpuPeer, 12), peerCell(ours, wasmPeer, 10)], gpuPeer);
  }
  console.log(`  (${wasm || 'TF.js WASM left out: --no-wasm'})`);
}
if (wanted('jaxjs')) {
  // The strongest WebGPU peer: jax-js, jit-compiled, on a device of the same adapter.
  const jaxjs = await useJaxjs();
  const workloads = await fitting(PEER_WORKLOADS);
  console.log(`\nthe same against ${jaxjs}, on its own device from the same adapter (bench/jaxjs-model.ts; median of ${runs} after one warm-up, which compiles)`);
  printHeader([['jax-js', 10]]);
  for (const w of workloads) {
    const ours = await tokenwaveModel(w, runs);
    const p = await measured('jax-js', w, () => jaxjsModel(w, runs));
    printRow(w, ours, [peerCell(ours, p, 10)], p);
  }
}
if (wanted('models') || wanted('pytorch')) {
  // The peer that matters on a CPU-only machine: PyTorch on the CPU, the same models and parameter counts; and on a
  // machine whose torch has CUDA, PyTorch on that GPU too: the peer that matters there.
  const torch = findTorch();
  if ('missing' in torch) console.log(`\nPyTorch peer skipped: ${torch.missing}`);
  else {
    const workloads = await fitting(PEER_WORKLOADS);
    for (const device of torch.cuda ? (['cuda', 'cpu'] as const) : (['cpu'] as const)) {
      console.log(`\nthe same against PyTorch on ${device === 'cpu' ? 'the CPU' : 'the CUDA GPU'} (bench/torch_model.py, float32; median of ${runs} after one warm-up)`);
      printHeader([['pytorch', 10]]);
      let about = '';
      for (const w of workloads) {
        const ours = await tokenwaveModel(w, runs);
        const p = await measured('PyTorch', w, () => torchModel(torch.python, w, runs, device));
        const ran = typeof p === 'string' ? undefined : p;
        if (ran) about = `torch ${ran.torch}, ${device === 'cpu' ? `${ran.threads} threads, BLAS: ${ran.blas}` : ran.device}; *: channels-last was the faster memory format`;
        printRow(w, ours, [peerCell(ours, p, 10, ran?.channelsLast ? '*' : '')], p);
      }
      console.log(`  (${about})`);
    }
  }
}
if (wanted('host')) {
  // The engine's own overhead: its peer is the same step unplanned.
  console.log('\nJavaScript per training step, batch 4: the call that encodes the step (median of 10 after two warm-ups)');
  console.log(`  ${'model'.padEnd(14)} ${'dispatches'.padStart(10)} ${'unplanned'.padStart(10)} ${'planned'.padStart(9)} ${'ratio'.padStart(7)}`);
  for (const model of ['TASR_4L_8T-8H', 'TASR_4L_NT-8H']) {
    const h = await hostMilliseconds(model, 4, 10);
    console.log(`  ${model.padEnd(14)} ${String(h.dispatches).padStart(10)} ${`${h.unplanned.toFixed(1)} ms`.padStart(10)} ${`${h.planned.toFixed(1)} ms`.padStart(9)} ${(h.unplanned / h.planned).toFixed(1).padStart(6)}x`);
  }
}
if (wanted('tune')) {
  // The autotuner against the rules it replaces: each shape class where it chose differently, timed again
  // (interleaved rounds, medians), and whole planned steps with tuning off and on, alternating.
  console.log(`\nautotuner vs the rules (TOKENWAVE_TUNE=${tuneMode()} for the tuning itself)`);
  const workloads: Workload[] = [
    { model: 'TASR_4L_8T-8H', mode: 'train', batch: 64 },
    { model: 'TASR_4L_8T-8H', mode: 'infer', batch: 64 },
    { model: 'TASR_4L_8T-8H', mode: 'infer', batch: 1 },
    { model: 'TASR_4L_NT-8H', mode: 'train', batch: 64 },
  ];
  const previous = tuneMode();
  for (const w of workloads) {
    const config = modelConfig(w.model);
    const kind = w.mode === 'train' ? 'training' : 'inference';
    setTuneMode('on');
    const start = performance.now();
    const tuned = await tuneModel(config, w.batch, kind);
    const comparisons = await compareModelWithRules(config, w.batch, kind);
    console.log(`  ${w.model} ${kind} batch ${w.batch}: ${tuned.length} shape classes tuned now (${((performance.now() - start) / 1000).toFixed(0)} s with the re-timing); ${comparisons.length} differ from the rules:`);
    for (const c of comparisons) console.log(`    ${c.key.padEnd(58)} ${c.rule.padEnd(13)} ${c.ruleMs.toFixed(3).padStart(8)} ms  ${c.tuned.padEnd(13)} ${c.tunedMs.toFixed(3).padStart(8)} ms  ${(c.ruleMs / c.tunedMs).toFixed(2)}x`);
    const steps = { off: [] as number[], cached: [] as number[] };
    for (let round = 0; round < 3; round++) {
      for (const mode of ['off', 'cached'] as const) {
        setTuneMode(mode);
        steps[mode].push((await tokenwaveModel(w, runs)).clipsPerSecond);
      }
    }
    const [off, tunedRate] = [median(steps.off), median(steps.cached)];
    console.log(`    whole planned step: ${off.toFixed(1)} clips/s with the rules, ${tunedRate.toFixed(1)} tuned: ${(tunedRate / off).toFixed(2)}x (median of 3 alternating rounds)`);
  }
  setTuneMode(previous);
}
if (wanted('soak')) {
  // Long-run health: thousands of planned steps with resumes, against the same run unplanned.
  const steps = 3000;
  console.log(`\nsoak: ${steps} training steps of a small TASR_1L_4T-2H (batch 8), stopped at a checkpoint and resumed every ${steps / 10}, planned`);
  console.log('and, as the reference, with every step unplanned; the checkpoints compared bit for bit');
  console.log(`  ${'step'.padStart(5)} ${'identical'.padStart(9)} ${'pool MiB'.padStart(9)} ${'RSS MiB'.padStart(8)} ${'ms/step planned'.padStart(16)} ${'unplanned'.padStart(10)}`);
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  const { segments, poolBytesPerStep, stepsPerEpoch } = await soak({
    steps,
    segments: 10,
    batchSize: 8,
    onSegment: (s) =>
      console.log(
        `  ${String(s.step).padStart(5)} ${(s.identical ? 'yes' : 'NO').padStart(9)} ${mib(s.poolBytes.planned).padStart(9)} ${s.rssMiB.toFixed(0).padStart(8)} ` +
          `${s.msPerStep.planned.toFixed(1).padStart(16)} ${s.msPerStep.unplanned.toFixed(1).padStart(10)}`,
      ),
  });
  const settled = poolBytesPerStep.slice(2 * stepsPerEpoch);
  console.log(
    `  every checkpoint identical: ${segments.every((s) => s.identical) ? 'yes' : 'NO'}; pool after the second epoch: ${mib(Math.min(...settled))}-${mib(Math.max(...settled))} MiB; ` +
      `RSS ${segments[0]!.rssMiB.toFixed(0)} MiB after the first segment, ${segments.at(-1)!.rssMiB.toFixed(0)} MiB after the last`,
  );
}
shutdown();
process.exit(0);
