// Differentiable reductions over one or more axes.
import { broadcastStrides } from '../kernels/elementwise.js';
import { broadcastKernel } from '../kernels/layout.js';
import { maxAxisGrad, reduceAxis, type ReduceOp } from '../kernels/reduce.js';
import type { Tensor } from '../tensor/tensor.js';
import { record } from './autograd.js';

function normalizeAxes(x: Tensor, axes: number | readonly number[] | undefined): number[] {
  const list = axes === undefined ? x.shape.map((_, i) => i) : typeof axes === 'number' ? [axes] : [...axes];
  return [...new Set(list.map((a) => {
    const axis = a < 0 ? a + x.rank : a;
    if (axis < 0 || axis >= x.rank) throw new Error(`axis ${a} is out of range for a tensor of rank ${x.rank}`);
    return axis;
  }))].sort((p, q) => p - q);
}

function reduceAxes(op: ReduceOp, x: Tensor, axes: number[]): Tensor {
  let out = x;
  for (const axis of axes) {
    const next = reduceAxis(op, out, axis);
    if (out !== x) out.dispose();
    out = next;
  }
  return out === x ? x.view(x.shape) : out;
}

function reduce(op: ReduceOp, x: Tensor, axes: number | readonly number[] | undefined, keepDims: boolean): Tensor {
  const list = normalizeAxes(x, axes);
  if (op === 'max' && list.length > 1) throw new Error('max reduces over one axis at a time');
  const kept = reduceAxes(op, x, list);
  const shape = keepDims ? kept.shape : x.shape.filter((_, i) => !list.includes(i));
  const keptShape = kept.shape;
  const out = kept.intoShape(shape);
  return record(out, op, [x], (g) => {
    const gKept = g.view(keptShape);
    if (op === 'max') {
      const y = out.view(keptShape);
      const dx = maxAxisGrad(x, y, gKept, list[0]!);
      y.dispose();
      gKept.dispose();
      return [dx];
    }
    // a mean's gradient is the sum's scaled by 1/n, in the same dispatch
    const n = list.reduce((p, a) => p * x.shape[a]!, 1);
    const spread = broadcastKernel(gKept, x.shape, broadcastStrides(gKept.shape, x.shape), op === 'mean' ? 1 / n : undefined);
    gKept.dispose();
    return [spread];
  });
}

export const sum = (x: Tensor, axes?: number | readonly number[], keepDims = false) => reduce('sum', x, axes, keepDims);
export const mean = (x: Tensor, axes?: number | readonly number[], keepDims = false) => reduce('mean', x, axes, keepDims);
/** Max over one axis (the gradient goes to the first maximum). */
export const max = (x: Tensor, axis: number, keepDims = false) => reduce('max', x, axis, keepDims);
