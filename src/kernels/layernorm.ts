// LayerNorm over the last axis: forward (keeping per-row mean and rstd), input gradient, and gamma/beta gradients.
import { plusCounts } from '../tensor/counts.js';
import { Tensor } from '../tensor/tensor.js';
import { launch, read, write, type Binding, type KernelSpec } from './launch.js';

type Entry = 'FORWARD' | 'GRAD' | 'COMBINE_PARAMS';

/** Rows one parameter-gradient invocation sums (llvmpipe allows 65,535 loop iterations per invocation). */
const ROWS_PER_SPLIT = 512;

function spec(entry: Entry, bindings: Binding[], addPrior = false): KernelSpec {
  return {
    name: `layernorm:${entry.toLowerCase()}${addPrior ? '+add' : ''}`,
    file: 'layernorm.wgsl',
    constants: { FORWARD: entry === 'FORWARD', GRAD: entry === 'GRAD', COMBINE_PARAMS: entry === 'COMBINE_PARAMS', ADD_PRIOR: addPrior },
    bindings,
    uniforms: { rows: 'u32', n: 'u32', eps: 'f32', inv_n: 'f32', rows_per_split: 'u32', splits: 'u32' },
  };
}

const uniforms = (rows: number, n: number, eps: number) => ({ rows, n, eps, inv_n: 1 / n, rows_per_split: ROWS_PER_SPLIT, splits: Math.ceil(rows / ROWS_PER_SPLIT) });

export function layerNormForward(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): { y: Tensor; stats: Tensor } {
  const n = x.shape[x.rank - 1]!;
  if (gamma.size !== n || beta.size !== n) throw new Error(`layerNorm: gamma and beta need ${n} values for input [${x.shape.join(', ')}]`);
  const rows = x.size / n;
  const y = Tensor.empty(x.shape);
  const stats = Tensor.empty([rows, 2]);
  launch({
    kernel: spec('FORWARD', [read('x'), read('gamma'), read('beta'), write('y'), write('stats', 'vec2f')]),
    op: 'layernorm',
    uniforms: uniforms(rows, n, eps),
    tensors: { x, gamma, beta, y, stats },
    invocations: rows,
    // mean: n-1 adds, 1 mul; variance: n subtracts, n fma, 1 mul, 1 add; rsqrt; output: n sub, n mul, n fma.
    counts: { add: rows * (n - 1 + n + 1 + n), mul: rows * (2 + n), fma: rows * 2 * n, rsqrt: rows },
  });
  return { y, stats };
}

/** `prior`: a gradient x already has from another branch (a residual), added to dx in the same dispatch. */
export function layerNormBackward(x: Tensor, gamma: Tensor, stats: Tensor, dy: Tensor, prior?: Tensor): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const n = x.shape[x.rank - 1]!;
  const rows = x.size / n;
  const dx = Tensor.empty(x.shape);
  // One dispatch for dx and the parameters' gradients up to ROWS_PER_SPLIT rows (every transformer block's
  // LayerNorm at batch 64 and 8 tokens), their split sums combined by a second above.
  const splits = Math.ceil(rows / ROWS_PER_SPLIT);
  const [dgammaParts, dbetaParts] = [Tensor.empty([splits, n]), Tensor.empty([splits, n])];
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
  if (splits === 1) return { dx, dgamma: dgammaParts.intoShape([n]), dbeta: dbetaParts.intoShape([n]) };
  const [dgamma, dbeta] = [Tensor.empty([n]), Tensor.empty([n])];
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
