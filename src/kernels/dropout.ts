// Inverted dropout whose mask comes from a counter-based hash of (seed, index): reproducible, never stored.
import type { OpCounts } from '../tensor/counts.js';
import { Tensor } from '../tensor/tensor.js';
import { launch, read, write } from './launch.js';

/** The hash value below which dropout_mask.wgsl drops an element: rate x 2^32. */
export function dropoutThreshold(rate: number): number {
  return Math.min(0xffffffff, Math.round(rate * 2 ** 32));
}

/** What a kernel that drops needs: the rate, and the mask's seed (read at every dispatch and replay). */
export interface DropoutMask {
  rate: number;
  mask: { readonly seed: number };
}

/** The uniforms dropout_mask.wgsl reads, declared by every kernel that includes it. */
export const DROPOUT_UNIFORMS = { seed: 'u32', threshold: 'u32', keep_scale: 'f32' } as const;

/** The uniforms of dropout_mask.wgsl for `drop`: fixed ones, and the seed that changes at every step and replay. */
export function dropoutUniforms(drop: DropoutMask) {
  return { fixed: { threshold: dropoutThreshold(drop.rate), keep_scale: 1 / (1 - drop.rate) }, changing: () => ({ seed: drop.mask.seed }) };
}

/** What dropping `values` values costs, wherever it runs: a compare (the hash against the threshold) and a multiply each. */
export function dropoutCounts(values: number): Partial<OpCounts> {
  return { cmp: values, mul: values };
}

/** Inverted dropout of x with `drop`'s rate and mask. */
export function dropoutKernel(x: Tensor, drop: DropoutMask, op = 'dropout'): Tensor {
  const y = Tensor.empty(x.shape);
  const { fixed, changing } = dropoutUniforms(drop);
  launch({
    kernel: {
      name: 'dropout',
      file: 'dropout.wgsl',
      bindings: [read('x'), write('y')],
      uniforms: DROPOUT_UNIFORMS,
    },
    op,
    uniforms: fixed,
    replayUniforms: changing,
    tensors: { x, y },
    invocations: x.size,
    counts: dropoutCounts(x.size),
  });
  return y;
}
