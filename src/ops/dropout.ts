// Differentiable inverted dropout with a seeded mask (the engine's seed stream).
import { dropoutKernel } from '../kernels/dropout.js';
import { engine } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { record } from './autograd.js';

/** Zeroes each element with probability `rate` and scales the rest by 1/(1 - rate); identity when not training. */
export function dropout(x: Tensor, rate: number, training: boolean): Tensor {
  if (rate < 0 || rate >= 1) throw new Error(`dropout rate must be in [0, 1), got ${rate}`);
  if (!training || rate === 0) return x;
  const eng = engine();
  // The mask's seed, shared by the forward and the gradient; a replayed step draws the next one.
  const mask = { seed: eng.nextSeed() };
  eng.runtime.onReplay(() => (mask.seed = eng.nextSeed()));
  const y = dropoutKernel(x, rate, mask);
  return record(y, 'dropout', [x], (dy) => [dropoutKernel(dy, rate, mask, 'dropout-grad')]);
}
