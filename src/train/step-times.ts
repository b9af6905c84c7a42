// Training-step times measured on this machine (by `tokenwave train`, the demo and `sweep --dry-run --estimate
// measure`), cached per adapter in ~/.cache/tokenwave/step-times.json, so that a dry run can estimate a sweep's
// time without training anything.
import type { ModelConfig } from '../models/config.js';
import { adapterKey } from '../tensor/engine.js';
import { readCache, updateCache } from '../util/cache.js';

export interface StepTime {
  adapter: string;
  model: string;
  batch: number;
  msPerStep: number;
  /** Exact forward FLOPs per clip of the model: what another model's estimate is scaled by. */
  forwardFlops: number;
  /** Who measured it: 'train' (a training run, the demo's too) or 'a dry run' (--estimate measure). */
  source: string;
  measuredAt: string;
}

const CACHE = 'step-times.json';

/** The settings that change what a step computes (not the data's statistics, class names or seed). */
function identity(config: ModelConfig): string {
  const { normalization: _n, classNames: _c, seed: _s, batchNormMomentum: _m, ...compute } = config;
  return JSON.stringify(compute);
}

const entryKey = (config: ModelConfig, batch: number) => `${adapterKey()} | ${identity(config)} | batch ${batch}`;

/** Caches a measured step time (a non-positive time or FLOP count is not cached) and returns the entry. */
export async function recordStepTime(config: ModelConfig, batch: number, msPerStep: number, forwardFlops: number, source: string): Promise<StepTime> {
  const entry: StepTime = { adapter: adapterKey(), model: config.name, batch, msPerStep, forwardFlops, source, measuredAt: new Date().toISOString() };
  if (msPerStep > 0 && forwardFlops > 0) await updateCache(CACHE, entryKey(config, batch), entry, 'the step time');
  return entry;
}

export interface CachedStepTimes {
  /** The entry for exactly this model and batch, if one was measured. */
  exact(config: ModelConfig, batch: number): StepTime | undefined;
  /** Every entry of the current adapter. */
  all: StepTime[];
}

export async function cachedStepTimes(): Promise<CachedStepTimes> {
  const cache = await readCache<StepTime>(CACHE);
  const adapter = adapterKey();
  return {
    exact: (config, batch) => cache[entryKey(config, batch)],
    all: Object.values(cache).filter((e) => e.adapter === adapter && e.msPerStep > 0 && e.forwardFlops > 0),
  };
}
