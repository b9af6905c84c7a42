// Attention and TokenLearner pooling, both built on the batched matmul kernel so neither materialises more than
// the score matrix (attention) or anything beyond the (k, C) tokens (pooling).
import type { Tensor } from '../tensor/tensor.js';
import { dropout } from './dropout.js';
import { permute } from './layout.js';
import { matmul } from './matmul.js';
import { softmax } from './softmax.js';

export interface AttentionOptions {
  /** Score scale; default 1/sqrt(head width). */
  scale?: number;
  /** Dropout on the attention probabilities. */
  dropoutRate?: number;
  training?: boolean;
}

/** softmax(q k^T * scale) v for q, k, v [..., T, D] (e.g. [B, H, T, D]). */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const depth = q.shape[q.rank - 1]!;
  const scale = options.scale ?? 1 / Math.sqrt(depth);
  const scores = matmul(q, k, { transB: true, alpha: scale, op: 'attention-scores' });
  const probs = dropout(softmax(scores), options.dropoutRate ?? 0, options.training ?? false);
  return matmul(probs, v, { op: 'attention-values' });
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
