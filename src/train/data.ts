// From a data folder to spectrogram sets for training and evaluation.
import { join } from 'node:path';
import { loadDataset, split, type Dataset, type Item, type SplitPolicy, type Splits } from '../data/datasets.js';
import { spectrograms, type Preprocessing, type SpectrogramSet } from '../data/pipeline.js';

const DEFAULT_CACHE = process.env.TOKENWAVE_CACHE ?? join('.cache', 'tokenwave', 'spectrograms');

export interface DataOptions {
  condensed?: boolean;
  esc10?: boolean;
  split: SplitPolicy;
  /** Keep at most this many clips per class (the first, in file order): quick runs. */
  limitPerClass?: number;
  seed?: number;
  testFold?: number;
  cacheDir?: string;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface PreparedData {
  dataset: Dataset;
  policy: string;
  train: SpectrogramSet;
  validation: SpectrogramSet;
  test: SpectrogramSet;
  skipped: { path: string; reason: string }[];
}

function limit(items: Item[], perClass: number | undefined): Item[] {
  if (!perClass) return items;
  const counts = new Map<number, number>();
  return items.filter((item) => {
    const c = counts.get(item.label) ?? 0;
    counts.set(item.label, c + 1);
    return c < perClass;
  });
}

/** A data set's files, split into training, validation and test. */
export interface SplitData {
  dataset: Dataset;
  parts: Splits;
}

/** The data set's files, split into training, validation and test, before any audio is read. */
export async function splitData(root: string, o: Omit<DataOptions, 'cacheDir' | 'onProgress'>): Promise<SplitData> {
  const dataset = await loadDataset(root, { condensed: o.condensed, esc10: o.esc10 });
  dataset.items = limit(dataset.items, o.limitPerClass);
  return { dataset, parts: split(dataset, o.split, { seed: o.seed ?? 0, testFold: o.testFold }) };
}

/** The spectrograms of a split data set's three parts (read from the cache where they are in it). */
export async function spectrogramSets({ dataset, parts }: SplitData, p: Preprocessing, o: Pick<DataOptions, 'cacheDir' | 'onProgress'> = {}): Promise<PreparedData> {
  const cacheDir = o.cacheDir ?? DEFAULT_CACHE;
  const sets = {} as Record<'train' | 'validation' | 'test', SpectrogramSet>;
  for (const subset of ['train', 'validation', 'test'] as const) {
    sets[subset] = await spectrograms(parts[subset], p, { cacheDir, onProgress: (d, t) => o.onProgress?.(`spectrograms (${subset})`, d, t) });
  }
  return { dataset, policy: parts.policy, ...sets, skipped: [...sets.train.skipped, ...sets.validation.skipped, ...sets.test.skipped] };
}

/** A data folder's three spectrogram sets: splitData, then spectrogramSets. */
export async function prepareData(root: string, p: Preprocessing, o: DataOptions): Promise<PreparedData> {
  return spectrogramSets(await splitData(root, o), p, o);
}

/** Every clip of a data folder as one evaluation set (a held-out set: other speakers, another seed). */
export async function prepareTestSet(root: string, p: Preprocessing, o: Pick<DataOptions, 'cacheDir' | 'onProgress'> = {}): Promise<{ dataset: Dataset; test: SpectrogramSet }> {
  const dataset = await loadDataset(root, {});
  const test = await spectrograms(dataset.items, p, { cacheDir: o.cacheDir ?? DEFAULT_CACHE, onProgress: (d, t) => o.onProgress?.('spectrograms (held-out test)', d, t) });
  return { dataset, test };
}
