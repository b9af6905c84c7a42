// Matmul throughput: tokenwave's kernel against TensorFlow.js's WebGPU backend on the same Dawn adapter.
import { matmulKernel } from '../src/kernels/matmul.js';
import { engine, tidy } from '../src/tensor/engine.js';
import { Tensor } from '../src/tensor/tensor.js';
import { seededRandom } from '../src/util/random.js';

export interface MatmulShape {
  label: string;
  M: number;
  K: number;
  N: number;
}

export const MATMUL_SHAPES: MatmulShape[] = [
  { label: '256^3', M: 256, K: 256, N: 256 },
  { label: '512^3', M: 512, K: 512, N: 512 },
  { label: '1024^3', M: 1024, K: 1024, N: 1024 },
  { label: 'paper MLP: (64 tokens x 128) x (128 x 1024)', M: 64, K: 128, N: 1024 },
  { label: 'paper batch: (64 clips x 64 tokens x 128) x (128 x 256)', M: 4096, K: 128, N: 256 },
];

export function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  const r = seededRandom(seed);
  return Float32Array.from({ length: rows * cols }, () => r() * 2 - 1);
}

/** Runs `fn` (which encodes work) until `minSeconds` have passed, returning seconds per call. */
export async function timeRepeated(fn: () => void, sync: () => Promise<void>, minSeconds = 1): Promise<number> {
  fn();
  await sync(); // warm-up: pipeline compile, buffer allocation
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  let batch = 1;
  while (elapsed < minSeconds * 1000) {
    for (let i = 0; i < batch; i++) fn();
    await sync();
    calls += batch;
    batch *= 2;
    elapsed = performance.now() - start;
  }
  return elapsed / 1000 / calls;
}

export async function tokenwaveMatmul(s: MatmulShape): Promise<number> {
  const a = Tensor.from(randomMatrix(s.M, s.K, 1), [s.M, s.K]).keep();
  const b = Tensor.from(randomMatrix(s.K, s.N, 2), [s.K, s.N]).keep();
  const runtime = engine().runtime;
  const seconds = await timeRepeated(
    () => tidy(() => void matmulKernel(a, b, { batch: 1, M: s.M, N: s.N, K: s.K, aBatched: false, bBatched: false })),
    () => runtime.sync(),
  );
  a.dispose();
  b.dispose();
  return (2 * s.M * s.N * s.K) / seconds / 1e9;
}
