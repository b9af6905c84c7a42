// The fused AdamW update of one parameter tensor (in place on the parameter and its moments):
// p = p - lr * (m c1) / (sqrt(v c2) + eps) - decay * p, which gives Keras' form (c1 = c2 = 1, the corrections in lr)
// or PyTorch's (c1, c2 the bias corrections) from the same kernel.
import type { Tensor } from '../tensor/tensor.js';
import { launch, read, write } from './launch.js';

export interface AdamWConstants {
  beta1: number;
  beta2: number;
  eps: number;
}

/** What changes from step to step. */
export interface AdamWSchedule {
  lr: number;
  /** Decoupled weight decay applied this step (p -= decay * p). */
  decay: number;
  /** Factors applied to m and v before the update: the bias corrections (or 1, where the learning rate holds them). */
  c1: number;
  c2: number;
}

/** `schedule` is read at the dispatch and again at every replay of a recorded step. */
export function adamwKernel(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, k: AdamWConstants, schedule: () => AdamWSchedule): void {
  const n = param.size;
  launch({
    kernel: {
      name: 'adamw',
      file: 'adamw.wgsl',
      bindings: [read('grad'), write('param'), write('m'), write('v')],
      uniforms: { lr: 'f32', beta1: 'f32', beta2: 'f32', one_minus_beta1: 'f32', one_minus_beta2: 'f32', eps: 'f32', decay: 'f32', c1: 'f32', c2: 'f32' },
    },
    op: 'adamw',
    uniforms: { beta1: k.beta1, beta2: k.beta2, one_minus_beta1: 1 - k.beta1, one_minus_beta2: 1 - k.beta2, eps: k.eps },
    replayUniforms: () => {
      const s = schedule();
      return { lr: s.lr, decay: s.decay, c1: s.c1, c2: s.c2 };
    },
    tensors: { grad, param, m, v },
    invocations: n,
    // per element: (1-b1) g, g g, (1-b2) g^2, m c1, v c2, lr u, decay p: 7 mul; 2 fma; 3 add/sub; 1 sqrt; 1 div
    counts: { mul: 7 * n, fma: 2 * n, add: 3 * n, sqrt: n, div: n },
    bytesRead: 4 * n * 4,
  });
}
