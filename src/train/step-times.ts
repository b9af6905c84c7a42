// Training-step times measured on this machine (by `tokenwave train`, the demo and `sweep --dry-run --estimate
// measure`), cached per adapter in ~/.cache/tokenwave/step-times.json, so that a dry run can estimate a sweep's
// time without training anything; and the timers of a training step and an inference batch that the dry run and
// the demo's budget use, and the random batches they (and the profiler) run on.
import type { AudioModel } from '../models/model.js';
import { inputShape, type ModelConfig } from '../models/config.js';
import { AdamW } from '../optim/adamw.js';
import { adapterKey } from '../tensor/engine.js';
import { platform } from '../runtime/platform.js';
import { Tensor } from '../tensor/tensor.js';
import { seededRandom } from '../util/random.js';
import { medianMsAfterWarmUp } from '../util/timing.js';
import { inferenceStep, trainingStep } from './step.js';

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
  const notComputed = ['normalization', 'classNames', 'seed', 'batchNormMomentum'];
  return JSON.stringify(Object.fromEntries(Object.entries(config).filter(([key]) => !notComputed.includes(key))));
}

const entryKey = (config: ModelConfig, batch: number) => `${adapterKey()} | ${identity(config)} | batch ${batch}`;

/** Caches a measured step time (a non-positive time or FLOP count is not cached) and returns the entry. */
export async function recordStepTime(config: ModelConfig, batch: number, msPerStep: number, forwardFlops: number, source: string): Promise<StepTime> {
  const entry: StepTime = { adapter: adapterKey(), model: config.name, batch, msPerStep, forwardFlops, source, measuredAt: new Date().toISOString() };
  if (msPerStep > 0 && forwardFlops > 0) await platform.updateCache(CACHE, { [entryKey(config, batch)]: entry }, 'the step time');
  return entry;
}

export interface CachedStepTimes {
  /** The entry for exactly this model and batch, if one was measured. */
  exact(config: ModelConfig, batch: number): StepTime | undefined;
  /** Every entry of the current adapter. */
  all: StepTime[];
}

export async function cachedStepTimes(): Promise<CachedStepTimes> {
  const cache = await platform.readCache<StepTime>(CACHE);
  const adapter = adapterKey();
  return {
    exact: (config, batch) => cache[entryKey(config, batch)],
    all: Object.values(cache).filter((e) => e.adapter === adapter && e.msPerStep > 0 && e.forwardFlops > 0),
  };
}

/** Labels for a timed batch: cycling through the classes. */
export function cyclingLabels(config: ModelConfig, batch: number): Tensor {
  return Tensor.from(Int32Array.from({ length: batch }, (_, i) => i % config.classes), [batch], 'i32').keep();
}

/** A batch of random spectrograms (values like normalized ones) and cycling labels, kept: what timings run on. */
export function randomBatch(config: ModelConfig, batch: number): { x: Tensor; y: Tensor } {
  const shape = inputShape(config, batch);
  const random = seededRandom(1);
  const x = Tensor.from(Float32Array.from({ length: shape[0] * shape[1] * shape[2] }, () => 2 * random()), shape).keep();
  return { x, y: cyclingLabels(config, batch) };
}

/**
 * Times a training step of `model` at `batch` on random spectrograms (a learning rate that barely moves it): the
 * median of `repeats` steps (a CPU adapter's step time wanders by 20% from one step to the next).
 */
export async function timeTrainingStep(model: AudioModel, batch: number, repeats = 1): Promise<number> {
  const optimizer = new AdamW(model.parameters(), { lr: 1e-5 });
  const { x, y } = randomBatch(model.config, batch);
  try {
    return await medianMsAfterWarmUp(async () => {
      const loss = trainingStep(model, optimizer, x, y);
      await loss.data();
      loss.dispose();
    }, repeats);
  } finally {
    x.dispose();
    y.dispose();
    optimizer.dispose();
  }
}

/** Milliseconds per clip of inference on a batch of `batch` random spectrograms. */
export async function timeInference(model: AudioModel, batch: number): Promise<number> {
  const { x, y } = randomBatch(model.config, batch);
  try {
    const ms = await medianMsAfterWarmUp(async () => {
      const logits = inferenceStep(model, x);
      await logits.data();
      logits.dispose();
    }, 1);
    return ms / batch;
  } finally {
    x.dispose();
    y.dispose();
  }
}
