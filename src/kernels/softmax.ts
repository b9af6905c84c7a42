// Row-wise softmax, fused log-softmax + cross-entropy, and top-k hits over the last axis.
import { Tensor, type Shape } from '../tensor/tensor.js';
import { ArgumentError } from '../util/errors.js';
import { plusCounts } from '../tensor/counts.js';
import { DROPOUT_UNIFORMS, dropoutCounts, dropoutUniforms, type DropoutMask } from './dropout.js';
import { launch, read, write, type Binding } from './launch.js';

type Entry = 'SOFTMAX' | 'SOFTMAX_GRAD' | 'CROSS_ENTROPY' | 'CROSS_ENTROPY_GRAD' | 'TOP_K';
const ENTRIES: Entry[] = ['SOFTMAX', 'SOFTMAX_GRAD', 'CROSS_ENTROPY', 'CROSS_ENTROPY_GRAD', 'TOP_K'];

/** Longest row one invocation may walk (each row takes up to three passes; llvmpipe allows 65,535 iterations). */
const MAX_ROW = 16_384;

function rowsOf(x: Tensor): { rows: number; n: number } {
  const n = x.shape[x.rank - 1]!;
  if (n > MAX_ROW) throw new Error(`softmax rows of ${n} values exceed the supported ${MAX_ROW}`);
  return { rows: x.size / n, n };
}

function run(entry: Entry, op: string, bindings: Binding[], tensors: Record<string, Tensor>, rows: number, n: number, counts: Parameters<typeof launch>[0]['counts'], k = 0, dropout?: DropoutMask): void {
  const drop = dropout && dropoutUniforms(dropout);
  launch({
    kernel: {
      name: `softmax:${entry.toLowerCase()}${dropout ? '+dropout' : ''}`,
      file: 'softmax.wgsl',
      constants: { ...Object.fromEntries(ENTRIES.map((e) => [e, e === entry])), DROPOUT: !!dropout },
      bindings,
      uniforms: dropout ? { n: 'u32', k: 'u32', nan: 'f32', ...DROPOUT_UNIFORMS } : { n: 'u32', k: 'u32', nan: 'f32' },
    },
    op,
    uniforms: { n, k, nan: NaN, ...drop?.fixed },
    ...(drop ? { replayUniforms: drop.changing } : {}),
    tensors,
    invocations: rows,
    counts,
  });
}

/** Labels must be int32, one per row, and name one of the n classes of logits shaped `logits`. */
export function checkLabels(labels: Tensor, rows: number, n: number, logits: Shape): void {
  if (labels.dtype !== 'i32' || labels.size !== rows) {
    throw new ArgumentError(`${rows} int32 labels are needed for logits [${logits.join(', ')}], got ${labels}`);
  }
  const range = labels.intRange;
  if (range && (range[0] < 0 || range[1] >= n)) {
    throw new ArgumentError(`label ${range[0] < 0 ? range[0] : range[1]} is outside the ${n} classes of logits [${logits.join(', ')}] (labels run from 0 to ${n - 1})`);
  }
}

/** The softmax's counts over `rows` rows of n: per row n-1 compares; n subtracts and n adds (the sum starts at 0); n exp; one reciprocal; n multiplies. */
const softmaxCounts = (rows: number, n: number) => ({ cmp: rows * (n - 1), add: rows * 2 * n, exp: rows * n, div: rows, mul: rows * n });

export function softmaxForward(x: Tensor): Tensor {
  const { rows, n } = rowsOf(x);
  const y = Tensor.empty(x.shape);
  run('SOFTMAX', 'softmax', [read('x'), write('y')], { x, y }, rows, n, softmaxCounts(rows, n));
  return y;
}

/**
 * The softmax over rows and dropout on it in one dispatch: the probabilities (for the gradient) and what the dropout
 * keeps of them (element i as the dropout kernel draws it).
 */
export function softmaxDropout(x: Tensor, dropout: DropoutMask): { probs: Tensor; kept: Tensor } {
  const { rows, n } = rowsOf(x);
  const [probs, kept] = [Tensor.empty(x.shape), Tensor.empty(x.shape)];
  run('SOFTMAX', 'softmax', [read('x'), write('y'), write('kept')], { x, y: probs, kept }, rows, n, plusCounts(softmaxCounts(rows, n), dropoutCounts(rows * n)), 0, dropout);
  return { probs, kept };
}

/** The softmax's gradient from its output y; with `dropout`, dy is the gradient of what softmaxDropout kept. */
export function softmaxBackward(y: Tensor, dy: Tensor, dropout?: DropoutMask): Tensor {
  const { rows, n } = rowsOf(y);
  const dx = Tensor.empty(y.shape);
  // per value an fma (the row's dot product), a subtract and a multiply; first the dropout's mask where there is one
  const counts = plusCounts({ fma: rows * n, add: rows * n, mul: rows * n }, dropout ? dropoutCounts(rows * n) : {});
  run('SOFTMAX_GRAD', dropout ? 'softmax-dropout-grad' : 'softmax-grad', [read('y'), read('dy'), write('dx')], { y, dy, dx }, rows, n, counts, 0, dropout);
  return dx;
}

/** Per-row cross-entropy of logits [rows, n] against int32 labels [rows]; also returns each row's log-sum-exp. */
export function crossEntropyForward(logits: Tensor, labels: Tensor): { loss: Tensor; lse: Tensor } {
  const { rows, n } = rowsOf(logits);
  checkLabels(labels, rows, n, logits.shape);
  const loss = Tensor.empty([rows]);
  const lse = Tensor.empty([rows]);
  run('CROSS_ENTROPY', 'cross-entropy', [read('x'), read('labels', 'i32'), write('loss'), write('lse')], { x: logits, labels, loss, lse }, rows, n, {
    cmp: rows * (n - 1),
    add: rows * (2 * n - 1 + 2),
    exp: rows * n,
    log: rows,
  });
  return { loss, lse };
}

export function crossEntropyBackward(logits: Tensor, labels: Tensor, lse: Tensor, dloss: Tensor): Tensor {
  const { rows, n } = rowsOf(logits);
  const dx = Tensor.empty(logits.shape);
  run('CROSS_ENTROPY_GRAD', 'cross-entropy-grad', [read('x'), read('labels', 'i32'), read('lse'), read('dloss'), write('dx')], { x: logits, labels, lse, dloss, dx }, rows, n, {
    add: rows * (n + 1),
    exp: rows * n,
    mul: rows * n,
  });
  return dx;
}

/** 1 per row whose label ranks among the k highest scores, else 0. */
export function topKHits(logits: Tensor, labels: Tensor, k: number): Tensor {
  const { rows, n } = rowsOf(logits);
  checkLabels(labels, rows, n, logits.shape);
  const hits = Tensor.empty([rows]);
  run('TOP_K', `top-${k}`, [read('x'), read('labels', 'i32'), write('hit')], { x: logits, labels, hit: hits }, rows, n, { cmp: rows * n }, k);
  return hits;
}
