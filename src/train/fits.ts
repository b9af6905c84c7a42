// Whether a batch fits the adapter, asked before any work starts: one training step (or inference pass) of the
// model is encoded, not run, on a throwaway copy; a tensor larger than the adapter allows stops it with a
// GpuMemoryError. Where it does not fit, the largest batch that does is found the same way (a binary search of
// encodings, a fraction of a second each), so the message can name it.
import type { AudioModel } from '../models/model.js';
import { buildModel } from '../models/registry.js';
import { inputShape, type ModelConfig } from '../models/config.js';
import { AdamW } from '../optim/adamw.js';
import { GpuMemoryError } from '../runtime/pool.js';
import { engine } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { TokenwaveError } from '../util/errors.js';
import { inferenceStep, trainingStep } from './step.js';

export class BatchTooLargeError extends TokenwaveError {
  override name = 'BatchTooLargeError';
}

export type StepKind = 'training' | 'inference';

/**
 * One step (training or inference) of a throwaway model of `config` at `batch`, handed to `wrap` to encode: without
 * running (a batch's fit), or to collect the kernels' tuning keys.
 */
export async function onThrowawayStep<T>(config: ModelConfig, batch: number, kind: StepKind, wrap: (step: () => void) => Promise<T>): Promise<T> {
  const model = buildModel(config);
  const optimizer = kind === 'training' ? new AdamW(model.parameters(), { lr: 0 }) : undefined;
  const made: Tensor[] = [];
  try {
    return await wrap(() => {
      const x = Tensor.zeros(inputShape(config, batch));
      made.push(x);
      // a planned step keeps copies of its inputs (StepPlans' slots) beside the batch handed to it, which counts
      // against a memory budget (not against the adapter's per-buffer limits)
      const budgeted = engine().runtime.pool.budgetBytes !== undefined;
      if (budgeted) made.push(Tensor.empty(inputShape(config, batch)));
      if (optimizer) {
        const y = Tensor.from(new Int32Array(batch), [batch], 'i32');
        made.push(y);
        if (budgeted) made.push(Tensor.empty([batch], 'i32'));
        trainingStep(model, optimizer, x, y).dispose();
      } else {
        inferenceStep(model, x).dispose();
      }
    });
  } finally {
    for (const t of made) t.dispose();
    optimizer?.dispose();
    model.dispose();
  }
}

/** The GpuMemoryError that encoding a step at `batch` meets, or undefined where it fits. */
async function limitMet(config: ModelConfig, batch: number, kind: StepKind): Promise<GpuMemoryError | undefined> {
  try {
    await onThrowawayStep(config, batch, kind, (step) => engine().runtime.withoutRunning(step));
    return undefined;
  } catch (err) {
    if (err instanceof GpuMemoryError) return err;
    throw err;
  }
}

/**
 * Refuses, in one line naming the fix, a batch whose step needs a buffer larger than this adapter allows.
 * `flag` is the option that sets the batch (--batch-size, --batch).
 */
export async function checkBatchFits(config: ModelConfig, batch: number, kind: StepKind, flag: string): Promise<void> {
  const first = await limitMet(config, batch, kind);
  if (!first) return;
  let [fits, fails] = [0, batch];
  while (fails - fits > 1) {
    const middle = Math.floor((fits + fails) / 2);
    if (await limitMet(config, middle, kind)) fails = middle;
    else fits = middle;
  }
  const advice = fits > 0 ? `the largest batch that fits is ${fits}: use ${flag} ${fits} or less` : 'not even a batch of 1 fits: choose a smaller model';
  throw new BatchTooLargeError(`${config.name} at batch ${batch}: a ${kind} step needs ${first.need}; ${advice}`);
}
