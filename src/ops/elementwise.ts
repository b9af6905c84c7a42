// Differentiable elementwise ops.
import { binaryForward, unaryBackward, unaryForward, type UnaryOp } from '../kernels/elementwise.js';
import type { Tensor } from '../tensor/tensor.js';
import { record, unbroadcast } from './autograd.js';

function unary(op: UnaryOp, x: Tensor, a = 0, b = 0): Tensor {
  const y = unaryForward(op, x, a, b);
  return record(y, op, [x], (dy) => [op === 'addScalar' ? dy : unaryBackward(op, x, y, dy, a, b)]);
}

export const neg = (x: Tensor) => unary('neg', x);
export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const rsqrt = (x: Tensor) => unary('rsqrt', x);
export const square = (x: Tensor) => unary('square', x);
export const reciprocal = (x: Tensor) => unary('reciprocal', x);
export const relu = (x: Tensor) => unary('relu', x);
export const relu6 = (x: Tensor) => unary('relu6', x);
/** GELU, exact erf form: x * Phi(x). */
export const gelu = (x: Tensor) => unary('gelu', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const addScalar = (x: Tensor, s: number) => unary('addScalar', x, s);
export const mulScalar = (x: Tensor, s: number) => unary('mulScalar', x, s);
export const affine = (x: Tensor, scale: number, shift: number) => unary('affine', x, scale, shift);
export const clamp = (x: Tensor, lo: number, hi: number) => unary('clamp', x, lo, hi);

export function add(a: Tensor, b: Tensor): Tensor {
  const out = binaryForward('add', a, b);
  // a broadcast input's gradient is a reduction (a dispatch): only for an input that needs one
  return record(out, 'add', [a, b], (g, _prior, offers) => [
    a.requiresGrad ? unbroadcast(g, a.shape, offers, 0) : null,
    b.requiresGrad ? unbroadcast(g, b.shape, offers, 1) : null,
  ]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  const out = binaryForward('sub', a, b);
  return record(out, 'sub', [a, b], (g) => {
    let gb: Tensor | null = null;
    if (b.requiresGrad) {
      const ng = unaryForward('neg', g);
      gb = unbroadcast(ng, b.shape);
      if (gb !== ng) ng.dispose();
    }
    return [a.requiresGrad ? unbroadcast(g, a.shape) : null, gb];
  });
}

export function mul(a: Tensor, b: Tensor): Tensor {
  const out = binaryForward('mul', a, b);
  return record(out, 'mul', [a, b], (g) => [
    a.requiresGrad ? reduceTo(binaryForward('mul', g, b), a.shape) : null,
    b.requiresGrad ? reduceTo(binaryForward('mul', g, a), b.shape) : null,
  ]);
}

export function div(a: Tensor, b: Tensor): Tensor {
  const out = binaryForward('div', a, b);
  return record(out, 'div', [a, b], (g) => {
    const ga = binaryForward('div', g, b);
    let gb: Tensor | null = null;
    if (b.requiresGrad) {
      // d(a/b)/db = -(a/b)/b, so gb = -(g/b) * out
      const product = binaryForward('mul', ga, out);
      gb = reduceTo(unaryForward('neg', product), b.shape);
      product.dispose();
    }
    if (!a.requiresGrad) {
      ga.dispose();
      return [null, gb];
    }
    return [reduceTo(ga, a.shape), gb];
  });
}

/** unbroadcast that frees the full-size temporary it started from. */
function reduceTo(grad: Tensor, shape: readonly number[]): Tensor {
  const reduced = unbroadcast(grad, shape);
  if (reduced !== grad) grad.dispose();
  return reduced;
}
