// Checks a differentiable GPU op against a float64 reference: the forward values, and every input's gradient
// against central finite differences of the reference.
import { backward } from '../../src/ops/autograd.js';
import { tidy } from '../../src/tensor/engine.js';
import { Tensor, type Shape } from '../../src/tensor/tensor.js';
import { dot, expectClose, finiteDifferences, randomArray } from './gpu.js';

export interface OpCase {
  shapes: Shape[];
  gpu: (inputs: Tensor[]) => Tensor;
  reference: (inputs: Float64Array[]) => Float64Array;
  /** Input value ranges (default [-1, 1]); e.g. positive for log. */
  ranges?: [number, number][];
  seed?: number;
  forwardTol?: [number, number];
  gradTol?: [number, number];
  /** Inputs that take no gradient (e.g. integer labels). */
  noGrad?: number[];
  /** Finite-difference step. */
  h?: number;
  /** Check the forward pass only (large shapes, where finite differences would take minutes). */
  forwardOnly?: boolean;
}

/** Float64 copies of float32-rounded random inputs. */
export function inputsFor(c: OpCase): Float64Array[] {
  return c.shapes.map((shape, i) => {
    const n = shape.reduce((p, d) => p * d, 1);
    const [lo, hi] = c.ranges?.[i] ?? [-1, 1];
    return Float64Array.from(Float32Array.from(randomArray(n, (c.seed ?? 1) * 100 + i, lo, hi)));
  });
}

export async function checkOp(c: OpCase): Promise<void> {
  const values = inputsFor(c);
  const expected = c.reference(values);
  const seedValues = Float64Array.from(Float32Array.from(randomArray(expected.length, 9999, -1, 1)));
  const { out, grads } = tidy(() => {
    const inputs = values.map((v, i) => {
      const t = Tensor.from(v, c.shapes[i]!);
      t.requiresGrad = !(c.noGrad ?? []).includes(i);
      return t;
    });
    const y = c.gpu(inputs);
    backward(y, Tensor.from(seedValues, y.shape));
    const grads = inputs.map((t) => t.grad);
    for (const t of inputs) t.grad = undefined;
    return { out: y, grads };
  });
  const [fa, fr] = c.forwardTol ?? [1e-5, 1e-4];
  expectClose(await out.data(), expected, fa, fr);
  const [ga, gr] = c.gradTol ?? [2e-4, 2e-3];
  for (let i = 0; i < values.length; i++) {
    if (c.forwardOnly || (c.noGrad ?? []).includes(i)) {
      grads[i]?.dispose();
      continue;
    }
    const fd = finiteDifferences((x) => {
      const probe = values.slice();
      probe[i] = x;
      return dot(c.reference(probe), seedValues);
    }, values[i]!, c.h);
    const g = grads[i];
    if (!g) throw new Error(`input ${i} got no gradient`);
    expectClose(await g.data(), fd, ga, gr);
    g.dispose();
  }
  out.dispose();
}

/** Element-wise map of a float64 array. */
export function map(x: Float64Array, f: (v: number, i: number) => number): Float64Array {
  return x.map(f);
}
