// Folding a BatchNorm with fixed (running) statistics into the convolution that feeds it, for inference: the
// normalisation then costs nothing per pixel.
import { Tensor } from '../tensor/tensor.js';
import { launch, read, write } from './launch.js';

export interface FoldedNorm {
  gamma: Tensor;
  beta: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
  eps: number;
}

/** Weights w [..., C] and bias b [C] (optional) of a convolution followed by the BatchNorm `n`: w', b'. */
export function foldBatchNorm(w: Tensor, b: Tensor | undefined, n: FoldedNorm): { w: Tensor; b: Tensor } {
  const C = n.gamma.size;
  const wOut = Tensor.empty(w.shape);
  const bOut = Tensor.empty([C]);
  const inputs: Record<string, Tensor> = { w, gamma: n.gamma, beta: n.beta, running_mean: n.runningMean, running_var: n.runningVar, ...(b ? { b } : {}) };
  launch({
    kernel: {
      name: 'batchnorm-fold',
      file: 'bn_fold.wgsl',
      constants: { HAS_BIAS: b !== undefined },
      bindings: [read('w'), ...(b ? [read('b')] : []), read('gamma'), read('beta'), read('running_mean'), read('running_var'), write('w_out'), write('b_out')],
      uniforms: { C: 'u32', weights: 'u32', eps: 'f32' },
    },
    op: 'batchnorm-fold',
    uniforms: { C, weights: w.size, eps: n.eps },
    tensors: { ...inputs, w_out: wOut, b_out: bOut },
    invocations: Math.max(w.size, C),
    // per invocation a scale (add, rsqrt, mul); per weight a multiply; per channel the bias ((b - mean) or -mean, fma)
    counts: { add: Math.max(w.size, C) + (b ? C : 0), rsqrt: Math.max(w.size, C), mul: Math.max(w.size, C) + w.size + (b ? 0 : C), fma: C },
  });
  return { w: wOut, b: bOut };
}
