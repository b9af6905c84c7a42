// Folding a BatchNorm with fixed (running) statistics into the convolution that feeds it, for inference: the
// normalisation then costs nothing per pixel.
import { plusCounts } from '../tensor/counts.js';
import { packLayout } from '../tensor/pack.js';
import { Tensor } from '../tensor/tensor.js';
import { launch, read, write, type KernelSpec } from './launch.js';

export interface FoldedNorm {
  gamma: Tensor;
  beta: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
  eps: number;
}

/** A convolution's weights w [..., C] and bias b [C] (optional), and the BatchNorm after it. */
export interface Fold {
  w: Tensor;
  b: Tensor | undefined;
  norm: FoldedNorm;
}

/** Folds one dispatch makes at most (the uniforms name each one's places). */
const MAX_FOLDS = 3;

const SLOT_UNIFORMS = ['w', 'b', 'gamma', 'beta', 'mean', 'var', 'weights', 'C', 'w_out', 'b_out', 'end'] as const;

const MULTI_SPEC: KernelSpec = {
  name: 'batchnorm-fold',
  file: 'bn_fold.wgsl',
  constants: { MULTI: true, HAS_BIAS: true },
  bindings: [read('P'), read('S'), write('O')],
  uniforms: Object.fromEntries(
    Array.from({ length: MAX_FOLDS }, (_, k) => [...SLOT_UNIFORMS.map((name) => [`${name}${k}`, 'u32'] as const), [`eps${k}`, 'f32'] as const]).flat(),
  ),
};

/**
 * Each convolution's weights and bias with its BatchNorm folded in: w' and b'. One dispatch for up to three folds
 * where the weights, biases and BatchNorm parameters lie in one storage and the running statistics in another (a
 * packed model's), with biases; otherwise a dispatch each.
 */
export function foldBatchNorms(folds: readonly Fold[]): { w: Tensor; b: Tensor }[] {
  if (folds.length < 2 || folds.length > MAX_FOLDS || !sharesStorages(folds)) return folds.map(foldBatchNorm);
  const params = ordered(folds.flatMap((f) => [f.w, f.b!, f.norm.gamma, f.norm.beta]));
  const stats = ordered(folds.flatMap((f) => [f.norm.runningMean, f.norm.runningVar]));
  const [P, S] = [Tensor.span(params), Tensor.span(stats)];
  const layout = packLayout(folds.flatMap((f) => [f.w.size, f.norm.gamma.size]));
  const O = Tensor.empty([layout.total]);
  const at = (t: Tensor, span: Tensor) => (t.byteOffset - span.byteOffset) / 4;
  const uniforms: Record<string, number> = {};
  let end = 0;
  for (let k = 0; k < MAX_FOLDS; k++) {
    const f = folds[k];
    if (f) end += Math.max(f.w.size, f.norm.gamma.size);
    const places = f
      ? { w: at(f.w, P), b: at(f.b!, P), gamma: at(f.norm.gamma, P), beta: at(f.norm.beta, P), mean: at(f.norm.runningMean, S), var: at(f.norm.runningVar, S), weights: f.w.size, C: f.norm.gamma.size, w_out: layout.offsets[2 * k]!, b_out: layout.offsets[2 * k + 1]! }
      : { w: 0, b: 0, gamma: 0, beta: 0, mean: 0, var: 0, weights: 0, C: 1, w_out: 0, b_out: 0 };
    for (const [name, value] of Object.entries({ ...places, end })) uniforms[`${name}${k}`] = value;
    uniforms[`eps${k}`] = f?.norm.eps ?? 1;
  }
  launch({
    kernel: MULTI_SPEC,
    op: 'batchnorm-fold',
    uniforms,
    tensors: { P, S, O },
    invocations: end,
    counts: plusCounts(...folds.map((f) => foldCounts(f.w.size, f.norm.gamma.size, true))),
    bytesRead: 4 * [...params, ...stats].reduce((s, t) => s + t.size, 0),
    bytesWritten: 4 * folds.reduce((s, f) => s + f.w.size + f.norm.gamma.size, 0),
  });
  const out = folds.map((f, k) => ({ w: O.viewAt(layout.offsets[2 * k]!, f.w.shape), b: O.viewAt(layout.offsets[2 * k + 1]!, f.norm.gamma.shape) }));
  for (const t of [P, S, O]) t.dispose();
  return out;
}

/** Whether every fold has a bias, and the weights, biases and BatchNorm parameters share one storage, the running statistics another. */
function sharesStorages(folds: readonly Fold[]): boolean {
  const [first] = folds;
  return folds.every(
    (f) => f.b !== undefined && [f.w, f.b, f.norm.gamma, f.norm.beta].every((t) => t.sharesStorage(first!.w)) && [f.norm.runningMean, f.norm.runningVar].every((t) => t.sharesStorage(first!.norm.runningMean)),
  );
}

/** Tensors of one storage by where they start (the span's order). */
const ordered = (tensors: readonly Tensor[]) => [...tensors].sort((a, b) => a.byteOffset - b.byteOffset);

/** Per invocation (max(weights, C)) a scale: add, rsqrt, mul; per weight a multiply; per channel the bias: (b - mean) or -mean, and an fma. */
function foldCounts(weights: number, C: number, hasBias: boolean) {
  const n = Math.max(weights, C);
  return { add: n + (hasBias ? C : 0), rsqrt: n, mul: n + weights + (hasBias ? 0 : C), fma: C };
}

/** Weights w [..., C] and bias b [C] (optional) of a convolution followed by the BatchNorm `n`: w', b'. */
function foldBatchNorm({ w, b, norm: n }: Fold): { w: Tensor; b: Tensor } {
  const C = n.gamma.size;
  const wOut = Tensor.empty(w.shape);
  const bOut = Tensor.empty([C]);
  const inputs: Record<string, Tensor> = { w, gamma: n.gamma, beta: n.beta, running_mean: n.runningMean, running_var: n.runningVar, ...(b ? { b } : {}) };
  launch({
    kernel: {
      name: 'batchnorm-fold',
      file: 'bn_fold.wgsl',
      constants: { MULTI: false, HAS_BIAS: b !== undefined },
      bindings: [read('w'), ...(b ? [read('b')] : []), read('gamma'), read('beta'), read('running_mean'), read('running_var'), write('w_out'), write('b_out')],
      uniforms: { C: 'u32', weights: 'u32', eps: 'f32' },
    },
    op: 'batchnorm-fold',
    uniforms: { C, weights: w.size, eps: n.eps },
    tensors: { ...inputs, w_out: wOut, b_out: bOut },
    invocations: Math.max(w.size, C),
    counts: foldCounts(w.size, C, b !== undefined),
  });
  return { w: wOut, b: bOut };
}
