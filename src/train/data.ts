// From a data folder to spectrogram sets for training and evaluation.
import { join } from 'node:path';
import { loadDataset, split, type Dataset, type Item, type SplitPolicy } from '../data/datasets.js';
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

export async function prepareData(root: string, p: Preprocessing, o: DataOptions): Promise<PreparedData> {
  const dataset = await loadDataset(root, { condensed: o.condensed, esc10: o.esc10 });
  dataset.items = limit(dataset.items, o.limitPerClass);
  const parts = split(dataset, o.split, { seed: o.seed ?? 0, testFold: o.testFold });
  const cacheDir = o.cacheDir ?? DEFAULT_CACHE;
  const sets = {} as Record<'train' | 'validation' | 'test', SpectrogramSet>;
  for (const subset of ['train', 'validation', 'test'] as const) {
    sets[subset] = await spectrograms(parts[subset], p, { cacheDir, onProgress: (d, t) => o.onProgress?.(`spectrograms (${subset})`, d, t) });
  }
  return { dataset, policy: parts.policy, ...sets, skipped: [...sets.train.skipped, ...sets.validation.skipped, ...sets.test.skipped] };
}
