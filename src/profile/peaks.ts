// The machine's peaks as tokenwave reaches them, the roof of the profiler's roofline: the best matmul GFLOP/s
// and the copy bandwidth in GB/s on the current adapter. Measured once per adapter, backend, kernel variants and
// tokenwave version, and cached in ~/.cache/tokenwave/peaks.json (XDG_CACHE_HOME is honoured).
import { permuteKernel } from '../kernels/layout.js';
import { matmulKernel } from '../kernels/matmul.js';
import { scratchTensor } from '../kernels/tuner.js';
import { adapterKey, engine, tidy } from '../tensor/engine.js';
import { platform } from '../runtime/platform.js';
import { Tensor } from '../tensor/tensor.js';

export interface Peaks {
  /** Best matmul throughput, GFLOP/s (2 FLOPs per multiply-add). */
  gflops: number;
  /** The matmul shape that reached it. */
  matmul: string;
  /** Copy bandwidth, GB/s (bytes read + bytes written per second). */
  gbps: number;
  adapter: string;
  measuredAt: string;
}


/** Bumped whenever the measurement (or a kernel it uses) changes, so cached peaks are measured again. */
const MEASUREMENT = 3;

const CACHE = 'peaks.json';

const cacheKey = () => `${adapterKey()} | peaks v${MEASUREMENT}`;

/** Seconds per call of `fn`, timed over at least `minSeconds` after a warm-up; best of three rounds. */
async function secondsPerCall(fn: () => void, minSeconds = 0.4): Promise<number> {
  const runtime = engine().runtime;
  fn();
  await runtime.sync();
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    let calls = 0;
    const start = performance.now();
    while (performance.now() - start < minSeconds * 1000) {
      fn();
      await runtime.sync();
      calls++;
    }
    best = Math.min(best, (performance.now() - start) / 1000 / calls);
  }
  return best;
}


/** GFLOP/s of an n x n x n matmul, timed for about 3 x `minSeconds`. */
async function matmulRate(n: number, minSeconds?: number): Promise<number> {
  const [a, b] = [scratchTensor([n, n], 1), scratchTensor([n, n], 2)];
  try {
    const seconds = await secondsPerCall(() => tidy(() => void matmulKernel(a, b, { batch: 1, M: n, N: n, K: n, aBatched: false, bBatched: false })), minSeconds);
    return (2 * n ** 3) / seconds / 1e9;
  } finally {
    a.dispose();
    b.dispose();
  }
}

export async function measurePeaks(): Promise<Peaks> {
  let gflops = 0;
  let matmul = '';
  for (const n of [512, 1024]) {
    const rate = await matmulRate(n);
    if (rate > gflops) [gflops, matmul] = [rate, `${n}^3`];
  }
  const n = 8 << 20;
  const x = Tensor.zeros([n]).keep();
  const seconds = await secondsPerCall(() => tidy(() => void permuteKernel(x, [0])));
  x.dispose();
  return { gflops, matmul, gbps: (2 * 4 * n) / seconds / 1e9, adapter: cacheKey(), measuredAt: new Date().toISOString() };
}

/** The cached peaks of the current adapter, measured first when there are none (or when `remeasure`). */
export async function machinePeaks(options: { remeasure?: boolean; onMeasure?: () => void } = {}): Promise<Peaks> {
  const key = cacheKey();
  const known = (await platform.readCache<Peaks>(CACHE))[key];
  if (known && !options.remeasure) return known;
  options.onMeasure?.();
  const peaks = await measurePeaks();
  await platform.updateCache(CACHE, { [key]: peaks }, 'the peaks');
  return peaks;
}

/**
 * The current adapter's matmul GFLOP/s in about a second: its cached peak where there is one, else a 512^3 product
 * timed briefly (not cached: the profiler's roof is measured with more care). Says which.
 */
export async function quickMatmulRate(): Promise<{ gflops: number; from: string }> {
  const known = (await platform.readCache<Peaks>(CACHE))[cacheKey()];
  if (known) return { gflops: known.gflops, from: `the cached peak (${known.matmul}, ${known.measuredAt.slice(0, 10)})` };
  return { gflops: await matmulRate(512, 0.1), from: 'a 512^3 matmul timed now' };
}
