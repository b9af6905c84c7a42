// Differentiable softmax, cross-entropy with integer labels, and (non-differentiable) top-k accuracy.
import { checkLabels, crossEntropyBackward, crossEntropyForward, meanCrossEntropyForward, softmaxBackward, softmaxForward, topKHits } from '../kernels/softmax.js';
import { reduceAxis } from '../kernels/reduce.js';
import type { Tensor } from '../tensor/tensor.js';
import { record } from './autograd.js';

/** Softmax over the last axis. */
export function softmax(x: Tensor): Tensor {
  const y = softmaxForward(x);
  return record(y, 'softmax', [x], (dy) => [softmaxBackward(y, dy)]);
}

/** Cross-entropy of each row of logits [..., classes] against int32 labels [...] (no reduction). */
export function crossEntropyPerRow(logits: Tensor, labels: Tensor): Tensor {
  const { loss, lse } = crossEntropyForward(logits, labels);
  return record(loss, 'cross-entropy', [logits], (dloss) => [crossEntropyBackward(logits, labels, lse, dloss)]);
}

/** Mean cross-entropy over the batch (a scalar): fused log-softmax + negative log-likelihood + mean, one dispatch
 * forward and one backward. */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  const { loss, lse } = meanCrossEntropyForward(logits, labels);
  return record(loss, 'cross-entropy', [logits], (dloss) => [crossEntropyBackward(logits, labels, lse, dloss, true)]);
}

/** Fraction of rows whose label is among the k highest logits, as a scalar tensor. */
export function topKAccuracy(logits: Tensor, labels: Tensor, k = 1): Tensor {
  const hits = topKHits(logits, labels, k);
  const acc = reduceAxis('mean', hits, 0);
  hits.dispose();
  return acc;
}

/** Throws unless `labels` are `rows` int32 labels, each naming one of `classes` (as crossEntropy checks them). */
export function checkClassLabels(labels: Tensor, rows: number, classes: number): void {
  checkLabels(labels, rows, classes, [rows, classes]);
}
