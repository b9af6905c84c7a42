// LayerNorm and the dense layer after it in one dispatch: in inference the normalised rows live only in workgroup
// memory; in training the kernel also writes them, and the rows' statistics, for the gradients. A transformer
// block's two LayerNorms feed products (Q/K/V, the MLP's first layer), and a classifier head's feeds the mean over
// tokens and its dense layer: each pair is one kernel instead of two.
import { plusCounts, scaled } from '../tensor/counts.js';
import { Tensor } from '../tensor/tensor.js';
import { DROPOUT_UNIFORMS, dropoutCounts, dropoutUniforms, type DropoutMask } from './dropout.js';
import { UNARY } from './elementwise.js';
import { launch, read, write, WORKGROUP_MEMORY_FLOATS } from './launch.js';
import { layerNormCounts } from './layernorm.js';
import { EPILOGUE_OFF } from './matmul.js';

/** Invocations of a workgroup; it normalises 8 or 16 rows together (each weight it reads serves them all), a row's
 * statistics summed by WORKGROUP / rows lanes. */
const WORKGROUP = 64;
export type LayerNormLinearRows = 8 | 16;

/** Output columns a workgroup covers, two quads an invocation: narrower products leave invocations idle. */
export const LAYERNORM_LINEAR_GROUP_COLUMNS = 2 * 4 * WORKGROUP;

/** Whether `rows` rows of K features fit the kernel's workgroup memory (with a pooled row and the lanes' parts). */
export function layerNormLinearFits(features: number, rows: LayerNormLinearRows): boolean {
  return (rows + 1) * features + WORKGROUP <= WORKGROUP_MEMORY_FLOATS;
}

export interface LayerNormLinearOptions {
  /** Weight matrices [K, N] in `w`, `step` elements apart (default 1 and K * N): Q, K and V packed. */
  stack?: { count: number; step: number; biasStep: number };
  bias?: Tensor;
  activation?: 'gelu';
  /** Average each run of `meanOver` normalised rows (a batch element's tokens) before the product. */
  meanOver?: number;
  /** Rows a workgroup normalises together (default 8). */
  rowsPerGroup?: LayerNormLinearRows;
  /** Training: where to write the normalised rows (x's shape) and each row's (mean, rstd) [rows, 2], as
   * layerNormForward gives them for the gradients. Not with a mean. */
  keep?: { y: Tensor; stats: Tensor };
  /** Training: where to keep the activation's input (laid out as the output), for its gradient. */
  preActivation?: Tensor;
  /** Dropout after the activation, element i of the output as the dropout kernel draws it. */
  dropout?: DropoutMask;
}

/**
 * LayerNorm(x) over the last axis, then times w [K, N] (each of the stack's), plus the bias, then the activation:
 * [stack, rows, N] (or [rows / meanOver, N]). `eps` as the LayerNorm's.
 */
export function layerNormLinearKernel(x: Tensor, gamma: Tensor, beta: Tensor, eps: number, w: Tensor, N: number, options: LayerNormLinearOptions = {}): Tensor {
  const K = x.shape[x.rank - 1]!;
  const rows = x.size / K;
  const { count: stack, step, biasStep } = options.stack ?? { count: 1, step: K * N, biasStep: N };
  const tokens = options.meanOver ?? 0;
  const ROWS = options.rowsPerGroup ?? 8;
  if (!layerNormLinearFits(K, ROWS)) throw new Error(`layerNormLinear: ${K} features do not fit the kernel's workgroup memory`);
  if (gamma.size !== K || beta.size !== K) throw new Error(`layerNormLinear: gamma and beta need ${K} values for input [${x.shape.join(', ')}]`);
  if (tokens > 0 && (stack !== 1 || rows % tokens !== 0)) throw new Error(`layerNormLinear: a mean over ${tokens} rows needs one weight matrix and whole runs of rows`);
  const keep = options.keep;
  if (keep && (tokens > 0 || keep.y.size !== x.size || keep.stats.size !== 2 * rows)) throw new Error('layerNormLinear: keeps the normalised rows (x\'s size) and two statistics a row, with no mean');
  const outRows = tokens > 0 ? rows / tokens : rows;
  const out = Tensor.empty(tokens > 0 ? [outRows, N] : [stack, rows, N]);
  const columnGroups = Math.ceil((stack * Math.ceil(N / 4) * 4) / LAYERNORM_LINEAR_GROUP_COLUMNS);
  const rowGroups = tokens > 0 ? outRows : Math.ceil(rows / ROWS);
  const vecB = N % 4 === 0 && step % 4 === 0 && w.byteOffset % 16 === 0;
  const vecC = N % 4 === 0;
  const bias = options.bias;
  const outputs = stack * outRows * N;
  const activation = options.activation;
  const { preActivation, dropout } = options;
  if (preActivation && (!activation || preActivation.size !== outputs)) throw new Error('layerNormLinear: a pre-activation is kept for an activation, in a tensor of the output\'s size');
  const drop = dropout && dropoutUniforms(dropout);
  launch({
    kernel: {
      name: `layernorm-linear${tokens > 0 ? '-mean' : ROWS === 16 ? '-16rows' : ''}${keep ? '+keep' : ''}`,
      file: 'layernorm_linear.wgsl',
      constants: {
        ...EPILOGUE_OFF,
        ROWS, K, MEAN: tokens > 0, VEC_B: vecB, VEC_C: vecC, HAS_BIAS: bias !== undefined, HAS_ALPHA: tokens > 1,
        ACTIVATION: activation !== undefined, ACT_EXPR: activation ? UNARY[activation].expr : '', ACTIVATION_HELPERS: activation !== undefined,
        KEEP: keep !== undefined, KEEP_PRE: preActivation !== undefined, DROPOUT: drop !== undefined, DROPOUT_MASK: drop !== undefined,
      },
      bindings: [
        read('X'), read('gamma'), read('beta'), read('B', vecB ? 'vec4f' : 'f32'), ...(bias ? [read('bias')] : []), write('C', vecC ? 'vec4f' : 'f32'),
        ...(keep ? [write('Y'), write('stats', 'vec2f')] : []),
        ...(preActivation ? [write('Z', vecC ? 'vec4f' : 'f32')] : []),
      ],
      // M, N, ldc, alpha and bias_stride as the epilogue reads them
      uniforms: { M: 'u32', N: 'u32', ldc: 'u32', alpha: 'f32', bias_stride: 'u32', stack: 'u32', b_step: 'u32', tokens: 'u32', column_groups: 'u32', eps: 'f32', inv_k: 'f32', ...(drop ? DROPOUT_UNIFORMS : {}) },
      workgroupSize: WORKGROUP,
      entry: 'workgroup',
    },
    op: tokens > 0 ? 'layernorm-mean-linear' : 'layernorm-linear',
    uniforms: { M: outRows, N, ldc: N, alpha: tokens > 0 ? 1 / tokens : 1, bias_stride: stack > 1 ? biasStep : 0, stack, b_step: step, tokens, column_groups: columnGroups, eps, inv_k: 1 / K, ...drop?.fixed },
    // the dropout's seed changes at every step and replay
    ...(drop ? { replayUniforms: drop.changing } : {}),
    tensors: { X: x, gamma, beta, B: w, ...(bias ? { bias } : {}), C: out, ...(keep ? { Y: keep.y, stats: keep.stats } : {}), ...(preActivation ? { Z: preActivation } : {}) },
    workgroups: rowGroups * columnGroups,
    counts: plusCounts(
      // every column group normalises its rows again
      scaled(layerNormCounts(rows, K, WORKGROUP / ROWS), columnGroups),
      // the mean: each row's values added to the pooled row (from zero), times 1/tokens in the epilogue
      tokens > 0 ? { add: columnGroups * rows * K, mul: tokens > 1 ? outputs : 0 } : {},
      { fma: outputs * K, add: bias ? outputs : 0 },
      activation ? scaled(UNARY[activation].counts, outputs) : {},
      drop ? dropoutCounts(outputs) : {},
    ),
    macs: outputs * K,
  });
  return out;
}
