// Gradients of modules against central differences of their float32 forward passes, along random directions.
import { expect } from 'vitest';
import type { Module } from '../../src/nn/module.js';
import { backward } from '../../src/ops/autograd.js';
import { mul, sum } from '../../src/ops/index.js';
import { noGrad, tidy } from '../../src/tensor/engine.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { randomArray } from './gpu.js';

/** Checks d(sum(f(x) * r))/dtheta along a random direction against central differences of the forward pass. */
export async function directionalCheck(module: Module, input: Tensor, forward: (x: Tensor) => Tensor, targets: Tensor[], h = 1e-2, tol = 3e-2): Promise<void> {
  const out = noGrad(() => tidy(() => forward(input)));
  const weights = Tensor.from(randomArray(out.size, 77), out.shape).keep();
  out.dispose();
  const objective = (x: Tensor) => sum(mul(forward(x), weights));
  const loss = tidy(() => {
    const l = objective(input);
    backward(l);
    return l;
  });
  loss.dispose();
  for (const [i, target] of targets.entries()) {
    const direction = randomArray(target.size, 100 + i);
    const grad = await target.grad!.data();
    const analytic = grad.reduce((s, g, j) => s + g * direction[j]!, 0);
    const original = await target.data();
    const shifted = async (sign: number) => {
      target.write(original.map((v, j) => v + sign * h * direction[j]!));
      const l = noGrad(() => tidy(() => objective(input)));
      const value = await l.item();
      l.dispose();
      return value;
    };
    const numeric = ((await shifted(1)) - (await shifted(-1))) / (2 * h);
    target.write(original);
    expect(Math.abs(analytic - numeric)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(numeric)));
    target.grad!.dispose();
    target.grad = undefined;
  }
  weights.dispose();
  void module;
}
