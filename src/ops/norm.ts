// Differentiable normalisation layers: LayerNorm (fused kernels) and BatchNorm (composed from reductions and
// broadcasting ops, with running statistics for inference).
import { layerNormBackward, layerNormForward } from '../kernels/layernorm.js';
import { noGrad } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { record } from './autograd.js';
import { add, addScalar, mul, mulScalar, rsqrt, square, sub } from './elementwise.js';
import { mean } from './reduce.js';

export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-6): Tensor {
  const { y, stats } = layerNormForward(x, gamma, beta, eps);
  return record(y, 'layernorm', [x, gamma, beta], (dy) => {
    const { dx, dgamma, dbeta } = layerNormBackward(x, gamma, stats, dy);
    return [dx, dgamma, dbeta];
  });
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
 * BatchNorm over every axis but the last (channels-last). In training it normalises with the batch statistics
 * (biased variance) and moves the running averages: running = momentum * running + (1 - momentum) * batch.
 */
export function batchNorm(x: Tensor, s: BatchNormState, training: boolean): Tensor {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  if (!training) {
    const scale = mul(rsqrt(addScalar(s.runningVar, s.eps)), s.gamma);
    return add(mul(sub(x, s.runningMean), scale), s.beta);
  }
  const mu = mean(x, axes);
  const centered = sub(x, mu);
  const variance = mean(square(centered), axes);
  const y = add(mul(mul(centered, rsqrt(addScalar(variance, s.eps))), s.gamma), s.beta);
  noGrad(() => {
    const m = s.momentum;
    const newMean = add(mulScalar(s.runningMean, m), mulScalar(mu, 1 - m)).keep();
    const newVar = add(mulScalar(s.runningVar, m), mulScalar(variance, 1 - m)).keep();
    s.runningMean.dispose();
    s.runningVar.dispose();
    s.runningMean = newMean;
    s.runningVar = newVar;
  });
  return y;
}
