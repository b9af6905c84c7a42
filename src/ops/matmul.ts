// Differentiable (batched) matmul and the dense layer's affine map.
import { matmulKernel, type MatmulOptions } from '../kernels/matmul.js';
import { reduceAxis, sumSlabs } from '../kernels/reduce.js';
import type { Tensor } from '../tensor/tensor.js';
import { noGradient, record } from './autograd.js';

interface Operand {
  batch: number;
  rows: number;
  cols: number;
}

function operand(t: Tensor, name: string): Operand {
  if (t.rank < 2) throw new Error(`matmul: ${name} must have rank >= 2, got [${t.shape.join(', ')}]`);
  return { batch: t.shape.slice(0, -2).reduce((p, d) => p * d, 1), rows: t.shape[t.rank - 2]!, cols: t.shape[t.rank - 1]! };
}

/** Raw batched product (no autograd): the shapes of a and b are read as [batch, rows, cols]. */
function product(a: Tensor, b: Tensor, opts: MatmulOptions, batchShape: readonly number[]): Tensor {
  const A = operand(a, 'a');
  const B = operand(b, 'b');
  const [M, Ka] = opts.transA ? [A.cols, A.rows] : [A.rows, A.cols];
  const [Kb, N] = opts.transB ? [B.cols, B.rows] : [B.rows, B.cols];
  if (Ka !== Kb) {
    throw new Error(
      `matmul: inner dimensions differ: [${a.shape.join(', ')}]${opts.transA ? 'ᵀ' : ''} x [${b.shape.join(', ')}]${opts.transB ? 'ᵀ' : ''}`,
    );
  }
  const batch = Math.max(A.batch, B.batch);
  if ((A.batch !== 1 && A.batch !== batch) || (B.batch !== 1 && B.batch !== batch)) {
    throw new Error(`matmul: batch shapes of [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  }
  const flat = matmulKernel(a, b, { batch, M, N, K: Ka, aBatched: A.batch > 1, bBatched: B.batch > 1 }, opts);
  return flat.intoShape([...batchShape, M, N]);
}

/** Sums a batched gradient [batch, r, c] down to an unbatched operand's shape. */
function sumBatch(grad: Tensor, like: Tensor): Tensor {
  if (grad.size === like.size) return grad.intoShape(like.shape);
  return sumSlabs(grad.intoShape([grad.size / like.size, like.size]), like.shape);
}

/** a @ b over the last two axes (`op` names it in the FLOP ledger), batch axes broadcast when one side has none (or size 1). */
export function matmul(a: Tensor, b: Tensor, options: Omit<MatmulOptions, 'bias'> = {}): Tensor {
  const batchShape = (a.rank >= b.rank ? a : b).shape.slice(0, -2);
  const out = product(a, b, options, batchShape);
  const { transA = false, transB = false, alpha = 1, op = 'matmul' } = options;
  return record(out, op, [a, b], (g) => {
    const gShape = g.shape.slice(0, -2);
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a.requiresGrad) {
      da = transA
        ? product(b, g, { transA: transB, transB: true, alpha, op: `${op}-grad` }, gShape)
        : product(g, b, { transB: !transB, alpha, op: `${op}-grad` }, gShape);
      da = sumBatch(da, a);
    }
    if (b.requiresGrad) {
      db = transB
        ? product(g, a, { transA: true, transB: transA, alpha, op: `${op}-grad` }, gShape)
        : product(a, g, { transA: !transA, alpha, op: `${op}-grad` }, gShape);
      db = sumBatch(db, b);
    }
    return [da, db];
  });
}

/** x @ w + bias over the last axis of x (w: [in, out], Keras layout), bias (and, inference only, a ReLU6) fused
 * into the kernel. */
export function linear(x: Tensor, w: Tensor, bias?: Tensor, activation: 'none' | 'relu6' = 'none'): Tensor {
  const inFeatures = w.shape[0]!;
  const outFeatures = w.shape[1]!;
  if (x.shape[x.rank - 1] !== inFeatures) {
    throw new Error(`linear: input [${x.shape.join(', ')}] does not end in ${inFeatures} features (weights [${w.shape.join(', ')}])`);
  }
  const rows = x.size / inFeatures;
  if (activation !== 'none') noGradient(`linear with a fused ${activation}`, bias ? [x, w, bias] : [x, w]);
  const x2 = x.view([rows, inFeatures]);
  const fused = activation === 'none' ? {} : { activation };
  const flat = matmulKernel(x2, w, { batch: 1, M: rows, N: outFeatures, K: inFeatures, aBatched: false, bBatched: false }, { bias, op: 'linear', ...fused });
  const out = flat.intoShape([...x.shape.slice(0, -1), outFeatures]);
  const inputs = bias ? [x, w, bias] : [x, w];
  return record(out, 'linear', inputs, (g) => {
    const g2 = g.view([rows, outFeatures]);
    const grads: (Tensor | null)[] = [null, null, null];
    if (x.requiresGrad) {
      grads[0] = matmulKernel(g2, w, { batch: 1, M: rows, N: inFeatures, K: outFeatures, aBatched: false, bBatched: false }, { transB: true, op: 'linear-grad' }).intoShape(x.shape);
    }
    if (w.requiresGrad) {
      grads[1] = matmulKernel(x2, g2, { batch: 1, M: inFeatures, N: outFeatures, K: rows, aBatched: false, bBatched: false }, { transA: true, op: 'linear-grad' }).intoShape(w.shape);
    }
    if (bias?.requiresGrad) {
      grads[2] = reduceAxis('sum', g2, 0).intoShape(bias.shape);
    }
    g2.dispose();
    x2.dispose();
    return grads.slice(0, inputs.length);
  });
}
