// Differentiable inverted dropout with a seeded mask (the engine's seed stream).
import { dropoutKernel } from '../kernels/dropout.js';
import { engine } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { record } from './autograd.js';

/** Zeroes each element with probability `rate` and scales the rest by 1/(1 - rate); identity when not training. */
export function dropout(x: Tensor, rate: number, training: boolean): Tensor {
  if (rate < 0 || rate >= 1) throw new Error(`dropout rate must be in [0, 1), got ${rate}`);
  if (!training || rate === 0) return x;
  const seed = engine().nextSeed();
  const y = dropoutKernel(x, rate, seed);
  return record(y, 'dropout', [x], (dy) => [dropoutKernel(dy, rate, seed, 'dropout-grad')]);
}
