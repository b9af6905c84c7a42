// Attention and TokenLearner pooling, both built on the batched matmul kernel so neither materialises more than
// the score matrix (attention) or anything beyond the (k, C) tokens (pooling).
import { attentionBackward, attentionForward, FUSED_ATTENTION_MAX_T } from '../kernels/attention.js';
import { matmulKernel } from '../kernels/matmul.js';
import { engine } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../util/errors.js';
import { record, recordsGradient } from './autograd.js';
import { dropout, newDropoutMask } from './dropout.js';
import { permute } from './layout.js';
import { matmul } from './matmul.js';
import { softmax } from './softmax.js';

export interface AttentionOptions {
  /** Score scale; default 1/sqrt(head width). */
  scale?: number;
  /** Dropout on the attention probabilities. */
  dropoutRate?: number;
  training?: boolean;
  /**
   * multiHeadAttention only: 'fused' (one dispatch forward, one backward; T <= 128), 'composed' (scores,
   * softmax, dropout and values as separate kernels, any T) or 'auto' (default): fused where it fits with the GPU
   * kernel variants, composed with the CPU ones (on llvmpipe the fused pair measured 1.7x slower forward and 3.5x
   * slower forward and backward than the tall-tile matrix products it replaces; see bench/README.md).
   */
  kernels?: 'auto' | 'fused' | 'composed';
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

/** Per head, scale * q_h k_h^T: q, k [B, T, H*D] -> scores [B, H, T, T]. */
function headScores(q: Tensor, k: Tensor, H: number, scale: number): Tensor {
  const [B, T, HD] = q.shape as [number, number, number];
  const D = HD / H;
  const h = heads(B, T, H, D);
  const scores = matmulKernel(q, k, { ...h.dims, M: T, N: T, K: D, a: h.layout, b: h.layout }, { transB: true, alpha: scale, op: 'attention-scores' }).intoShape([B, H, T, T]);
  return record(scores, 'attention-scores', [q, k], (dS) => {
    // dq_h = scale * dS k_h; dk_h = scale * dS^T q_h, written into the heads' columns
    const dq = q.requiresGrad ? matmulKernel(dS, k, { ...h.dims, M: T, N: D, K: T, a: h.scores, b: h.layout, out: h.into }, { alpha: scale, op: 'attention-scores-grad' }) : null;
    const dk = k.requiresGrad ? matmulKernel(dS, q, { ...h.dims, M: T, N: D, K: T, a: h.scores, b: h.layout, out: h.into }, { transA: true, alpha: scale, op: 'attention-scores-grad' }) : null;
    return [dq, dk];
  });
}

/** Per head, p_h v_h: probabilities [B, H, T, T] and v [B, T, H*D] -> [B, T, H*D]. */
function headValues(p: Tensor, v: Tensor, H: number): Tensor {
  const [B, T, HD] = v.shape as [number, number, number];
  const D = HD / H;
  const h = heads(B, T, H, D);
  const out = matmulKernel(p, v, { ...h.dims, M: T, N: D, K: T, a: h.scores, b: h.layout, out: h.into }, { op: 'attention-values' });
  return record(out, 'attention-values', [p, v], (dO) => {
    // dp_h = dO_h v_h^T [B, H, T, T]; dv_h = p_h^T dO_h into the heads' columns
    const dp = p.requiresGrad
      ? matmulKernel(dO, v, { ...h.dims, M: T, N: T, K: D, a: h.layout, b: h.layout }, { transB: true, op: 'attention-values-grad' }).intoShape([B, H, T, T])
      : null;
    const dv = v.requiresGrad ? matmulKernel(p, dO, { ...h.dims, M: T, N: D, K: T, a: h.scores, b: h.layout, out: h.into }, { transA: true, op: 'attention-values-grad' }) : null;
    return [dp, dv];
  });
}

/**
 * Multi-head attention over projections q, k, v [B, T, H*D] with the heads side by side:
 * softmax(q_h k_h^T * scale) v_h per head (dropout on the probabilities), back as [B, T, H*D].
 */
export function multiHeadAttention(q: Tensor, k: Tensor, v: Tensor, heads: number, options: AttentionOptions = {}): Tensor {
  const D = q.shape[q.rank - 1]! / heads;
  if (q.rank !== 3 || !Number.isInteger(D) || k.shape.join() !== q.shape.join() || v.shape.join() !== q.shape.join()) {
    throw new ArgumentError(`multiHeadAttention takes q, k, v [B, T, H*D] of one shape with ${heads} heads; got [${q.shape.join(', ')}], [${k.shape.join(', ')}], [${v.shape.join(', ')}]`);
  }
  const [B, T] = q.shape as [number, number];
  const scale = options.scale ?? 1 / Math.sqrt(D);
  const rate = options.dropoutRate ?? 0;
  if (rate < 0 || rate >= 1) throw new ArgumentError(`dropout rate must be in [0, 1), got ${rate}`);
  const fits = T <= FUSED_ATTENTION_MAX_T;
  const kernels = options.kernels ?? 'auto';
  if (kernels === 'fused' && !fits) throw new ArgumentError(`fused attention takes sequences of T <= ${FUSED_ATTENTION_MAX_T}; got ${T}`);
  const fused = kernels === 'fused' || (kernels === 'auto' && fits && engine().runtime.kernelVariants === 'gpu');
  if (!fused) {
    const probs = dropout(softmax(headScores(q, k, heads, scale)), rate, options.training ?? false);
    return headValues(probs, v, heads);
  }
  return fusedAttention(q, k, v, { B, T, H: heads, D }, scale, options.training && rate > 0 ? rate : 0);
}

/** multiHeadAttention in one dispatch (and one for its gradient), dropout drawn as the composed path draws it. */
function fusedAttention(q: Tensor, k: Tensor, v: Tensor, shape: { B: number; T: number; H: number; D: number }, scale: number, rate: number): Tensor {
  const drop = rate > 0 ? newDropoutMask(rate) : undefined;
  const grad = recordsGradient([q, k, v]);
  const { out, lse } = attentionForward(q, k, v, shape, scale, drop, grad);
  if (!grad) return out;
  return record(out, 'attention', [q, k, v], (dout) => {
    const { dq, dk, dv } = attentionBackward(q, k, v, out, lse!, dout, shape, scale, drop);
    return [dq, dk, dv];
  });
}

export type PoolMode = 'mean' | 'sum' | 'softmax';

/**
 * TokenLearner's spatial attention pooling: maps [B, S, k] and features [B, S, C] -> tokens [B, k, C] with
 * tokens[t, c] = sum over positions s of w[s, t] * x[s, c], where w = maps / S ('mean', the paper), maps ('sum',
 * Google's original) or softmax of the maps over positions ('softmax', TokenLearner v1.1).
 */
export function tokenPool(maps: Tensor, x: Tensor, mode: PoolMode = 'mean'): Tensor {
  if (maps.rank !== 3 || x.rank !== 3 || maps.shape[0] !== x.shape[0] || maps.shape[1] !== x.shape[1]) {
    throw new Error(`tokenPool takes maps [B, S, k] and features [B, S, C]; got [${maps.shape.join(', ')}] and [${x.shape.join(', ')}]`);
  }
  const positions = x.shape[1]!;
  if (mode === 'softmax') {
    const weights = softmax(permute(maps, [0, 2, 1]));
    return matmul(weights, x, { op: 'token-pool' });
  }
  return matmul(maps, x, { transA: true, alpha: mode === 'mean' ? 1 / positions : 1, op: 'token-pool' });
}
