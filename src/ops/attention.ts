// Attention and TokenLearner pooling, both built on the batched matmul kernel so neither materialises more than
// the score matrix (attention) or anything beyond the (k, C) tokens (pooling).
import { attentionBackward, attentionForward, FUSED_ATTENTION_MAX_T, headAttentionFits, type FusedAttention } from '../kernels/attention.js';
import { matmulKernel } from '../kernels/matmul.js';
import { softmaxBackward, softmaxDropout, softmaxForward } from '../kernels/softmax.js';
import { choose, scratchLike, type Bench, type Family } from '../kernels/tuner.js';
import { engine, tidy } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../util/errors.js';
import { backward, record, recordsGradient } from './autograd.js';
import { checkDropoutRate, dropout, newDropoutMask } from './dropout.js';
import { permute } from './layout.js';
import { matmul } from './matmul.js';
import { sum } from './reduce.js';
import { softmax } from './softmax.js';

export interface AttentionOptions {
  /** Score scale; default 1/sqrt(head width). */
  scale?: number;
  /** Dropout on the attention probabilities. */
  dropoutRate?: number;
  training?: boolean;
  /**
   * multiHeadAttention only: 'fused' (one dispatch forward, one backward, an invocation per query row; T <= 128),
   * 'fused-head' (the same with a workgroup per head, its T x T cells in workgroup memory; T <= 45), 'composed'
   * (scores, softmax, dropout and values as separate kernels, any T) or 'auto' (default): the tuner's choice for
   * the shape (family 'attention'); untuned, fused where it fits with the GPU kernel variants, composed with the
   * CPU ones (on llvmpipe both fused variants measured about 2x slower forward and 2.7x slower forward and
   * backward than the tall-tile matrix products they replace; see bench/README.md).
   */
  kernels?: 'auto' | 'composed' | FusedAttention;
}

/** softmax(q k^T * scale) v for q, k, v [..., T, D] (e.g. [B, H, T, D]). */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const depth = q.shape[q.rank - 1]!;
  const scale = options.scale ?? 1 / Math.sqrt(depth);
  const scores = matmul(q, k, { transB: true, alpha: scale, op: 'attention-scores' });
  const probs = dropout(softmax(scores), options.dropoutRate ?? 0, options.training ?? false);
  return matmul(probs, v, { op: 'attention-values' });
}

/**
 * The products of one head at a time over tensors [B, T, H * D] whose heads sit side by side in the last axis (what
 * the Q/K/V projections give): head h of batch b is the T x D matrix at b * T * H * D + h * D with rows H * D apart.
 * The kernels read and write those columns in place, so attention needs no split or merge copies.
 */
function heads(B: number, T: number, H: number, D: number) {
  const layout = { ld: H * D, outer: T * H * D, inner: D };
  return {
    layout,
    // a matmul's output written into the heads' columns of [B, T, H * D]
    into: { shape: [B, T, H * D], layout },
    // score matrices [B, H, T, T], one T x T matrix per head, contiguous
    scores: { ld: T, outer: H * T * T, inner: T * T },
    // one matrix product per head of every batch, both operands batched
    dims: { batch: B * H, innerBatches: H, aBatched: true, bBatched: true },
  };
}

interface HeadShape {
  B: number;
  T: number;
  H: number;
  D: number;
}

interface AttentionProblem extends HeadShape {
  /** The gradient is recorded: the backward kernels count too. */
  backward: boolean;
  dropout: boolean;
  fits: boolean;
  classRule: 'cpu' | 'gpu';
}

const ATTENTION_FAMILY: Family<AttentionProblem> = {
  name: 'attention',
  key: (p) => `B ${p.B} T ${p.T} ${p.H} heads of ${p.D}${p.dropout ? ' dropout' : ''}${p.backward ? ' with backward' : ''}`,
  candidates: (p) => ['composed', ...(p.fits ? ['fused'] : []), ...(headAttentionFits(p.T) ? ['fused-head'] : [])],
  rule: (p) => (p.fits && p.classRule === 'gpu' ? 'fused' : 'composed'),
};

/** The op again on scratch inputs of the same shapes (with its backward pass where the gradient is recorded). */
function attentionBench(rerun: (inputs: readonly Tensor[]) => Tensor, inputs: readonly Tensor[], withBackward: boolean): Bench {
  const scratch = inputs.map((t) => {
    const s = scratchLike(t);
    s.requiresGrad = withBackward;
    return s;
  });
  return {
    run: () =>
      tidy(() => {
        const out = rerun(scratch);
        if (!withBackward) return;
        backward(sum(out));
        for (const s of scratch) {
          s.grad?.dispose();
          s.grad = undefined;
        }
      }),
    dispose: () => scratch.forEach((t) => t.dispose()),
  };
}

/** Where a gradient pass writes dq, dk and dv, and the gradients it hands on for the op's inputs. */
interface GradientTargets {
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
  grads: Tensor[];
}

/**
 * Multi-head attention over projections q, k, v [B, T, H*D] with the heads side by side:
 * softmax(q_h k_h^T * scale) v_h per head (dropout on the probabilities), back as [B, T, H*D].
 */
export function multiHeadAttention(q: Tensor, k: Tensor, v: Tensor, heads: number, options: AttentionOptions = {}): Tensor {
  if (q.rank !== 3 || k.shape.join() !== q.shape.join() || v.shape.join() !== q.shape.join()) {
    throw new ArgumentError(`multiHeadAttention takes q, k, v [B, T, H*D] of one shape with ${heads} heads; got [${q.shape.join(', ')}], [${k.shape.join(', ')}], [${v.shape.join(', ')}]`);
  }
  const shape = headShape(q.shape, heads, 'multiHeadAttention');
  const rerun = (xs: readonly Tensor[]) => multiHeadAttention(xs[0]!, xs[1]!, xs[2]!, heads, options);
  return attend(q, k, v, shape, options, [q, k, v], rerun, () => {
    const [dq, dk, dv] = [0, 1, 2].map(() => Tensor.empty(q.shape)) as [Tensor, Tensor, Tensor];
    return { dq, dk, dv, grads: [dq, dk, dv] };
  });
}

/**
 * multiHeadAttention over packed projections qkv [3, B, T, H*D] (q, k and v one after another, as linearStack
 * gives them): q, k and v are read in place, and qkv's one gradient is written part by part.
 */
export function packedMultiHeadAttention(qkv: Tensor, heads: number, options: AttentionOptions = {}): Tensor {
  if (qkv.rank !== 4 || qkv.shape[0] !== 3) throw new ArgumentError(`packedMultiHeadAttention takes qkv [3, B, T, H*D]; got [${qkv.shape.join(', ')}]`);
  const part = qkv.shape.slice(1);
  const shape = headShape(part, heads, 'packedMultiHeadAttention');
  const n = qkv.size / 3;
  if ((n * 4) % engine().runtime.storageOffsetAlign !== 0) {
    throw new ArgumentError(`packedMultiHeadAttention: a part of [${qkv.shape.join(', ')}] (${n} values) cannot be bound on its own on this device`);
  }
  const parts = (t: Tensor) => [0, 1, 2].map((i) => t.viewAt(i * n, part)) as [Tensor, Tensor, Tensor];
  const [q, k, v] = parts(qkv);
  const rerun = (xs: readonly Tensor[]) => packedMultiHeadAttention(xs[0]!, heads, options);
  return attend(q, k, v, shape, options, [qkv], rerun, () => {
    const dqkv = Tensor.empty(qkv.shape);
    const [dq, dk, dv] = parts(dqkv);
    return { dq, dk, dv, grads: [dqkv] };
  });
}

function headShape(shape: readonly number[], heads: number, what: string): HeadShape {
  const [B, T, HD] = shape as [number, number, number];
  const D = HD / heads;
  if (shape.length !== 3 || !Number.isInteger(D)) throw new ArgumentError(`${what}: [${shape.join(', ')}] does not split into ${heads} heads`);
  return { B, T, H: heads, D };
}

/**
 * softmax(q_h k_h^T * scale) v_h per head as one recorded op over `inputs` (q, k, v; or the packed qkv they are
 * parts of): fused (one dispatch forward, one backward) or composed (scores, softmax, dropout, values), the
 * gradient written into `targets()`.
 */
function attend(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  shape: HeadShape,
  options: AttentionOptions,
  inputs: Tensor[],
  rerun: (inputs: readonly Tensor[]) => Tensor,
  targets: () => GradientTargets,
): Tensor {
  const scale = options.scale ?? 1 / Math.sqrt(shape.D);
  const rate = options.dropoutRate ?? 0;
  checkDropoutRate(rate);
  const fits = shape.T <= FUSED_ATTENTION_MAX_T;
  const kernels = options.kernels ?? 'auto';
  if (kernels === 'fused' && !fits) throw new ArgumentError(`fused attention takes sequences of T <= ${FUSED_ATTENTION_MAX_T}; got ${shape.T}`);
  if (kernels === 'fused-head' && !headAttentionFits(shape.T)) throw new ArgumentError(`fused-head attention keeps a head's T x T cells in workgroup memory; T = ${shape.T} is too long (use 'fused' or 'composed')`);
  const grad = recordsGradient(inputs);
  const dropping = !!options.training && rate > 0;
  const problem: AttentionProblem = { ...shape, backward: grad, dropout: dropping, fits, classRule: engine().runtime.kernelVariants };
  const variant = kernels === 'auto' ? choose(ATTENTION_FAMILY, problem, () => attentionBench(rerun, inputs, grad)) : kernels;
  // the mask's seed is drawn here, once per op, in either path
  const drop = dropping ? newDropoutMask(rate) : undefined;
  if (variant !== 'composed') {
    const fused = variant as FusedAttention;
    const { out, lse } = attentionForward(q, k, v, shape, scale, drop, grad, fused);
    return record(out, 'attention', inputs, (dout) => {
      const t = targets();
      attentionBackward(q, k, v, out, lse!, dout, shape, scale, drop, t, fused);
      for (const part of [t.dq, t.dk, t.dv]) if (!t.grads.includes(part)) part.dispose();
      return t.grads;
    });
  }
  const { B, T, H, D } = shape;
  const h = heads(B, T, H, D);
  const scores = matmulKernel(q, k, { ...h.dims, M: T, N: T, K: D, a: h.layout, b: h.layout }, { transB: true, alpha: scale, op: 'attention-scores' }).intoShape([B, H, T, T]);
  // the softmax and the dropout on it in one dispatch
  const { probs, kept } = drop ? softmaxDropout(scores, drop) : { probs: softmaxForward(scores), kept: undefined };
  scores.dispose();
  const out = matmulKernel(kept ?? probs, v, { ...h.dims, M: T, N: D, K: T, a: h.scores, b: h.layout, out: h.into }, { op: 'attention-values' });
  if (!grad) {
    kept?.dispose();
    probs.dispose();
    return out;
  }
  return record(out, 'attention', inputs, (dO) => {
    const t = targets();
    const into = (target: Tensor) => ({ ...h.into, into: target });
    // through the values: dP_h = dO_h v_h^T [B, H, T, T], dv_h = P_h^T dO_h (P after the dropout)
    const dKept = matmulKernel(dO, v, { ...h.dims, M: T, N: T, K: D, a: h.layout, b: h.layout }, { transB: true, op: 'attention-values-grad' }).intoShape([B, H, T, T]);
    matmulKernel(kept ?? probs, dO, { ...h.dims, M: T, N: D, K: T, a: h.scores, b: h.layout, out: into(t.dv) }, { transA: true, op: 'attention-values-grad' });
    // through the dropout and the softmax in one dispatch
    const dScores = softmaxBackward(probs, dKept, drop);
    // through the scores: dq_h = scale dS_h k_h, dk_h = scale dS_h^T q_h
    matmulKernel(dScores, k, { ...h.dims, M: T, N: D, K: T, a: h.scores, b: h.layout, out: into(t.dq) }, { alpha: scale, op: 'attention-scores-grad' });
    matmulKernel(dScores, q, { ...h.dims, M: T, N: D, K: T, a: h.scores, b: h.layout, out: into(t.dk) }, { transA: true, alpha: scale, op: 'attention-scores-grad' });
    for (const temporary of [dKept, dScores]) temporary.dispose();
    for (const part of [t.dq, t.dk, t.dv]) if (!t.grads.includes(part)) part.dispose();
    return t.grads;
  });
}

export type PoolMode = 'mean' | 'sum' | 'softmax';

/**
 * TokenLearner's spatial attention pooling: maps [B, S, k] and features [B, S, C] -> tokens [B, k, C] with
 * tokens[t, c] = sum over positions s of w[s, t] * x[s, c], where w = maps / S ('mean', the paper), maps ('sum',
 * Google's original) or softmax of the maps over positions ('softmax', TokenLearner v1.1). `residual` (e.g. a
 * positional embedding [k, C]) is added to the tokens in the product's epilogue.
 */
export function tokenPool(maps: Tensor, x: Tensor, mode: PoolMode = 'mean', residual?: Tensor): Tensor {
  if (maps.rank !== 3 || x.rank !== 3 || maps.shape[0] !== x.shape[0] || maps.shape[1] !== x.shape[1]) {
    throw new Error(`tokenPool takes maps [B, S, k] and features [B, S, C]; got [${maps.shape.join(', ')}] and [${x.shape.join(', ')}]`);
  }
  const positions = x.shape[1]!;
  if (mode === 'softmax') {
    const weights = softmax(permute(maps, [0, 2, 1]));
    return matmul(weights, x, { op: 'token-pool', ...(residual ? { residual } : {}) });
  }
  return matmul(maps, x, { transA: true, alpha: mode === 'mean' ? 1 / positions : 1, op: 'token-pool', ...(residual ? { residual } : {}) });
}
