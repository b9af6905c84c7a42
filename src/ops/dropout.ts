// Differentiable inverted dropout with a seeded mask (the engine's seed stream).
import { dropoutKernel, type DropoutMask } from '../kernels/dropout.js';
import { engine } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../util/errors.js';
import { record } from './autograd.js';

/** Refuses a dropout rate outside [0, 1): every op that drops (here, or fused into another kernel) checks with it. */
export function checkDropoutRate(rate: number): void {
  if (!(rate >= 0 && rate < 1)) throw new ArgumentError(`dropout rate must be in [0, 1), got ${rate}`);
}

/** Zeroes each element with probability `rate` and scales the rest by 1/(1 - rate); identity when not training. */
export function dropout(x: Tensor, rate: number, training: boolean): Tensor {
  checkDropoutRate(rate);
  if (!training || rate === 0) return x;
  const drop = newDropoutMask(rate);
  const y = dropoutKernel(x, drop);
  return record(y, 'dropout', [x], (dy) => [dropoutKernel(dy, drop, 'dropout-grad')]);
}

/**
 * A fresh mask at `rate` from the engine's seed stream, for an op that drops (here or fused into another kernel):
 * its forward and gradient kernels share the seed, and a replayed step draws the next one.
 */
export function newDropoutMask(rate: number): DropoutMask {
  const eng = engine();
  const mask = { seed: eng.nextSeed() };
  eng.runtime.onReplay(() => (mask.seed = eng.nextSeed()));
  return { rate, mask };
}
