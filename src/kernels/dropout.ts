// Inverted dropout whose mask comes from a counter-based hash of (seed, index): reproducible, never stored.
import { Tensor } from '../tensor/tensor.js';
import { launch, read, write } from './launch.js';

/** `mask.seed` is read at every dispatch (and at every replay of a recorded step). */
export function dropoutKernel(x: Tensor, rate: number, mask: { readonly seed: number }, op = 'dropout'): Tensor {
  const y = Tensor.empty(x.shape);
  launch({
    kernel: {
      name: 'dropout',
      file: 'dropout.wgsl',
      bindings: [read('x'), write('y')],
      uniforms: { seed: 'u32', threshold: 'u32', scale: 'f32' },
    },
    op,
    uniforms: { threshold: Math.min(0xffffffff, Math.round(rate * 2 ** 32)), scale: 1 / (1 - rate) },
    replayUniforms: () => ({ seed: mask.seed }),
    tensors: { x, y },
    invocations: x.size,
    counts: { cmp: x.size, mul: x.size },
  });
  return y;
}
