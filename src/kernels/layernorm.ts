// LayerNorm over the last axis: forward (keeping per-row mean and rstd), input gradient, and gamma/beta gradients.
// The forward pass is a tuner family: a row per invocation, per workgroup, or per subgroup.
import { plusCounts, type OpCounts } from '../tensor/counts.js';
import { engine } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { slabs } from './reduce.js';
import { laneCandidates, laneLayout, type LaneLayout, type LaneVariant } from './lanes.js';
import { launch, read, write, type Binding, type KernelSpec } from './launch.js';
import { benchOnScratch, choose, type Family } from './tuner.js';

type Entry = 'FORWARD' | 'GRAD' | 'COMBINE_PARAMS';

/** Rows one parameter-gradient invocation sums (llvmpipe allows 65,535 loop iterations per invocation). */
const ROWS_PER_SPLIT = 512;


interface LayerNormProblem {
  rows: number;
  n: number;
  classRule: 'cpu' | 'gpu';
  /** The device's subgroup size where it has subgroups of one fixed size (so the reduction's adds are known). */
  subgroupSize: number | undefined;
}

const LAYERNORM_FAMILY: Family<LayerNormProblem> = {
  name: 'layernorm',
  key: (p) => `${p.rows}x${p.n}`,
  candidates: (p) => laneCandidates(p.subgroupSize),
  // a row per invocation on CPU adapters (llvmpipe: each invocation a SIMD lane, rows enough to fill them); on GPUs
  // the textbook many lanes per row (512 rows of 128, a paper block at batch 64, are a few thousandths of a GPU's lanes)
  rule: (p) => (p.classRule === 'cpu' ? 'row' : 'workgroup'),
};

function spec(entry: Entry, bindings: Binding[], addPrior = false, variant: LaneVariant = 'row', layout?: LaneLayout): KernelSpec {
  const laned = entry === 'FORWARD' && variant !== 'row';
  return {
    name: `layernorm:${entry.toLowerCase()}${addPrior ? '+add' : ''}${laned ? `-${variant}` : ''}`,
    file: 'layernorm.wgsl',
    constants: {
      FORWARD: entry === 'FORWARD' && variant === 'row',
      FORWARD_LANES: laned,
      FORWARD_WORKGROUP: laned && variant === 'workgroup',
      FORWARD_SUBGROUP: laned && variant === 'subgroup',
      ROWS_PER_GROUP: layout?.constants.ROWS_PER_GROUP ?? 1,
      GRAD: entry === 'GRAD',
      COMBINE_PARAMS: entry === 'COMBINE_PARAMS',
      ADD_PRIOR: addPrior,
    },
    bindings,
    uniforms: { rows: 'u32', n: 'u32', eps: 'f32', inv_n: 'f32', rows_per_split: 'u32', splits: 'u32' },
    ...(laned ? layout!.spec : {}),
  };
}

const uniforms = (rows: number, n: number, eps: number) => ({ rows, n, eps, inv_n: 1 / n, rows_per_split: ROWS_PER_SPLIT, splits: Math.ceil(rows / ROWS_PER_SPLIT) });

/**
 * A forward pass's arithmetic over `rows` rows of n, each summed by `lanes` lanes (0: by one invocation). A row:
 * mean, n-1 adds (n + L - 1 with lanes) and 1 mul; variance, n subtracts, n fma (+ L - 1 adds), 1 mul, 1 add;
 * rsqrt; output, n sub, n mul, n fma.
 */
export function layerNormCounts(rows: number, n: number, lanes: number): Partial<OpCounts> {
  return { add: rows * (lanes === 0 ? 3 * n : 3 * n + 2 * lanes - 1), mul: rows * (2 + n), fma: rows * 2 * n, rsqrt: rows };
}

export function layerNormForward(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): { y: Tensor; stats: Tensor } {
  const n = x.shape[x.rank - 1]!;
  if (gamma.size !== n || beta.size !== n) throw new Error(`layerNorm: gamma and beta need ${n} values for input [${x.shape.join(', ')}]`);
  const rows = x.size / n;
  const runtime = engine().runtime;
  const problem: LayerNormProblem = { rows, n, classRule: runtime.kernelVariants, subgroupSize: runtime.subgroupSize };
  const bench = () => benchOnScratch([x, gamma, beta], ([sx, sg, sb]) => void layerNormForward(sx!, sg!, sb!, eps));
  const variant = choose(LAYERNORM_FAMILY, problem, bench) as LaneVariant;
  const y = Tensor.empty(x.shape);
  const stats = Tensor.empty([rows, 2]);
  const bindings = [read('x'), read('gamma'), read('beta'), write('y'), write('stats', 'vec2f')];
  // The lanes of a row each sum from zero and their L parts are added (L - 1 adds), for the mean and the variance.
  const layout = laneLayout(variant, rows, n, problem.subgroupSize);
  launch({
    kernel: spec('FORWARD', bindings, false, variant, layout),
    op: 'layernorm',
    uniforms: uniforms(rows, n, eps),
    tensors: { x, gamma, beta, y, stats },
    ...layout.work,
    counts: layerNormCounts(rows, n, layout.lanes),
  });
  return { y, stats };
}

/** `prior`: a gradient x already has from another branch (a residual), added to dx in the same dispatch. */
/** `into`: where to write the parameters' gradients (their places in a gradient arena), returned as they are. */
export function layerNormBackward(
  x: Tensor,
  gamma: Tensor,
  stats: Tensor,
  dy: Tensor,
  prior?: Tensor,
  into: { dgamma?: Tensor; dbeta?: Tensor } = {},
): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const n = x.shape[x.rank - 1]!;
  const rows = x.size / n;
  const dx = Tensor.empty(x.shape);
  // One dispatch for dx and the parameters' gradients up to ROWS_PER_SPLIT rows (every transformer block's
  // LayerNorm at batch 64 and 8 tokens), their split sums combined by a second above.
  const splits = Math.ceil(rows / ROWS_PER_SPLIT);
  const [dgammaParts, dbetaParts] = [slabs(splits, [n], into.dgamma), slabs(splits, [n], into.dbeta)];
  launch({
    kernel: spec('GRAD', [read('x'), read('gamma'), read('stats', 'vec2f'), read('dy'), ...(prior ? [read('prior')] : []), write('dx'), write('dgamma'), write('dbeta')], !!prior),
    op: 'layernorm-grad',
    uniforms: uniforms(rows, n, 0),
    tensors: { x, gamma, stats, dy, ...(prior ? { prior } : {}), dx, dgamma: dgammaParts, dbeta: dbetaParts },
    invocations: rows + n * splits,
    counts: plusCounts(
      // dx, per row: pass 1, n (sub, mul, mul, add, fma); a, b: 2 mul; pass 2, n (sub, mul, mul, sub, sub, mul, mul), the prior's add
      { add: rows * (5 + (prior ? 1 : 0)) * n, mul: rows * (6 * n + 2), fma: rows * n },
      // the parameters, per value: dy * xhat (sub, mul, fma) and dy summed (add)
      { add: n * rows * 2, mul: n * rows, fma: n * rows },
    ),
  });
  if (splits === 1) {
    const whole = (part: Tensor, place?: Tensor) => (part === place ? part : part.intoShape([n]));
    return { dx, dgamma: whole(dgammaParts, into.dgamma), dbeta: whole(dbetaParts, into.dbeta) };
  }
  const [dgamma, dbeta] = [into.dgamma ?? Tensor.empty([n]), into.dbeta ?? Tensor.empty([n])];
  launch({
    kernel: spec('COMBINE_PARAMS', [read('dgamma_parts'), read('dbeta_parts'), write('dgamma'), write('dbeta')]),
    op: 'layernorm-grad-params',
    uniforms: uniforms(rows, n, 0),
    tensors: { dgamma_parts: dgammaParts, dbeta_parts: dbetaParts, dgamma, dbeta },
    invocations: n,
    counts: { add: 2 * n * (splits - 1) },
  });
  dgammaParts.dispose();
  dbetaParts.dispose();
  return { dx, dgamma, dbeta };
}
