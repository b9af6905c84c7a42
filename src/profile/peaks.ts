// The machine's peaks as tokenwave reaches them, the roof of the profiler's roofline: the best matmul GFLOP/s
// and the copy bandwidth in GB/s on the current adapter. Measured once per adapter, backend, kernel variants and
// tokenwave version, and cached in ~/.cache/tokenwave/peaks.json (XDG_CACHE_HOME is honoured).
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { permuteKernel } from '../kernels/layout.js';
import { matmulKernel } from '../kernels/matmul.js';
import { engine, tidy } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { writeFileAtomic } from '../util/files.js';
import { seededRandom } from '../util/random.js';
import { TOKENWAVE_VERSION } from '../util/version.js';

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

function cacheFile(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tokenwave', 'peaks.json');
}

function cacheKey(): string {
  const r = engine().runtime;
  return `${r.adapterName} | ${r.backend} ${r.featureLevel} | ${r.kernelVariants} kernels | tokenwave ${TOKENWAVE_VERSION} | peaks v${MEASUREMENT}`;
}

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

const randomTensor = (shape: number[], seed: number) => {
  const r = seededRandom(seed);
  return Tensor.from(Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => r() * 2 - 1), shape).keep();
};

export async function measurePeaks(): Promise<Peaks> {
  let gflops = 0;
  let matmul = '';
  for (const n of [512, 1024]) {
    const [a, b] = [randomTensor([n, n], 1), randomTensor([n, n], 2)];
    const seconds = await secondsPerCall(() => tidy(() => void matmulKernel(a, b, { batch: 1, M: n, N: n, K: n, aBatched: false, bBatched: false })));
    a.dispose();
    b.dispose();
    const rate = (2 * n ** 3) / seconds / 1e9;
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
  const file = cacheFile();
  const key = cacheKey();
  let cache: Record<string, Peaks> = {};
  try {
    cache = JSON.parse(await readFile(file, 'utf8')) as Record<string, Peaks>;
  } catch {
    // no cache yet, or an unreadable one: measure
  }
  const known = cache[key];
  if (known && !options.remeasure) return known;
  options.onMeasure?.();
  const peaks = await measurePeaks();
  cache[key] = peaks;
  try {
    await mkdir(join(file, '..'), { recursive: true });
    await writeFileAtomic(file, JSON.stringify(cache, null, 2) + '\n');
  } catch (err) {
    console.error(`tokenwave: could not cache the peaks in ${file} (${(err as Error).message}); they will be measured again next time`);
  }
  return peaks;
}
