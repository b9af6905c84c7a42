// One training step and one inference pass of a model, as the trainer, the FLOP accounting, the profiler and the
// benchmarks all run them.
import type { AudioModel } from '../models/model.js';
import { backward } from '../ops/autograd.js';
import { checkClassLabels, crossEntropy, topKAccuracy } from '../ops/softmax.js';
import type { AdamW } from '../optim/adamw.js';
import { noGrad, tidy } from '../tensor/engine.js';
import { StepPlans } from '../tensor/plan.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Forward in training mode, mean cross-entropy, backward, AdamW: returns the loss (and, for the trainer's logs,
 * the batch's top-1 accuracy when asked for).
 */
export function trainingStep(model: AudioModel, optimizer: AdamW, spectrograms: Tensor, labels: Tensor): Tensor;
export function trainingStep(model: AudioModel, optimizer: AdamW, spectrograms: Tensor, labels: Tensor, withAccuracy: true): { loss: Tensor; accuracy: Tensor };
export function trainingStep(model: AudioModel, optimizer: AdamW, spectrograms: Tensor, labels: Tensor, withAccuracy = false): Tensor | { loss: Tensor; accuracy: Tensor } {
  return tidy(() => {
    const logits = model.forward(spectrograms, { training: true });
    const loss = crossEntropy(logits, labels);
    const accuracy = withAccuracy ? topKAccuracy(logits, labels, 1) : undefined;
    backward(loss);
    optimizer.update();
    return accuracy ? { loss, accuracy } : loss;
  });
}

/** Inference: logits [B, classes] with no gradient bookkeeping. */
export function inferenceStep(model: AudioModel, spectrograms: Tensor): Tensor {
  return noGrad(() => tidy(() => model.forward(spectrograms, { training: false })));
}

/**
 * inferenceStep planned per batch shape, as PlannedTrainingStep: the first batch of a shape records, later ones
 * replay. Each plan keeps its working set (the pass's intermediates at that shape) until dispose(), which must
 * come before the model's; under a memory budget the plans give it back (tensor/plan.ts).
 */
export class PlannedInference {
  private readonly plans: StepPlans;

  constructor(readonly model: AudioModel) {
    this.plans = new StepPlans(([x]) => [inferenceStep(model, x!)]);
  }

  /** Logits [clips, classes] of `spectrograms`; the caller's to dispose. */
  logits(spectrograms: Tensor): Tensor {
    return this.plans.run([spectrograms])[0]!;
  }

  /** Why passes over batches of this shape run unplanned, if they do. */
  unplanned(spectrograms: Tensor): string | undefined {
    return this.plans.unplanned([spectrograms]);
  }

  dispose(): void {
    this.plans.dispose();
  }
}

/** What a planned step returns: the loss, and the top-1 accuracy where asked for. */
export type PlannedStepResult<WithAccuracy extends boolean> = WithAccuracy extends true ? { loss: Tensor; accuracy: Tensor } : { loss: Tensor };

/**
 * trainingStep planned per batch shape (tensor/plan.ts): the first batch of a shape runs and records the step,
 * later ones replay it, with the same results bit for bit and a fraction of the JavaScript. The model and the
 * optimizer must outlive it; dispose() it first.
 */
export class PlannedTrainingStep<WithAccuracy extends boolean = false> {
  private readonly plans: StepPlans;

  constructor(readonly model: AudioModel, readonly optimizer: AdamW, withAccuracy?: WithAccuracy) {
    this.plans = new StepPlans(([x, y]) => {
      if (!withAccuracy) return [trainingStep(model, optimizer, x!, y!)];
      const { loss, accuracy } = trainingStep(model, optimizer, x!, y!, true);
      return [loss, accuracy];
    });
  }

  /** One step: the loss, and the batch's top-1 accuracy when constructed with `withAccuracy`. */
  step(spectrograms: Tensor, labels: Tensor): PlannedStepResult<WithAccuracy> {
    checkClassLabels(labels, spectrograms.shape[0] ?? 0, this.model.config.classes);
    const [loss, accuracy] = this.plans.run([spectrograms, labels]);
    return { loss: loss!, ...(accuracy ? { accuracy } : {}) } as PlannedStepResult<WithAccuracy>;
  }

  /** Why steps of these shapes run unplanned, if they do. */
  unplanned(spectrograms: Tensor, labels: Tensor): string | undefined {
    return this.plans.unplanned([spectrograms, labels]);
  }

  dispose(): void {
    this.plans.dispose();
  }
}
