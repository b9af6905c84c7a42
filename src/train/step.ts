// One training step and one inference pass of a model, as the trainer, the FLOP accounting, the profiler and the
// benchmarks all run them.
import type { AudioTransformer } from '../models/audio-transformer.js';
import { backward } from '../ops/autograd.js';
import { crossEntropy, topKAccuracy } from '../ops/softmax.js';
import type { AdamW } from '../optim/adamw.js';
import { noGrad, tidy } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Forward in training mode, mean cross-entropy, backward, AdamW: returns the loss (and, for the trainer's logs,
 * the batch's top-1 accuracy when asked for).
 */
export function trainingStep(model: AudioTransformer, optimizer: AdamW, spectrograms: Tensor, labels: Tensor): Tensor;
export function trainingStep(model: AudioTransformer, optimizer: AdamW, spectrograms: Tensor, labels: Tensor, withAccuracy: true): { loss: Tensor; accuracy: Tensor };
export function trainingStep(model: AudioTransformer, optimizer: AdamW, spectrograms: Tensor, labels: Tensor, withAccuracy = false): Tensor | { loss: Tensor; accuracy: Tensor } {
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
export function inferenceStep(model: AudioTransformer, spectrograms: Tensor): Tensor {
  return noGrad(() => tidy(() => model.forward(spectrograms, { training: false })));
}
