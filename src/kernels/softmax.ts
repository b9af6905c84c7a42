// Row-wise softmax, fused log-softmax + cross-entropy, and top-k hits over the last axis.
import { Tensor, type Shape } from '../tensor/tensor.js';
import { ArgumentError } from '../util/errors.js';
import { plusCounts } from '../tensor/counts.js';
import { engine } from '../tensor/engine.js';
import { DROPOUT_UNIFORMS, dropoutCounts, dropoutUniforms, type DropoutMask } from './dropout.js';
import { laneCandidates, laneLayout, type LaneLayout, type LaneVariant } from './lanes.js';
import { launch, read, write, type Binding } from './launch.js';
import { benchOnScratch, choose, type Family } from './tuner.js';

type Entry = 'SOFTMAX' | 'SOFTMAX_GRAD' | 'CROSS_ENTROPY' | 'CROSS_ENTROPY_MEAN' | 'CROSS_ENTROPY_GRAD' | 'TOP_K';
const ENTRIES: Entry[] = ['SOFTMAX', 'SOFTMAX_GRAD', 'CROSS_ENTROPY', 'CROSS_ENTROPY_MEAN', 'CROSS_ENTROPY_GRAD', 'TOP_K'];

/** Invocations of the one workgroup that takes a batch's mean cross-entropy (a power of two: its sums meet in a tree). */
const MEAN_LANES = 64;

/** Longest row one invocation may walk (each row takes up to three passes; llvmpipe allows 65,535 iterations). */
const MAX_ROW = 16_384;

function rowsOf(x: Tensor): { rows: number; n: number } {
  const n = x.shape[x.rank - 1]!;
  if (n > MAX_ROW) throw new Error(`softmax rows of ${n} values exceed the supported ${MAX_ROW}`);
  return { rows: x.size / n, n };
}

interface RunOptions {
  k?: number;
  dropout?: DropoutMask;
  /** The loss is the rows' mean (one value, one gradient). */
  mean?: boolean;
  /** The softmax's rows across lanes (a workgroup's or a subgroup's) rather than one invocation each. */
  lanes?: { variant: Exclude<LaneVariant, 'row'>; layout: LaneLayout };
}

interface SoftmaxProblem {
  rows: number;
  n: number;
  dropout: boolean;
  subgroupSize: number | undefined;
}

/** The softmax forward pass: a row per invocation, per workgroup or per subgroup (kernels/lanes.ts). */
const SOFTMAX_FAMILY: Family<SoftmaxProblem> = {
  name: 'softmax',
  key: (p) => `${p.rows}x${p.n}${p.dropout ? ' dropout' : ''}`,
  candidates: (p) => laneCandidates(p.subgroupSize),
  // the rows of the paper models' softmaxes are short (attention's 8 or 64 scores, TokenLearner v1.1's 64
  // positions): one invocation each, as on every adapter before the family
  rule: () => 'row',
};

function run(entry: Entry, op: string, bindings: Binding[], tensors: Record<string, Tensor>, rows: number, n: number, counts: Parameters<typeof launch>[0]['counts'], options: RunOptions = {}): void {
  const { k = 0, dropout, mean = false, lanes } = options;
  const drop = dropout && dropoutUniforms(dropout);
  const oneWorkgroup = entry === 'CROSS_ENTROPY_MEAN';
  const entries = Object.fromEntries(ENTRIES.map((e) => [e, e === entry && !lanes]));
  const uniforms = { n: 'u32', k: 'u32', nan: 'f32', rows: 'u32', inv_rows: 'f32' } as const;
  launch({
    kernel: {
      name: `softmax:${entry.toLowerCase()}${lanes ? `-${lanes.variant}` : ''}${mean && !oneWorkgroup ? '+mean' : ''}${dropout ? '+dropout' : ''}`,
      file: 'softmax.wgsl',
      constants: {
        ...entries, DROPOUT: !!dropout, MEAN: mean,
        SOFTMAX_HELPERS: entry === 'SOFTMAX', SOFTMAX_LANES: !!lanes, SOFTMAX_WORKGROUP: lanes?.variant === 'workgroup', SOFTMAX_SUBGROUP: lanes?.variant === 'subgroup',
        ROWS_PER_GROUP: lanes?.layout.constants.ROWS_PER_GROUP ?? 1,
      },
      bindings,
      uniforms: dropout ? { ...uniforms, ...DROPOUT_UNIFORMS } : uniforms,
      ...(oneWorkgroup ? { entry: 'workgroup' as const, workgroupSize: MEAN_LANES } : {}),
      ...(lanes ? lanes.layout.spec : {}),
    },
    op,
    uniforms: { n, k, nan: NaN, rows, inv_rows: 1 / rows, ...drop?.fixed },
    ...(drop ? { replayUniforms: drop.changing } : {}),
    tensors,
    ...(oneWorkgroup ? { workgroups: 1 } : lanes ? lanes.layout.work : { invocations: rows }),
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

/**
 * The softmax's counts over `rows` rows of n. One invocation a row: n-1 compares; n subtracts and n adds (the sum
 * starts at 0); n exp; one reciprocal; n multiplies. Across L lanes: each lane's maximum starts below every value
 * (n compares) and the lanes' maxima and sums meet (L - 1 compares, L - 1 adds); every lane takes the reciprocal.
 */
const softmaxCounts = (rows: number, n: number, lanes = 0) =>
  lanes === 0
    ? { cmp: rows * (n - 1), add: rows * 2 * n, exp: rows * n, div: rows, mul: rows * n }
    : { cmp: rows * (n + lanes - 1), add: rows * (2 * n + lanes - 1), exp: rows * n, div: rows * lanes, mul: rows * n };

/** The softmax's variant for x (the tuner's choice), as the lanes option of run(); undefined: a row per invocation. */
function softmaxLanes(x: Tensor, dropout: DropoutMask | undefined): RunOptions['lanes'] {
  const { rows, n } = rowsOf(x);
  const subgroupSize = engine().runtime.subgroupSize;
  const bench = () => benchOnScratch([x], ([s]) => void (dropout ? softmaxDropout(s!, dropout) : softmaxForward(s!)));
  const variant = choose(SOFTMAX_FAMILY, { rows, n, dropout: !!dropout, subgroupSize }, bench) as LaneVariant;
  return variant === 'row' ? undefined : { variant, layout: laneLayout(variant, rows, n, subgroupSize) };
}

export function softmaxForward(x: Tensor): Tensor {
  const { rows, n } = rowsOf(x);
  const y = Tensor.empty(x.shape);
  const lanes = softmaxLanes(x, undefined);
  run('SOFTMAX', 'softmax', [read('x'), write('y')], { x, y }, rows, n, softmaxCounts(rows, n, lanes?.layout.lanes), { ...(lanes ? { lanes } : {}) });
  return y;
}

/**
 * The softmax over rows and dropout on it in one dispatch: the probabilities (for the gradient) and what the dropout
 * keeps of them (element i as the dropout kernel draws it).
 */
export function softmaxDropout(x: Tensor, dropout: DropoutMask): { probs: Tensor; kept: Tensor } {
  const { rows, n } = rowsOf(x);
  const [probs, kept] = [Tensor.empty(x.shape), Tensor.empty(x.shape)];
  const lanes = softmaxLanes(x, dropout);
  run('SOFTMAX', 'softmax', [read('x'), write('y'), write('kept')], { x, y: probs, kept }, rows, n, plusCounts(softmaxCounts(rows, n, lanes?.layout.lanes), dropoutCounts(rows * n)), { dropout, ...(lanes ? { lanes } : {}) });
  return { probs, kept };
}

/** The softmax's gradient from its output y; with `dropout`, dy is the gradient of what softmaxDropout kept. */
export function softmaxBackward(y: Tensor, dy: Tensor, dropout?: DropoutMask): Tensor {
  const { rows, n } = rowsOf(y);
  const dx = Tensor.empty(y.shape);
  // per value an fma (the row's dot product), a subtract and a multiply; first the dropout's mask where there is one
  const counts = plusCounts({ fma: rows * n, add: rows * n, mul: rows * n }, dropout ? dropoutCounts(rows * n) : {});
  run('SOFTMAX_GRAD', dropout ? 'softmax-dropout-grad' : 'softmax-grad', [read('y'), read('dy'), write('dx')], { y, dy, dx }, rows, n, counts, { dropout });
  return dx;
}

/** A row's cross-entropy: n-1 compares (the max), 2n-1 adds and n exps (log-sum-exp about the max), a log, and
 * the subtraction of the label's logit (plus one more add, the max back). */
const crossEntropyCounts = (rows: number, n: number) => ({ cmp: rows * (n - 1), add: rows * (2 * n - 1 + 2), exp: rows * n, log: rows });

/** Per-row cross-entropy of logits [rows, n] against int32 labels [rows]; also returns each row's log-sum-exp. */
export function crossEntropyForward(logits: Tensor, labels: Tensor): { loss: Tensor; lse: Tensor } {
  const { rows, n } = rowsOf(logits);
  checkLabels(labels, rows, n, logits.shape);
  const loss = Tensor.empty([rows]);
  const lse = Tensor.empty([rows]);
  run('CROSS_ENTROPY', 'cross-entropy', [read('x'), read('labels', 'i32'), write('loss'), write('lse')], { x: logits, labels, loss, lse }, rows, n, crossEntropyCounts(rows, n));
  return { loss, lse };
}

/**
 * The rows' mean cross-entropy in one dispatch (one workgroup): the loss [] and each row's log-sum-exp. The mean
 * adds each row's loss to its lane's sum (from zero), the lanes' sums in a tree, and scales by 1/rows.
 */
export function meanCrossEntropyForward(logits: Tensor, labels: Tensor): { loss: Tensor; lse: Tensor } {
  const { rows, n } = rowsOf(logits);
  checkLabels(labels, rows, n, logits.shape);
  const loss = Tensor.empty([]);
  const lse = Tensor.empty([rows]);
  const counts = plusCounts(crossEntropyCounts(rows, n), { add: rows + MEAN_LANES - 1, mul: 1 });
  run('CROSS_ENTROPY_MEAN', 'cross-entropy', [read('x'), read('labels', 'i32'), write('loss'), write('lse')], { x: logits, labels, loss, lse }, rows, n, counts);
  return { loss, lse };
}

/** The logits' gradient from each row's loss gradient dloss [rows]; `mean`: from the mean's, dloss [] (then each
 * row's share is dloss / rows: one more multiply a row). */
export function crossEntropyBackward(logits: Tensor, labels: Tensor, lse: Tensor, dloss: Tensor, mean = false): Tensor {
  const { rows, n } = rowsOf(logits);
  const dx = Tensor.empty(logits.shape);
  run('CROSS_ENTROPY_GRAD', 'cross-entropy-grad', [read('x'), read('labels', 'i32'), read('lse'), read('dloss'), write('dx')], { x: logits, labels, lse, dloss, dx }, rows, n, {
    add: rows * (n + 1),
    exp: rows * n,
    mul: rows * n + (mean ? rows : 0),
  }, { mean });
  return dx;
}

/** 1 per row whose label ranks among the k highest scores, else 0. */
export function topKHits(logits: Tensor, labels: Tensor, k: number): Tensor {
  const { rows, n } = rowsOf(logits);
  checkLabels(labels, rows, n, logits.shape);
  const hits = Tensor.empty([rows]);
  run('TOP_K', `top-${k}`, [read('x'), read('labels', 'i32'), write('hit')], { x: logits, labels, hit: hits }, rows, n, { cmp: rows * n }, { k });
  return hits;
}
