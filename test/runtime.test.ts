import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseAdapter, requestedBackend } from '../src/runtime/adapter.js';
import { NoAdapterError } from '../src/runtime/adapter-info.js';
import { KernelCompileError, KernelDeclarationError, read, renderKernel, write } from '../src/runtime/kernel.js';
import { GpuValidationError, Runtime, STORAGE_USAGE } from '../src/runtime/runtime.js';
import { runSelfTest, timestampResolutionNs } from '../src/runtime/selftest.js';
import { clockStepNs } from '../src/runtime/timer.js';
import { waitGently } from '../src/runtime/gentle-wait.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/shaders/${name}`, import.meta.url));

let runtime: Runtime;
beforeAll(async () => {
  runtime = await Runtime.create();
});
afterAll(() => runtime?.destroy());

describe('adapter selection', () => {
  it('finds a real (non-null) adapter and the self-test computes the right numbers', async () => {
    expect(runtime.adapterName).not.toMatch(/null-backend/);
    const result = await runSelfTest(runtime, 4099);
    expect(result.ok).toBe(true);
    expect(result.maxAbsError).toBeLessThan(1e-2);
  });

  it('on a machine without a hardware adapter, automatic selection prefers OpenGL ES (the faster software path)', async () => {
    const choice = await chooseAdapter('auto');
    if (!choice.software) return; // a real GPU was found: nothing to fall back from
    expect(choice.backend).toBe('opengles');
    expect(choice.featureLevel).toBe('compatibility');
    expect(process.env.EGL_PLATFORM).toBe('surfaceless');
  });

  it('refuses the null backend with a message that says why', async () => {
    await expect(chooseAdapter('null')).rejects.toThrow(/null backend runs no kernels/);
  });

  it('rejects an unknown backend name, listing the valid ones', () => {
    expect(() => requestedBackend('cuda')).toThrow(/Unknown backend 'cuda'.*vulkan, opengles/);
  });

  it('reads the backend from TOKENWAVE_BACKEND', () => {
    const saved = process.env.TOKENWAVE_BACKEND;
    process.env.TOKENWAVE_BACKEND = 'OpenGLES';
    try {
      expect(requestedBackend()).toBe('opengles');
    } finally {
      if (saved === undefined) delete process.env.TOKENWAVE_BACKEND;
      else process.env.TOKENWAVE_BACKEND = saved;
    }
  });

  it('with a Vulkan loader but no working Vulkan driver, probes quietly: no native Dawn errors, one line in the attempts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-vk-'));
    const manifest = join(dir, 'broken_icd.json');
    writeFileSync(manifest, JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: join(dir, 'libvulkan_missing.so'), api_version: '1.3.0' } }));
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(import.meta.dirname, '..', 'bin', 'tokenwave.js'), 'doctor', '--json'], {
      env: { ...process.env, TOKENWAVE_BACKEND: 'auto', VK_ICD_FILENAMES: manifest, VK_DRIVER_FILES: manifest, XDG_CACHE_HOME: dir },
    });
    expect(stderr).not.toMatch(/vkCreateInstance|While initializing|VulkanError|\.cpp:\d+/);
    const report = JSON.parse(stdout) as { attempts: string[]; selfTest: { ok: boolean } };
    expect(report.selfTest.ok).toBe(true);
    expect(report.attempts[0]).toMatch(/^vulkan: skipped \((no libvulkan|no usable driver)/);
  });

  it('explains what was tried and what to install when a forced backend has no adapter', async () => {
    const missing = process.platform === 'darwin' ? 'd3d12' : 'metal';
    const error = await chooseAdapter(missing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoAdapterError);
    expect((error as Error).message).toContain(`requested backend '${missing}'`);
    expect((error as Error).message).toContain('libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri');
  });
});

describe('kernels and errors', () => {
  it('reports a WGSL compile error with the kernel name, line, column and source line', async () => {
    const spec = { name: 'broken-kernel', file: fixture('broken.wgsl'), bindings: [write('y')] };
    const error = await runtime.compile(spec).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KernelCompileError);
    const message = (error as Error).message;
    expect(message).toContain("kernel 'broken-kernel'");
    const [, line, source] = /line (\d+), column \d+: [^\n]*\n\s+([^\n]*)/.exec(message) ?? [];
    expect(source).toBe('y[0] = undefined_thing + 1.0;');
    expect(renderKernel(spec).split('\n')[Number(line) - 1]).toContain('undefined_thing');
  });

  it('names a missing template constant', () => {
    expect(() =>
      runtime.kernel({ name: 'needs-rank', file: 'binary.wgsl', bindings: [read('lhs'), read('rhs'), write('out')], constants: { STRIDED: true, TYPE: 'f32' } }),
    ).toThrow(/kernel 'needs-rank'.*no value given for \$\{(RANK|LHS|RHS|EXPR)\}/);
  });

  it('refuses a shader file that declares its own bindings', () => {
    expect(() => runtime.kernel({ name: 'own', file: fixture('own_bindings.wgsl'), bindings: [write('y')] })).toThrow(
      KernelDeclarationError,
    );
  });

  it('turns a validation error (aliased writable binding) into an exception', async () => {
    const kernel = await runtime.compile({ name: 'alias', file: fixture('alias.wgsl'), bindings: [read('x'), write('y')] });
    const buffer = runtime.pool.acquire(16, STORAGE_USAGE);
    runtime.run(kernel, { buffers: { x: buffer, y: buffer }, invocations: 1 });
    await expect(runtime.sync()).rejects.toBeInstanceOf(GpuValidationError);
    runtime.pool.release(buffer);
    // The error is reported once; the runtime keeps working afterwards.
    await expect(runSelfTest(runtime, 100)).resolves.toMatchObject({ ok: true });
  });

  it('caches pipelines by their final WGSL', () => {
    const spec = { name: 'acc', file: fixture('accumulate.wgsl'), bindings: [write('y')], uniforms: { k: 'f32' as const } };
    const a = runtime.kernel({ ...spec, workgroupSize: 64 });
    const b = runtime.kernel({ ...spec, workgroupSize: 64 });
    const c = runtime.kernel({ ...spec, workgroupSize: 32 });
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });
});

describe('kernel declarations', () => {
  const echo = {
    name: 'echo',
    file: fixture('echo_uniforms.wgsl'),
    bindings: [write('out')],
    uniforms: { a: 'u32', v: 'vec8u', f: 'f32', s: 'i32', b: 'u32' } as const,
  };

  it('packs uniforms by name with the layout WGSL gives the generated struct (vec8u aligned to 16 bytes)', async () => {
    const kernel = await runtime.compile(echo);
    // Hand-derived WGSL layout: a @0, v @16 (align 16, 32 bytes), f @48, s @52, b @56, invocations @60; 64 bytes.
    expect(kernel.uniforms.fields.map((f) => [f.name, f.offset])).toEqual([['a', 0], ['v', 16], ['f', 48], ['s', 52], ['b', 56], ['invocations', 60]]);
    expect(kernel.uniforms.bytes).toBe(64);
    const out = runtime.pool.acquire(13 * 4, STORAGE_USAGE);
    runtime.run(kernel, { uniforms: { a: 7, v: [1, -2, 3, 4, 5, 6, 7, -8], f: 2.5, s: -3, b: 9 }, buffers: { out }, invocations: 1 });
    const seen = Array.from(new Float32Array(await runtime.read(out, 13 * 4)));
    runtime.pool.release(out);
    expect(seen).toEqual([7, 1, -2, 3, 4, 5, 6, 7, -8, 2.5, -3, 9, 1]);
  });

  it('names the kernel and the field of a missing, unknown or mistyped uniform, and of a wrong binding', async () => {
    const kernel = await runtime.compile(echo);
    const out = runtime.pool.acquire(64, STORAGE_USAGE);
    const good = { a: 1, v: [1], f: 0, s: 0, b: 0 };
    const attempt = (uniforms: Record<string, number | number[]>, buffers: Record<string, GPUBuffer> = { out }) => () =>
      runtime.run(kernel, { uniforms, buffers, invocations: 1 });
    const { b: _b, ...missing } = good;
    expect(attempt(missing)).toThrow(/kernel 'echo': uniform 'b' \(u32\) was not given/);
    expect(attempt({ ...good, c: 1 })).toThrow(/kernel 'echo': unknown uniform 'c'/);
    expect(attempt({ ...good, a: -1 })).toThrow(/kernel 'echo': uniform 'a' \(u32\) must be an integer/);
    expect(attempt({ ...good, s: 1.5 })).toThrow(/kernel 'echo': uniform 's' \(i32\)/);
    expect(attempt({ ...good, v: 3 })).toThrow(/kernel 'echo': uniform 'v' needs up to 8 integers/);
    expect(attempt({ ...good, v: [1, 2, 3, 4, 5, 6, 7, 8, 9] })).toThrow(/kernel 'echo': uniform 'v' needs up to 8 integers/);
    expect(attempt(good, {})).toThrow(/kernel 'echo': no buffer given for binding 'out'/);
    expect(attempt(good, { out, extra: out })).toThrow(/kernel 'echo': unknown binding 'extra'/);
    expect(() => runtime.run(kernel, { uniforms: good, buffers: { out } })).toThrow(/kernel 'echo': needs an invocation count/);
    runtime.pool.release(out);
    expect(() => runtime.kernel({ ...echo, name: 'dup', bindings: [write('out'), write('out')] })).toThrow(/kernel 'dup': binding 'out' is declared twice/);
    expect(() => runtime.kernel({ ...echo, name: 'inv', uniforms: { invocations: 'u32' } })).toThrow(/kernel 'inv': 'invocations' is filled by the runtime/);
  });

  it('no shader in shaders/ declares its own Params struct, bindings or entry point', () => {
    const dir = fileURLToPath(new URL('../shaders/', import.meta.url));
    for (const file of readdirSync(dir)) {
      const text = readFileSync(dir + file, 'utf8');
      expect(text, file).not.toMatch(/@binding|struct Params|var<uniform>|@compute|workgroup_id/);
    }
  });
});

describe('command stream and pool', () => {
  const accumulate = (wg: number) =>
    runtime.kernel({ name: 'acc', file: fixture('accumulate.wgsl'), workgroupSize: wg, bindings: [write('y')], uniforms: { k: 'f32' } });

  async function accumulateRun(n: number, dispatches: number): Promise<Float32Array> {
    const kernel = accumulate(64);
    const y = runtime.pool.acquire(n * 4, STORAGE_USAGE);
    runtime.write(y, new Float32Array(n));
    for (let k = 1; k <= dispatches; k++) runtime.run(kernel, { uniforms: { k }, buffers: { y }, invocations: n });
    const out = new Float32Array(await runtime.read(y, n * 4));
    runtime.pool.release(y);
    return out;
  }

  it('runs 1000 dispatches in one submit, each with its own uniforms', async () => {
    await runtime.sync();
    const submitsBefore = runtime.stats.submits;
    const out = await accumulateRun(1000, 1000);
    expect(runtime.stats.submits - submitsBefore).toBe(1);
    // If any dispatch had seen another's uniforms, the sum would differ from 1 + 2 + ... + 1000.
    expect(new Set(out)).toEqual(new Set([500500]));
  });

  it('folds dispatches past the 65,535-workgroup limit into a second dimension', async () => {
    const n = 65_535 * 64 + 129;
    const out = await accumulateRun(n, 2);
    expect(out[0]).toBe(3);
    expect(out[n - 1]).toBe(3);
    expect(out.every((v) => v === 3)).toBe(true);
  });

  it('reuses pooled buffers: bytes allocated stay flat over repeated runs of the same work', async () => {
    await accumulateRun(5000, 10);
    const first = runtime.pool.snapshot();
    for (let i = 0; i < 20; i++) await accumulateRun(5000, 10);
    const after = runtime.pool.snapshot();
    expect(after.bytesAllocated).toBe(first.bytesAllocated);
    expect(after.bytesInUse).toBe(first.bytesInUse);
    expect(after.reuses - first.reuses).toBe(after.acquires - first.acquires);
  });

  it('replays a recorded stream: fixed uniforms as recorded, changing ones evaluated again in order, hooks between', async () => {
    const kernel = accumulate(64);
    const y = runtime.pool.acquire(16, STORAGE_USAGE);
    runtime.write(y, new Float32Array(4));
    let step = 1;
    const seen: number[] = [];
    runtime.startRecording();
    runtime.run(kernel, { uniforms: { k: 100 }, buffers: { y }, invocations: 4 });
    runtime.onReplay(() => (step *= 10));
    runtime.run(kernel, { replayUniforms: () => ({ k: step }), buffers: { y }, invocations: 4 });
    runtime.onReplay(() => seen.push(step));
    const recording = runtime.stopRecording();
    if (typeof recording === 'string') throw new Error(recording);
    expect(recording.buffers).toEqual(new Set([y]));
    expect(new Float32Array(await runtime.read(y, 16))[0]).toBe(101);
    runtime.replay(recording); // + 100 + 10
    runtime.replay(recording); // + 100 + 100
    expect([...new Float32Array(await runtime.read(y, 16))]).toEqual([411, 411, 411, 411]);
    expect(seen).toEqual([10, 100]);
    runtime.pool.release(y);
  });

  it('a recording that uploads or submits midway cannot be replayed, and says why', async () => {
    const kernel = accumulate(64);
    const y = runtime.pool.acquire(16, STORAGE_USAGE);
    runtime.startRecording();
    runtime.run(kernel, { uniforms: { k: 1 }, buffers: { y }, invocations: 4 });
    runtime.write(y, new Float32Array(4));
    expect(runtime.stopRecording()).toMatch(/uploads data midway/);
    runtime.startRecording();
    runtime.run(kernel, { uniforms: { k: 1 }, buffers: { y }, invocations: 4 });
    await runtime.sync();
    expect(runtime.stopRecording()).toMatch(/submit midway/);
    runtime.pool.release(y);
  });

  it('rejects double release', () => {
    const buffer = runtime.pool.acquire(64, STORAGE_USAGE);
    runtime.pool.release(buffer);
    expect(() => runtime.pool.release(buffer)).toThrow(/released twice/);
  });
});

describe('timestamp resolution', () => {
  it("is the finest step between timestamps: Dawn's 65,536 ns quantization, a nanosecond clock, none when nothing moved", () => {
    expect(clockStepNs([1_000_000n, 1_065_536n, 1_196_608n, 1_000_000n + 65_536n * 7n])).toBe(65_536);
    expect(clockStepNs([500n, 520n, 530n, 1_530n])).toBe(10);
    expect(clockStepNs([77n, 78n, 1_000n])).toBe(1);
    expect(clockStepNs([42n, 42n, 42n])).toBeUndefined();
    expect(clockStepNs([])).toBeUndefined();
  });

  it("on this adapter: finer than Dawn's quantization where it has timestamps (the toggle is off), none where it has none", async () => {
    const ns = await timestampResolutionNs(runtime);
    if (runtime.features.includes('timestamp-query')) expect(ns).toBeLessThan(65_536);
    else expect(ns).toBeUndefined();
  });
});

describe('waiting for the GPU', () => {
  // dawn.node polls a pending promise on every event-loop turn; this pump does the same, counting its turns.
  async function pumpTurnsWhileWaiting(wait: (p: Promise<void>) => Promise<void>, ms: number): Promise<{ turns: number; mainThreadMs: number }> {
    let settled = false;
    let turns = 0;
    const pump = () => {
      turns++;
      if (!settled) setImmediate(pump);
    };
    setImmediate(pump);
    const before = process.cpuUsage();
    await wait(new Promise<void>((resolve) => setTimeout(resolve, ms)).then(() => void (settled = true)));
    const used = process.cpuUsage(before);
    return { turns, mainThreadMs: (used.user + used.system) / 1000 };
  }

  it('waitGently sleeps between event-loop turns, so a polling pump runs hundreds of times, not continuously', async () => {
    const busy = await pumpTurnsWhileWaiting((p) => p, 300);
    const gentle = await pumpTurnsWhileWaiting(waitGently, 300);
    // Here: about one turn per millisecond nap plus the unthrottled ones of the 2 ms grace period (~850 turns, 30 ms
    // of CPU), against a spin of ~230,000 turns keeping the thread busy for the whole 300 ms.
    expect(gentle.turns).toBeLessThan(busy.turns / 50);
    expect(gentle.mainThreadMs).toBeLessThan(busy.mainThreadMs / 4);
  });

  it('waitGently passes on the value and the rejection of the promise it waits for', async () => {
    await expect(waitGently(Promise.resolve(42))).resolves.toBe(42);
    await expect(waitGently(Promise.reject(new Error('device lost')))).rejects.toThrow('device lost');
  });
});
