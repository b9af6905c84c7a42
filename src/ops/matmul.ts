// Differentiable (batched) matmul and the dense layer's affine map.
import { unaryBackward } from '../kernels/elementwise.js';
import { dropoutKernel, type DropoutMask } from '../kernels/dropout.js';
import { LAYERNORM_LINEAR_GROUP_COLUMNS, layerNormLinearFits, layerNormLinearKernel } from '../kernels/layernorm-linear.js';
import { matmulKernel, type EpilogueActivation, type MatmulOptions } from '../kernels/matmul.js';
import { reduceAxis, sumSlabs } from '../kernels/reduce.js';
import { benchOnScratch, choose, type Family } from '../kernels/tuner.js';
import { engine } from '../tensor/engine.js';
import { sizeOf, Tensor, type GradientOffer } from '../tensor/tensor.js';
import { ArgumentError } from '../util/errors.js';
import { gradientPlace, noGradient, record, recordMapped, recordsGradient, takeGradientMap, takeGradientPlace, unbroadcast } from './autograd.js';
import { checkDropoutRate, newDropoutMask } from './dropout.js';
import { concat, reshape } from './layout.js';
import { normalizedTensor, type PendingLayerNorm } from './norm.js';
import { mean } from './reduce.js';

interface Operand {
  batch: number;
  rows: number;
  cols: number;
}

function operand(t: Tensor, name: string): Operand {
  if (t.rank < 2) throw new Error(`matmul: ${name} must have rank >= 2, got [${t.shape.join(', ')}]`);
  return { batch: t.shape.slice(0, -2).reduce((p, d) => p * d, 1), rows: t.shape[t.rank - 2]!, cols: t.shape[t.rank - 1]! };
}

/**
 * Raw batched product (no autograd): the shapes of a and b are read as [batch, rows, cols]. `summedTo`: an
 * operand with one matrix (a broadcast one's gradient): the batch's products are summed into its shape, in the
 * product's own dispatch.
 */
function product(a: Tensor, b: Tensor, opts: MatmulOptions, batchShape: readonly number[], summedTo?: Tensor): Tensor {
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
  if (opts.residual) opts = { ...opts, ...residualEpilogue([...batchShape, M, N], opts.residual) };
  if ((A.batch !== 1 && A.batch !== batch) || (B.batch !== 1 && B.batch !== batch)) {
    throw new Error(`matmul: batch shapes of [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  }
  if (summedTo && batch > 1 && summedTo.size === M * N) {
    const summed = { count: batch, a: A.batch > 1 ? A.rows * A.cols : 0, b: B.batch > 1 ? B.rows * B.cols : 0 };
    return matmulKernel(a, b, { batch: 1, M, N, K: Ka, aBatched: false, bBatched: false, summed }, opts).intoShape(summedTo.shape);
  }
  const flat = matmulKernel(a, b, { batch, M, N, K: Ka, aBatched: A.batch > 1, bBatched: B.batch > 1 }, opts);
  const out = flat.intoShape([...batchShape, M, N]);
  return summedTo ? sumBatch(out, summedTo) : out;
}

/**
 * The epilogue's residual for an output of `outShape`: laid out as the output, or broadcast to it (numpy's rules) over
 * its rows (a table repeated over the leading axes: a positional embedding over the batch) or its columns (one value
 * a row: a 1-channel input over every channel).
 */
function residualEpilogue(outShape: readonly number[], residual: Tensor): Pick<MatmulOptions, 'residual' | 'residualBroadcast'> {
  let first = 0;
  while (first < residual.rank - 1 && residual.shape[first] === 1) first++;
  const shape = residual.shape.slice(first);
  const N = outShape[outShape.length - 1]!;
  const rows = outShape.slice(0, -1);
  const rowShape = shape.slice(0, -1);
  const col = shape[shape.length - 1] === N ? 1 : shape[shape.length - 1] === 1 ? 0 : -1;
  const suffix = rowShape.length <= rows.length && rowShape.every((d, i) => d === rows[rows.length - rowShape.length + i]);
  if (col < 0 || !suffix) {
    throw new ArgumentError(`matmul: the residual [${residual.shape.join(', ')}] does not broadcast to the output [${outShape.join(', ')}] over its rows or its columns`);
  }
  const period = sizeOf(rowShape);
  if (col === 1 && period === sizeOf(rows)) return { residual };
  return { residual, residualBroadcast: { period, row: col ? N : 1, col } };
}

/** Sums a batched gradient [batch, r, c] down to an unbatched operand's shape. */
function sumBatch(grad: Tensor, like: Tensor): Tensor {
  if (grad.size === like.size) return grad.intoShape(like.shape);
  return sumSlabs(grad.intoShape([grad.size / like.size, like.size]), like.shape);
}

/** a @ b over the last two axes (`op` names it in the FLOP ledger), batch axes broadcast when one side has none (or
 * size 1); a residual (added in the product's epilogue) as linear() takes it. */
export function matmul(a: Tensor, b: Tensor, options: Omit<MatmulOptions, 'bias' | 'residualBroadcast'> = {}): Tensor {
  const batchShape = (a.rank >= b.rank ? a : b).shape.slice(0, -2);
  const out = product(a, b, options, batchShape);
  const { transA = false, transB = false, alpha = 1, op = 'matmul', residual } = options;
  return record(out, op, residual ? [a, b, residual] : [a, b], (g, _prior, offers) => {
    const gShape = g.shape.slice(0, -2);
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a.requiresGrad) {
      da = transA
        ? product(b, g, { transA: transB, transB: true, alpha, op: `${op}-grad` }, gShape, a)
        : product(g, b, { transB: !transB, alpha, op: `${op}-grad` }, gShape, a);
    }
    if (b.requiresGrad) {
      db = transB
        ? product(g, a, { transA: true, transB: transA, alpha, op: `${op}-grad` }, gShape, b)
        : product(a, g, { transA: !transA, alpha, op: `${op}-grad` }, gShape, b);
    }
    // the residual's gradient: g, summed over the axes it was broadcast along
    return residual ? [da, db, residual.requiresGrad ? unbroadcast(g, residual.shape, offers, 2) : null] : [da, db];
  });
}

export interface LinearEpilogue {
  /** An activation fused into the product's epilogue; other than GELU, only where no gradient is recorded. */
  activation?: 'none' | EpilogueActivation;
  /** Dropout at this rate after the activation, before the residual (training; drawn as ops/dropout.ts draws it). */
  dropout?: number;
  /** A tensor added last, after the activation (a residual connection): of the output's shape, or broadcast to it
   * over its rows or its columns. */
  residual?: Tensor;
}

/**
 * x @ w + bias over the last axis of x (w: [in, out], Keras layout), with the bias, an activation, a dropout and a
 * residual add fused into the product's epilogue: one dispatch. Under a recorded gradient a GELU keeps its input
 * (the pre-activation, written by the same dispatch) for its gradient, which then also applies the dropout's.
 * `computed`: the output, the GELU's kept input and the dropout's mask where a fused kernel already made them
 * (layerNormThen in training): only the gradient is recorded.
 */
export function linear(x: Tensor, w: Tensor, bias?: Tensor, epilogue: LinearEpilogue = {}, computed?: { out: Tensor; preActivation?: Tensor; drop?: DropoutMask }): Tensor {
  const inFeatures = w.shape[0]!;
  const outFeatures = w.shape[1]!;
  if (x.shape[x.rank - 1] !== inFeatures) {
    throw new Error(`linear: input [${x.shape.join(', ')}] does not end in ${inFeatures} features (weights [${w.shape.join(', ')}])`);
  }
  const rows = x.size / inFeatures;
  const activation = epilogue.activation === 'none' ? undefined : epilogue.activation;
  const { residual } = epilogue;
  const outShape = [...x.shape.slice(0, -1), outFeatures];
  const residualOptions = residual ? residualEpilogue(outShape, residual) : {};
  const inputs = [x, w, ...(bias ? [bias] : []), ...(residual ? [residual] : [])];
  if (activation && activation !== 'gelu') noGradient(`linear with a fused ${activation}`, inputs);
  const rate = epilogue.dropout ?? 0;
  checkDropoutRate(rate);
  const preActivation = computed ? computed.preActivation : activation === 'gelu' && recordsGradient(inputs) ? Tensor.empty([rows, outFeatures]) : undefined;
  const drop = computed ? computed.drop : rate > 0 ? newDropoutMask(rate) : undefined;
  const x2 = x.view([rows, inFeatures]);
  const out =
    computed?.out ??
    matmulKernel(x2, w, { batch: 1, M: rows, N: outFeatures, K: inFeatures, aBatched: false, bBatched: false }, { bias, op: 'linear', activation, preActivation, dropout: drop, ...residualOptions }).intoShape(outShape);
  // dz, the gradient of the product (before the epilogue's GELU and dropout) from g, that of the output
  const backward = (dz: Tensor, g: Tensor, offers: readonly (GradientOffer | undefined)[]): (Tensor | null)[] => {
    const grads: (Tensor | null)[] = [];
    // x's gradient leaves its product already through x's own activation where x's op offers it (GELU layers in a row)
    const xGrad = () => matmulKernel(dz, w, { batch: 1, M: rows, N: inFeatures, K: outFeatures, aBatched: false, bBatched: false }, { transB: true, op: 'linear-grad', activationGrad: takeGradientMap(offers, 0) });
    grads.push(x.requiresGrad ? xGrad().intoShape(x.shape) : null);
    const weightGrad = (columnSums: boolean, into?: Tensor) =>
      matmulKernel(x2, dz, { batch: 1, M: inFeatures, N: outFeatures, K: rows, aBatched: false, bBatched: false }, { transA: true, op: 'linear-grad', columnSums, ...(into ? { into } : {}) });
    // The bias's gradient, dz's column sums, comes with the weight's from the same dispatch where it can be bound
    // where it lies: right after the weight's gradient, at an offset the device can bind; written straight into
    // their places in the gradient arena where those lie so too.
    const together = w.requiresGrad && bias?.requiresGrad && (w.size * 4) % engine().runtime.storageOffsetAlign === 0;
    const [wPlace, bPlace] = [gradientPlace(offers, 1), gradientPlace(offers, 2)];
    if (together && wPlace && bPlace && adjacent(wPlace, bPlace)) {
      const span = Tensor.span([wPlace, bPlace]);
      weightGrad(true, span);
      span.dispose();
      grads.push(takeGradientPlace(offers, 1)!, takeGradientPlace(offers, 2)!);
    } else if (together) {
      const both = weightGrad(true);
      grads.push(both.viewAt(0, w.shape), both.viewAt(w.size, bias!.shape));
      both.dispose();
    } else {
      const wInto = takeGradientPlace(offers, 1);
      grads.push(!w.requiresGrad ? null : wInto ? weightGrad(false, wInto) : weightGrad(false).intoShape(w.shape));
      if (bias) grads.push(!bias.requiresGrad ? null : sumRows(dz, bias, takeGradientPlace(offers, 2)));
    }
    if (residual) grads.push(residual.requiresGrad ? unbroadcast(g, residual.shape, offers, grads.length) : null);
    return grads;
  };
  if (preActivation && !residual) {
    // through the dropout and the GELU first: in the kernel that made g where it could, else one dispatch here
    const epilogue = { activation: 'gelu' as const, preActivation, ...(drop ? { dropout: drop } : {}) };
    const apply = (g: Tensor) => unaryBackward('gelu', preActivation, preActivation, g, 0, 0, drop);
    return recordMapped(out, 'linear', inputs, { apply, epilogue }, (dz, _prior, offers) => {
      const dz2 = dz.view([rows, outFeatures]);
      const grads = backward(dz2, dz, offers);
      dz2.dispose();
      x2.dispose();
      return grads;
    });
  }
  return record(out, 'linear', inputs, (g, _prior, offers) => {
    // through the dropout and the GELU first (in one dispatch where both are there; the GELU's input kept by the
    // forward dispatch); the residual's gradient is g itself (summed over the axes it was broadcast along)
    const g2 = g.view([rows, outFeatures]);
    const dz = preActivation ? unaryBackward('gelu', preActivation, preActivation, g2, 0, 0, drop) : drop ? dropoutKernel(g2, drop, 'dropout-grad') : g2;
    const grads = backward(dz, g, offers);
    if (dz !== g2) g2.dispose();
    dz.dispose();
    x2.dispose();
    return grads;
  });
}

/**
 * linear(mean of x over its axis 1, w, bias) for x [B, T, in] -> [B, out]. Where no gradient is recorded, one
 * product summing the T tokens' products, scaled by 1/T, the bias in its epilogue (a classifier head's pooling in
 * its dense layer's dispatch); else the mean, then linear.
 */
export function meanLinear(x: Tensor, w: Tensor, bias?: Tensor): Tensor {
  const [B, T, C] = x.shape as [number, number, number];
  if (x.rank !== 3 || w.rank !== 2 || w.shape[0] !== C) throw new Error(`meanLinear: takes x [B, T, in] and w [in, out], got [${x.shape.join(', ')}] and [${w.shape.join(', ')}]`);
  if (recordsGradient(bias ? [x, w, bias] : [x, w])) {
    const pooled = mean(x, 1);
    return linear(pooled, w, bias);
  }
  // product t reads token t of every row: rows T * C apart, token t at t * C
  const dims = { batch: 1, M: B, N: w.shape[1]!, K: C, aBatched: false, bBatched: false, a: { ld: T * C, outer: 0, inner: 0 }, summed: { count: T, a: C, b: 0 } };
  // the MAC convention counts the dense layer's (a mean has none), though the product multiplies T times as often
  return matmulKernel(x, w, dims, { alpha: 1 / T, ...(bias ? { bias } : {}), macs: B * C * w.shape[1]!, op: 'mean-linear' }).intoShape([B, w.shape[1]!]);
}

/** Whether `b` starts where `a` ends, in the same storage. */
function adjacent(a: Tensor, b: Tensor): boolean {
  return a.sharesStorage(b) && b.byteOffset === a.byteOffset + a.size * 4;
}

/** The sum of x's rows (a bias's gradient), shaped as `like`, or written into `into` and returned as it. */
export function sumRows(x: Tensor, like: Tensor, into?: Tensor): Tensor {
  const flat = x.view([x.size / like.size, like.size]);
  const summed = into ? reduceAxis('sum', flat, 0, into) : reduceAxis('sum', flat, 0).intoShape(like.shape);
  flat.dispose();
  return summed;
}

/** Elements from the first of `tensors` to each next one, when all are equally far apart in one storage. */
export function spacingOf(tensors: readonly Tensor[]): number | undefined {
  const first = tensors[0];
  if (!first || tensors.length < 2 || tensors.some((t) => !t.sharesStorage(first))) return undefined;
  const step = (tensors[1]!.byteOffset - first.byteOffset) / 4;
  const even = tensors.every((t, i) => t.byteOffset === first.byteOffset + i * step * 4);
  return even && step >= first.size ? step : undefined;
}

/**
 * Whether linearStack takes these weights [in, out] and biases [out]: the same shapes, each set evenly spaced in one
 * storage (a packed model's Q, K and V), and `out` a multiple of the device's binding alignment (the parts of the
 * output and of the gradients are bound on their own).
 */
export function stackable(weights: readonly Tensor[], biases: readonly Tensor[]): boolean {
  const w0 = weights[0];
  if (!w0 || w0.rank !== 2 || biases.length !== weights.length) return false;
  const [, out] = w0.shape as [number, number];
  const alignment = engine().runtime.storageOffsetAlign / 4;
  return (
    weights.every((w) => w.shape.join() === w0.shape.join()) &&
    biases.every((b) => b.rank === 1 && b.shape[0] === out) &&
    spacingOf(weights) !== undefined &&
    spacingOf(biases) !== undefined &&
    out % alignment === 0
  );
}

/**
 * x @ w_i + b_i for n weights of one shape (Q, K and V over the same input) as one batched product: the output is
 * [n, ...x's leading axes, out], part i a view at i x its size. Backward: the weights' and biases' gradients from
 * one dispatch (a column-summing batched product), x's from a product summing over the n (matmulKernel's `summed`).
 * Weights and biases that are not stackable() (not packed alike, or `out` off this adapter's binding alignment) give
 * the same result from a product each, stacked. `computed`: the products [n, ..., out] where a fused kernel already
 * made them (layerNormThen in training; stackable weights only).
 */
export function linearStack(x: Tensor, weights: readonly Tensor[], biases: readonly Tensor[], computed?: Tensor): Tensor {
  if (!stackable(weights, biases)) {
    if (computed) throw new ArgumentError('linearStack: products computed for weights that are not packed alike (see stackable())');
    if (biases.length > 0 && biases.length !== weights.length) throw new ArgumentError(`linearStack: ${weights.length} weights and ${biases.length} biases`);
    const parts = weights.map((w, i) => {
      const y = linear(x, w, biases[i]);
      return reshape(y, [1, ...y.shape]);
    });
    return concat(parts, 0);
  }
  const n = weights.length;
  const [inFeatures, outFeatures] = weights[0]!.shape as [number, number];
  if (x.shape[x.rank - 1] !== inFeatures) throw new ArgumentError(`linearStack: input [${x.shape.join(', ')}] does not end in ${inFeatures} features`);
  const rows = x.size / inFeatures;
  const [wStep, bStep] = [spacingOf(weights)!, spacingOf(biases)!];
  const wLayout = { ld: outFeatures, outer: wStep, inner: wStep };
  const w = Tensor.span(weights);
  const b = Tensor.span(biases);
  const x2 = x.view([rows, inFeatures]);
  const out = computed ?? matmulKernel(x2, w, { batch: n, M: rows, N: outFeatures, K: inFeatures, aBatched: false, bBatched: true, b: wLayout }, { bias: b, biasStride: bStep, op: 'linear' }).intoShape([n, ...x.shape.slice(0, -1), outFeatures]);
  const views = [w, b, x2];
  const recorded = record(out, 'linear', [x, ...weights, ...biases], (g, _prior, offers) => {
    const g3 = g.view([n, rows, outFeatures]);
    const grads: (Tensor | null)[] = [];
    // dx = sum_i g_i w_i^T
    const summed = { count: n, a: rows * outFeatures, b: wStep };
    const dx = () => matmulKernel(g3, w, { batch: 1, M: rows, N: inFeatures, K: outFeatures, aBatched: false, bBatched: false, summed }, { transB: true, op: 'linear-grad' });
    grads.push(x.requiresGrad ? dx().intoShape(x.shape) : null);
    // dw_i = x^T g_i with db_i, g_i's column sums, as the row after it: straight into the gradient arena where
    // the weights' and biases' places there lie as this output does
    const part = (inFeatures + 1) * outFeatures;
    const places = [...weights, ...biases].map((_, k) => gradientPlace(offers, 1 + k));
    const first = places[0];
    const inPlace =
      first !== undefined &&
      places.every((p, k) => p?.sharesStorage(first) && p.byteOffset - first.byteOffset === 4 * (k < n ? k * part : (k - n) * part + inFeatures * outFeatures));
    const span = inPlace ? Tensor.span(places as Tensor[]) : undefined;
    const both = matmulKernel(x2, g3, { batch: n, M: inFeatures, N: outFeatures, K: rows, aBatched: false, bBatched: true }, { transA: true, op: 'linear-grad', columnSums: true, ...(span ? { into: span } : {}) });
    if (span) {
      places.forEach((_, k) => grads.push(takeGradientPlace(offers, 1 + k)!));
    } else {
      weights.forEach((wi, i) => grads.push(wi.requiresGrad ? both.viewAt(i * part, wi.shape) : null));
      biases.forEach((bi, i) => grads.push(bi.requiresGrad ? both.viewAt(i * part + inFeatures * outFeatures, bi.shape) : null));
    }
    for (const t of [both, g3, ...views]) t.dispose();
    return grads;
  });
  if (!recorded.node) for (const t of views) t.dispose();
  return recorded;
}

/** The dense layer a LayerNorm feeds: one weight (linear's), a stack of them (linearStack's), or one after a mean
 * over axis 1, the tokens (meanLinear's). */
export type NormedProduct =
  | { kind: 'linear'; w: Tensor; bias?: Tensor; activation?: 'gelu'; dropout?: number }
  | { kind: 'stack'; weights: readonly Tensor[]; biases: readonly Tensor[] }
  | { kind: 'mean'; w: Tensor; bias?: Tensor };

interface LayerNormLinearProblem {
  rows: number;
  features: number;
  columns: number;
  meanOver: number;
  /** Training: the kernel also writes the normalised rows and their statistics. */
  backward: boolean;
  classRule: 'cpu' | 'gpu';
}

/**
 * LayerNorm and the product after it: one kernel, its workgroups normalising 8 rows (fused) or 16 (fused16) and
 * multiplying them by each weight they read; or the LayerNorm's kernel and the product's (apart).
 */
const LAYERNORM_LINEAR_FAMILY: Family<LayerNormLinearProblem> = {
  name: 'layernorm-linear',
  key: (p) => `${p.rows}x${p.features} to ${p.columns}${p.meanOver > 0 ? ` mean over ${p.meanOver}` : ''}${p.backward ? ' with backward' : ''}`,
  candidates: (p) => ['apart', ...(layerNormLinearFits(p.features, 8) ? ['fused'] : []), ...(p.meanOver === 0 && layerNormLinearFits(p.features, 16) ? ['fused16'] : [])],
  // a dispatch fewer and the normalised rows never in memory; 16 rows a workgroup where there are rows enough to
  // keep 32 workgroups busy. On llvmpipe, Q/K/V of a paper block at batch 64 (512 rows to 3 x 1024): 29 ms fused16,
  // 33 fused, 31-36 apart; at batch 1, 1.2 fused against 1.3 apart. Unmeasured on GPUs.
  // In training on CPU adapters only where the columns keep every invocation of a workgroup busy: on llvmpipe at
  // batch 64, Q/K/V (3,072 columns) 24.4 ms fused16 against 28.5 apart; the MLP's first layer (256, its GELU's
  // input kept, dropout) 4.5 against 3.2.
  rule: (p) => {
    if (p.backward && p.classRule === 'cpu' && p.columns < LAYERNORM_LINEAR_GROUP_COLUMNS) return 'apart';
    const candidates = LAYERNORM_LINEAR_FAMILY.candidates(p);
    if (candidates.includes('fused16') && p.rows >= 16 * 32) return 'fused16';
    return candidates.includes('fused') ? 'fused' : 'apart';
  },
};

/**
 * `product` over the layer-normalised x. Where the adapter's rule (or the tuner) picks it, one kernel: the
 * LayerNorm's rows normalised in workgroup memory and multiplied there; else the LayerNorm, then the product. Under
 * a recorded gradient the kernel also writes the normalised rows and their statistics (and a GELU's input, with
 * the dropout in its epilogue), and the LayerNorm and the product are recorded as if they had run apart (the same
 * gradients); a head's mean over tokens keeps no rows, so it runs apart there.
 */
export function layerNormThen(pending: PendingLayerNorm, product: NormedProduct): Tensor {
  const { x, gamma, beta, eps } = pending;
  const apart = (input: Tensor) => {
    const normed = normalizedTensor({ ...pending, x: input });
    if (product.kind === 'stack') return linearStack(normed, product.weights, product.biases);
    if (product.kind === 'mean') return meanLinear(normed, product.w, product.bias);
    return linear(normed, product.w, product.bias, { ...(product.activation ? { activation: product.activation } : {}), ...(product.dropout ? { dropout: product.dropout } : {}) });
  };
  const weights = product.kind === 'stack' ? product.weights : [product.w];
  const biases = product.kind === 'stack' ? product.biases : product.bias ? [product.bias] : [];
  const features = x.shape[x.rank - 1]!;
  const [K, N] = weights[0]!.shape as [number, number];
  if (K !== features) throw new ArgumentError(`layerNormThen: input [${x.shape.join(', ')}] does not end in the weights' ${K} features`);
  const backward = recordsGradient([x, gamma, beta, ...weights, ...biases]);
  if (backward && product.kind === 'mean') return apart(x);
  if (product.kind === 'stack' && !stackable(product.weights, product.biases)) return apart(x);
  const meanOver = product.kind === 'mean' ? x.shape[1]! : 0;
  if (product.kind === 'mean' && x.rank !== 3) throw new ArgumentError(`layerNormThen: a mean over tokens takes x [B, T, in], got [${x.shape.join(', ')}]`);
  const problem: LayerNormLinearProblem = {
    rows: x.size / K, features: K, columns: weights.length * N, meanOver, backward, classRule: engine().runtime.kernelVariants,
  };
  const variant = choose(LAYERNORM_LINEAR_FAMILY, problem, () => benchOnScratch([x], ([s]) => void layerNormThen({ ...pending, x: s! }, product)));
  if (variant === 'apart') return apart(x);
  const rowsPerGroup = variant === 'fused16' ? 16 : 8;
  const lead = x.shape.slice(0, -1);
  if (product.kind === 'mean') return layerNormLinearKernel(x, gamma, beta, eps, product.w, N, { ...(product.bias ? { bias: product.bias } : {}), meanOver });
  const keep = backward ? { y: Tensor.empty(x.shape), stats: Tensor.empty([x.size / K, 2]) } : undefined;
  if (product.kind === 'linear') {
    const { activation, dropout: rate = 0 } = product;
    checkDropoutRate(rate);
    const preActivation = backward && activation ? Tensor.empty([x.size / K, N]) : undefined;
    const drop = rate > 0 ? newDropoutMask(rate) : undefined;
    const epilogue = { ...(product.bias ? { bias: product.bias } : {}), ...(activation ? { activation } : {}), ...(preActivation ? { preActivation } : {}), ...(drop ? { dropout: drop } : {}) };
    const out = layerNormLinearKernel(x, gamma, beta, eps, product.w, N, { ...epilogue, rowsPerGroup, ...(keep ? { keep } : {}) }).intoShape([...lead, N]);
    if (!keep) return out;
    const computed = { out, ...(preActivation ? { preActivation } : {}), ...(drop ? { drop } : {}) };
    return linear(normalizedTensor(pending, keep), product.w, product.bias, { ...(activation ? { activation } : {}), dropout: rate }, computed);
  }
  const stack = { count: weights.length, step: spacingOf(product.weights)!, biasStep: spacingOf(product.biases)! };
  const w = Tensor.span(product.weights);
  const b = Tensor.span(product.biases);
  const out = layerNormLinearKernel(x, gamma, beta, eps, w, N, { stack, bias: b, rowsPerGroup, ...(keep ? { keep } : {}) }).intoShape([weights.length, ...lead, N]);
  w.dispose();
  b.dispose();
  return keep ? linearStack(normalizedTensor(pending, keep), product.weights, product.biases, out) : out;
}
