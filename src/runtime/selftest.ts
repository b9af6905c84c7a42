// A small kernel whose result is checked against the CPU: proves that the adapter really computes
// (Dawn's null backend, for one, accepts every dispatch and writes nothing).
import { read, write } from './kernel.js';
import { STORAGE_USAGE, type Runtime } from './runtime.js';

export interface SelfTestResult {
  ok: boolean;
  elements: number;
  maxAbsError: number;
  milliseconds: number;
  message: string;
}

const SELFTEST = { name: 'selftest', file: 'selftest.wgsl', bindings: [read('x'), write('y')], uniforms: { scale: 'f32' } } as const;

export async function runSelfTest(runtime: Runtime, elements = 100_003): Promise<SelfTestResult> {
  const start = performance.now();
  const kernel = await runtime.compile(SELFTEST);
  const x = new Float32Array(elements);
  for (let i = 0; i < elements; i++) x[i] = Math.sin(i * 0.37) * 3;
  const scale = 0.75;
  const input = runtime.pool.acquire(x.byteLength, STORAGE_USAGE, 'selftest x');
  const output = runtime.pool.acquire(x.byteLength, STORAGE_USAGE, 'selftest y');
  try {
    runtime.write(input, x);
    runtime.run(kernel, { uniforms: { scale }, buffers: { x: input, y: output }, invocations: elements });
    const y = new Float32Array(await runtime.read(output, x.byteLength));
    let maxAbsError = 0;
    for (let i = 0; i < elements; i++) {
      const xi = x[i]!;
      const expected = Math.fround(Math.fround(Math.fround(xi * xi) * scale) + i);
      maxAbsError = Math.max(maxAbsError, Math.abs(y[i]! - expected));
    }
    // Fused multiply-add on the GPU may round once less than the CPU: allow a few ulps of the largest value.
    const tolerance = 4 * 2 ** -23 * (9 * scale + elements);
    const ok = maxAbsError <= tolerance;
    return {
      ok,
      elements,
      maxAbsError,
      milliseconds: performance.now() - start,
      message: ok
        ? `self-test passed: ${elements} elements, max |error| ${maxAbsError.toExponential(2)}`
        : `self-test FAILED: max |error| ${maxAbsError} exceeds ${tolerance.toExponential(2)}: the adapter does not compute correctly`,
    };
  } finally {
    runtime.pool.release(input);
    runtime.pool.release(output);
  }
}

/**
 * The GPU timestamps' effective resolution in nanoseconds (see runtime/timer.ts), from 64 timed runs of the
 * self-test kernel; undefined where the adapter has no timestamps (or they never moved).
 */
export async function timestampResolutionNs(runtime: Runtime): Promise<number | undefined> {
  if (!runtime.features.includes('timestamp-query')) return undefined;
  const kernel = await runtime.compile(SELFTEST);
  const elements = 1 << 16;
  const input = runtime.pool.acquire(4 * elements, STORAGE_USAGE, 'resolution x');
  const output = runtime.pool.acquire(4 * elements, STORAGE_USAGE, 'resolution y');
  try {
    runtime.startTiming('timestamps');
    for (let i = 0; i < 64; i++) runtime.run(kernel, { uniforms: { scale: 1 }, buffers: { x: input, y: output }, invocations: elements });
    return (await runtime.stopTiming()).resolutionNs;
  } finally {
    runtime.pool.release(input);
    runtime.pool.release(output);
  }
}
