// Differentiable normalisation layers: LayerNorm and BatchNorm (with running statistics for inference), each a
// few fused kernels.
import { layerNormBackward, layerNormForward } from '../kernels/layernorm.js';
import { batchNormApply, batchNormBackward, batchStats, runningStats, type NormActivation } from '../kernels/batchnorm.js';
import { engine } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { record, takeGradientPlace } from './autograd.js';

/** `computed`: y and its rows' (mean, rstd) where a fused kernel already normalised x (ops.layerNormThen). */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-6, computed?: { y: Tensor; stats: Tensor }): Tensor {
  const { y, stats } = computed ?? layerNormForward(x, gamma, beta, eps);
  // x's gradient from a residual branch, where it came first, is added in the input-gradient kernel
  return record(
    y,
    'layernorm',
    [x, gamma, beta],
    (dy, [prior], offers) => {
      const into = { dgamma: takeGradientPlace(offers, 1), dbeta: takeGradientPlace(offers, 2) };
      const { dx, dgamma, dbeta } = layerNormBackward(x, gamma, stats, dy, prior, into);
      return [dx, dgamma, dbeta];
    },
    [true, false, false],
  );
}

export interface BatchNormState {
  gamma: Tensor;
  beta: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
  momentum: number;
  eps: number;
}

/**
 * BatchNorm over every axis but the last (channels-last), with an optional ReLU6 fused after it. In training it
 * normalises with the batch statistics (biased variance) and moves the running averages in place:
 * running = momentum * running + (1 - momentum) * batch, with the unbiased batch variance (as TensorFlow's fused
 * BatchNorm and PyTorch). In inference it normalises with the running averages.
 */
export function batchNorm(x: Tensor, s: BatchNormState, training: boolean, activation: NormActivation = 'none'): Tensor {
  const stats = training ? batchStats(x, s.runningMean, s.runningVar, s.eps, s.momentum) : runningStats(s.runningMean, s.runningVar, s.eps);
  const y = batchNormApply(x, stats, s.gamma, s.beta, activation);
  const out = record(y, activation === 'relu6' ? 'batchnorm+relu6' : 'batchnorm', [x, s.gamma, s.beta], (dy, _prior, offers) => {
    const into = { dgamma: takeGradientPlace(offers, 1), dbeta: takeGradientPlace(offers, 2) };
    const { dx, dgamma, dbeta } = batchNormBackward(x, dy, stats, s.gamma, s.beta, activation, training, into);
    return [dx, dgamma, dbeta];
  });
  if (!out.node) stats.dispose();
  return out;
}

/**
 * x, to be layer-normalised by the op that reads it: a dense product takes the LayerNorm into its own kernel
 * (ops.layerNormThen); any other op normalises it first (normalizedTensor), under the module path the LayerNorm
 * layer recorded it at.
 */
export interface PendingLayerNorm {
  x: Tensor;
  gamma: Tensor;
  beta: Tensor;
  eps: number;
  path: string;
}

export function normalizedTensor(p: PendingLayerNorm, computed?: { y: Tensor; stats: Tensor }): Tensor {
  return engine().atPath(p.path, () => layerNorm(p.x, p.gamma, p.beta, p.eps, computed));
}
