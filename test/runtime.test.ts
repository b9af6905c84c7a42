import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseAdapter, NoAdapterError, requestedBackend } from '../src/runtime/adapter.js';
import { KernelCompileError } from '../src/runtime/kernel.js';
import { GpuValidationError, Runtime, STORAGE_USAGE } from '../src/runtime/runtime.js';
import { runSelfTest } from '../src/runtime/selftest.js';

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

  it('on a machine without a hardware adapter, falls back to OpenGL ES in compatibility mode', async () => {
    const choice = await chooseAdapter();
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
    process.env.TOKENWAVE_BACKEND = 'OpenGLES';
    try {
      expect(requestedBackend()).toBe('opengles');
    } finally {
      delete process.env.TOKENWAVE_BACKEND;
    }
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
    const spec = { name: 'broken-kernel', file: fixture('broken.wgsl'), buffers: ['write' as const], uniformBytes: 0 };
    const error = await runtime.compile(spec).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KernelCompileError);
    const message = (error as Error).message;
    expect(message).toContain("kernel 'broken-kernel'");
    expect(message).toMatch(/line 6, column \d+/);
    expect(message).toContain('y[0] = undefined_thing + 1.0;');
  });

  it('names a missing template constant', () => {
    expect(() =>
      runtime.kernel({ name: 'acc', file: fixture('accumulate.wgsl'), buffers: ['write'], uniformBytes: 8 }),
    ).toThrow(/kernel 'acc'.*no value given for \$\{WG\}/);
  });

  it('turns a validation error (aliased writable binding) into an exception', async () => {
    const kernel = await runtime.compile({
      name: 'alias',
      file: fixture('alias.wgsl'),
      buffers: ['read', 'write'],
      uniformBytes: 0,
    });
    const buffer = runtime.pool.acquire(16, STORAGE_USAGE);
    runtime.dispatch(kernel, null, [buffer, buffer], 1);
    await expect(runtime.sync()).rejects.toBeInstanceOf(GpuValidationError);
    runtime.pool.release(buffer);
    // The error is reported once; the runtime keeps working afterwards.
    await expect(runSelfTest(runtime, 100)).resolves.toMatchObject({ ok: true });
  });

  it('caches pipelines by their final WGSL', () => {
    const spec = { name: 'acc', file: fixture('accumulate.wgsl'), buffers: ['write' as const], uniformBytes: 8 };
    const a = runtime.kernel({ ...spec, constants: { WG: 64 } });
    const b = runtime.kernel({ ...spec, constants: { WG: 64 } });
    const c = runtime.kernel({ ...spec, constants: { WG: 32 } });
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });
});

describe('command stream and pool', () => {
  const accumulate = (wg: number) =>
    runtime.kernel({ name: 'acc', file: fixture('accumulate.wgsl'), constants: { WG: wg }, buffers: ['write'], uniformBytes: 8 });

  async function accumulateRun(n: number, dispatches: number): Promise<Float32Array> {
    const kernel = accumulate(64);
    const y = runtime.pool.acquire(n * 4, STORAGE_USAGE);
    runtime.write(y, new Float32Array(n));
    const params = new DataView(new ArrayBuffer(8));
    for (let k = 1; k <= dispatches; k++) {
      params.setUint32(0, n, true);
      params.setFloat32(4, k, true);
      runtime.dispatch(kernel, params, [y], Math.ceil(n / 64));
    }
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

  it('rejects double release', () => {
    const buffer = runtime.pool.acquire(64, STORAGE_USAGE);
    runtime.pool.release(buffer);
    expect(() => runtime.pool.release(buffer)).toThrow(/released twice/);
  });
});
