// The input pipeline: decode -> fit to the model's rate and length -> spectrogram on the GPU, cached on disk
// (keyed by the files and the preprocessing) so later epochs and runs skip the audio work; seeded batches.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareClip } from '../audio/clips.js';
import { spectrogram, spectrogramShape, type SpectrogramConfig } from '../audio/spectrogram.js';
import { WavError } from '../audio/wav.js';
import { readWav } from '../audio/wav-files.js';
import { tidy } from '../tensor/engine.js';
import { inBatchesThatFit } from '../tensor/fit.js';
import { Tensor } from '../tensor/tensor.js';
import { fileError, writeFileAtomic } from '../util/files.js';
import { seededRandom } from '../util/random.js';
import type { Item } from './datasets.js';

export interface Preprocessing {
  spectrogram: SpectrogramConfig;
  clipSamples: number;
}

export interface SpectrogramSet {
  /** [count, frames, bins] float32, one spectrogram per usable item. */
  values: Float32Array;
  labels: Int32Array;
  frames: number;
  bins: number;
  items: Item[];
  skipped: { path: string; reason: string }[];
  fromCache: boolean;
}

const CACHE_VERSION = 1;

async function cacheKey(items: readonly Item[], p: Preprocessing): Promise<string> {
  const hash = createHash('sha1').update(JSON.stringify({ v: CACHE_VERSION, p }));
  for (const item of items) {
    const s = await stat(item.path).catch(() => undefined);
    hash.update(`${item.path}\0${item.label}\0${s?.size ?? -1}\0${s?.mtimeMs ?? -1}\n`);
  }
  return hash.digest('hex').slice(0, 20);
}

/** Spectrograms of `items`, from the cache when it holds them; bad files are skipped and reported. */
export async function spectrograms(
  items: readonly Item[],
  p: Preprocessing,
  options: { cacheDir?: string; batch?: number; onProgress?: (done: number, total: number) => void; onWarning?: (message: string) => void } = {},
): Promise<SpectrogramSet> {
  const [frames, bins] = spectrogramShape(p.clipSamples, p.spectrogram);
  const size = frames * bins;
  const warn = options.onWarning ?? ((message: string) => console.error(`tokenwave: ${message}`));
  const key = options.cacheDir ? await cacheKey(items, p) : undefined;
  const file = key ? join(options.cacheDir!, `${key}.bin`) : undefined;
  if (file && existsSync(file) && existsSync(`${file}.json`)) {
    const cached = await readCache(file, items, size);
    if (cached) return { ...cached, frames, bins, fromCache: true };
    warn(`the cached spectrograms in ${file} are damaged: computing them again`);
  }
  const batch = options.batch ?? 64;
  const keptIndex: number[] = [];
  const skipped: SpectrogramSet['skipped'] = [];
  const chunks: Float32Array[] = [];
  for (let start = 0; start < items.length; start += batch) {
    const clips: Float32Array[] = [];
    for (let i = start; i < Math.min(items.length, start + batch); i++) {
      try {
        clips.push(prepareClip(await readWav(items[i]!.path), p.spectrogram.sampleRate, p.clipSamples));
        keptIndex.push(i);
      } catch (err) {
        if (!(err instanceof WavError)) throw err;
        skipped.push({ path: items[i]!.path, reason: err.reason });
      }
    }
    if (clips.length > 0) {
      const data = new Float32Array(clips.length * p.clipSamples);
      clips.forEach((c, i) => data.set(c, i * p.clipSamples));
      await inBatchesThatFit(clips.length, clips.length, async (first, n) => {
        const out = tidy(() => spectrogram(Tensor.from(data.subarray(first * p.clipSamples, (first + n) * p.clipSamples), [n, p.clipSamples]), p.spectrogram));
        try {
          chunks.push(await out.data());
        } finally {
          out.dispose();
        }
      });
    }
    options.onProgress?.(Math.min(items.length, start + batch), items.length);
  }
  const values = new Float32Array(keptIndex.length * size);
  let offset = 0;
  for (const c of chunks) {
    values.set(c, offset);
    offset += c.length;
  }
  if (file) {
    // The cache only saves time: a full disk or an unwritable folder costs a warning, not the run.
    try {
      await mkdir(options.cacheDir!, { recursive: true }).catch((err: unknown) => {
        throw fileError(options.cacheDir!, err);
      });
      await writeFileAtomic(file, new Uint8Array(values.buffer));
      await writeFileAtomic(`${file}.json`, JSON.stringify({ kept: keptIndex, skipped }));
    } catch (err) {
      warn(`could not cache the spectrograms (${(err as Error).message}); going on without the cache`);
    }
  }
  const kept = keptIndex.map((i) => items[i]!);
  return { values, labels: Int32Array.from(kept, (i) => i.label), frames, bins, items: kept, skipped, fromCache: false };
}

async function readCache(file: string, items: readonly Item[], size: number): Promise<Pick<SpectrogramSet, 'values' | 'labels' | 'items' | 'skipped'> | undefined> {
  try {
    const meta = JSON.parse(await readFile(`${file}.json`, 'utf8')) as { kept: number[]; skipped: SpectrogramSet['skipped'] };
    const bytes = await readFile(file);
    if (!Array.isArray(meta.kept) || bytes.byteLength !== meta.kept.length * size * 4 || meta.kept.some((i) => !items[i])) return undefined;
    const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
    const kept = meta.kept.map((i) => items[i]!);
    return { values, labels: Int32Array.from(kept, (i) => i.label), items: kept, skipped: meta.skipped ?? [] };
  } catch {
    return undefined;
  }
}

/** A seeded permutation of 0..n-1 for one epoch. */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  const r = seededRandom((seed * 1_000_003 + epoch * 7919) >>> 0);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Copies the spectrograms at `indices` into one batch tensor [B, frames, bins] and its labels. */
export function batchOf(set: SpectrogramSet, indices: readonly number[]): { x: Tensor; y: Tensor } {
  const size = set.frames * set.bins;
  const data = new Float32Array(indices.length * size);
  indices.forEach((idx, i) => data.set(set.values.subarray(idx * size, (idx + 1) * size), i * size));
  return {
    x: Tensor.from(data, [indices.length, set.frames, set.bins]),
    y: Tensor.from(Int32Array.from(indices, (i) => set.labels[i]!), [indices.length], 'i32'),
  };
}

/**
 * The clips of a set's items at the model's rate and length, as 16-bit samples (half the memory of float32; the
 * sources are 16-bit): for augmentation that works on the audio, such as background-noise mixing.
 */
export async function loadClips(set: SpectrogramSet, p: Preprocessing): Promise<Int16Array> {
  const out = new Int16Array(set.items.length * p.clipSamples);
  for (let i = 0; i < set.items.length; i++) {
    const clip = prepareClip(await readWav(set.items[i]!.path), p.spectrogram.sampleRate, p.clipSamples);
    for (let j = 0; j < clip.length; j++) out[i * p.clipSamples + j] = Math.round(Math.max(-1, Math.min(1, clip[j]!)) * 32767);
  }
  return out;
}

/** Float copies of the clips at `indices` of a loadClips array. */
export function clipsAt(clips: Int16Array, clipSamples: number, indices: readonly number[]): Float32Array[] {
  return indices.map((idx) => Float32Array.from(clips.subarray(idx * clipSamples, (idx + 1) * clipSamples), (v) => v / 32767));
}
