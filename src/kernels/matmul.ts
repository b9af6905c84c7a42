// Batched matrix multiply with either operand transposed, and an epilogue: scale, bias, activation, residual.
import { plusCounts, scaled } from '../tensor/counts.js';
import { engine } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { binaryForward, UNARY } from './elementwise.js';
import { DROPOUT_UNIFORMS, dropoutCounts, dropoutUniforms, type DropoutMask } from './dropout.js';
import { laneCandidates, laneLayout } from './lanes.js';
import { launch, read, write, type KernelSpec } from './launch.js';
import { sumSlabs } from './reduce.js';
import { choose, scratchLike, type Bench, type Family } from './tuner.js';

/** Longest K run one invocation accumulates before the product is split (see matmul.wgsl). */
const MATMUL_K_CHUNK = 16_384;

/** Invocations a product should offer (K is split further below that): eight workgroups for llvmpipe's threads;
 * on a GPU, enough to fill its cores. */
const MIN_INVOCATIONS = { cpu: 1024, gpu: 16_384 } as const;

/** K values the staged tile copies into workgroup memory at a time (16 rows of them: half of it). */
const STAGED_K_RUN = 128;

/** The shortest K run worth a split of its own (each split's partial product is written out and summed). */
const MIN_SPLIT_K = 1024;

/** One way to compute a product: its shader, the block of C one invocation (or one workgroup) computes. */
interface MatmulVariant {
  /** Kernel name in the ledger and profiles. */
  kernel: string;
  file: string;
  rows: number;
  cols: number;
  workgroupSize: number;
  /** A workgroup computes the block together (through workgroup memory) rather than each invocation its own. */
  perWorkgroup?: boolean;
  /** A subgroup computes each tile, its lanes splitting K (kernels/lanes.ts lays the tiles out as rows). */
  perSubgroup?: boolean;
  /** A workgroup stages its rows of A in workgroup memory and each invocation computes `rows` x `cols` of C from
   * them: the workgroup's size (and so its block's width) follows N. */
  stagesA?: boolean;
}

/**
 * The candidates, as the tuner names them. CPU class: the 4x4 register tile with no workgroup memory (barriers
 * are expensive on llvmpipe; its workgroup size measured within noise from 64 to 256 there), the 16x8 tall tile
 * (wide gathers: 2-3x faster on llvmpipe), and the 16x16 tile whose workgroup shares its rows of A through
 * workgroup memory (two barriers per 128 values of K). GPU class: the 64x64 block through workgroup memory, and
 * the 4x4 tile per subgroup (lanes splitting K, for small outputs over long K) where the subgroups have one fixed
 * size.
 */
const MATMUL_VARIANTS: Readonly<Record<string, MatmulVariant>> = {
  tile4x4: { kernel: 'matmul', file: 'matmul.wgsl', rows: 4, cols: 4, workgroupSize: 128 },
  'tile4x4-wg64': { kernel: 'matmul-wg64', file: 'matmul.wgsl', rows: 4, cols: 4, workgroupSize: 64 },
  'tile4x4-wg256': { kernel: 'matmul-wg256', file: 'matmul.wgsl', rows: 4, cols: 4, workgroupSize: 256 },
  wide16x8: { kernel: 'matmul-wide', file: 'matmul_wide.wgsl', rows: 16, cols: 8, workgroupSize: 128 },
  staged16x16: { kernel: 'matmul-staged', file: 'matmul_staged.wgsl', rows: 16, cols: 16, workgroupSize: 64, perWorkgroup: true, stagesA: true },
  tiled64: { kernel: 'matmul-tiled', file: 'matmul_tiled.wgsl', rows: 64, cols: 64, workgroupSize: 256, perWorkgroup: true },
  subgroup4x4: { kernel: 'matmul-subgroup', file: 'matmul_subgroup.wgsl', rows: 4, cols: 4, workgroupSize: 0, perSubgroup: true },
};

/** Every variant's name, for tests that force each in turn. */
export const MATMUL_VARIANT_NAMES = Object.keys(MATMUL_VARIANTS);

interface MatmulProblem {
  batch: number;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  /** Products summed into each output (MatmulDims.summed). */
  summed: number;
  /** The tall tile can compute it (vec4 operands, at least 16 rows); the block and subgroup tiles can (no column
   * sums, no sums of products). */
  wideFits: boolean;
  tiledFits: boolean;
  stagedFits: boolean;
  /** The device's subgroup size where the subgroup tile can run on it (one fixed size). */
  subgroupSize: number | undefined;
  classRule: 'cpu' | 'gpu';
  /** Mesa's llvmpipe (OpenGL ES or lavapipe), whose per-lane storage loads the staged tile saves: SwiftShader, the
   * other software adapter, ran it 9x slower than the tall tile on the same products. */
  llvmpipe: boolean;
}

const stagedRule = (p: MatmulProblem) => p.llvmpipe && p.stagedFits && p.M >= 128 && p.N >= 256;

const MATMUL_FAMILY: Family<MatmulProblem> = {
  name: 'matmul',
  // the exact shape: products within a factor of two of each other measured up to 2.4x apart in the variants'
  // ratio on llvmpipe, so a class wider than one shape chose wrongly for some of its members
  key: (p) =>
    `${p.transA ? 't' : 'n'}${p.transB ? 't' : 'n'} batch ${p.batch}${p.summed > 1 ? ` sum ${p.summed}` : ''} ${p.M}x${p.N}x${p.K}${p.wideFits ? '' : ' no-wide'}${p.tiledFits ? '' : ' no-tiled'}`,
  candidates: (p) => [
    'tile4x4', 'tile4x4-wg64', 'tile4x4-wg256', ...(p.wideFits ? ['wide16x8'] : []), ...(p.stagedFits ? ['staged16x16'] : []), ...(p.tiledFits ? ['tiled64'] : []),
    ...(p.tiledFits && p.subgroupSize !== undefined ? ['subgroup4x4'] : []),
  ],
  // the rule written from llvmpipe: on software adapters the tall tile wherever it fits, on Mesa's the staged tile
  // for products of at least 128 x 256 with B read along its rows (a weight gradient over every token: 1.2-1.4x the
  // tall tile, 1.05-1.45x on lavapipe); the 4x4 tile elsewhere
  rule: (p) => (p.classRule !== 'cpu' ? 'tile4x4' : stagedRule(p) ? 'staged16x16' : p.wideFits ? 'wide16x8' : 'tile4x4'),
};

const MATMUL_UNIFORMS = {
  M: 'u32', N: 'u32', K: 'u32', batch: 'u32', inner_batches: 'u32',
  lda: 'u32', a_outer: 'u32', a_inner: 'u32', ldb: 'u32', b_outer: 'u32', b_inner: 'u32',
  ldc: 'u32', c_outer: 'u32', c_inner: 'u32', c_split: 'u32',
  tiles_m: 'u32', tiles_n: 'u32', alpha: 'f32', k_chunk: 'u32', splits: 'u32', bias_stride: 'u32',
  sum_batches: 'u32', a_sum: 'u32', b_sum: 'u32',
} as const;

/** matmul_epilogue.wgsl's switches, all off: another kernel that ends in the epilogue turns on what it uses. */
export const EPILOGUE_OFF = {
  VEC_C: false, HAS_BIAS: false, HAS_ALPHA: false, ACTIVATION: false, ACT_EXPR: '', KEEP_PRE: false, HAS_RESIDUAL: false, DROPOUT: false,
  RESIDUAL_BROADCAST: false, ACT_GRAD: false, ACT_GRAD_EXPR: '', GRAD_DROPOUT: false, ACTIVATION_HELPERS: false, DROPOUT_MASK: false,
} as const;

const RESIDUAL_BROADCAST_UNIFORMS = { r_period: 'u32', r_row: 'u32', r_col: 'u32' } as const;

/**
 * Where an operand's matrices lie in its buffer: row r at r * ld, and batch b (of `innerBatches` per outer batch)
 * at floor(b / innerBatches) * outer + (b % innerBatches) * inner, all in elements.
 */
export interface Strided {
  ld: number;
  outer: number;
  inner: number;
}

export interface MatmulDims {
  batch: number;
  M: number;
  N: number;
  K: number;
  /** Whether A and B hold a matrix per batch (else one, broadcast), when their layouts are not given. */
  aBatched: boolean;
  bBatched: boolean;
  /** Batches per outer batch (attention heads); default 1. */
  innerBatches?: number;
  a?: Strided;
  b?: Strided;
  /**
   * Each output matrix (batch 1) is the sum of `count` products, the i-th reading A and B `a` and `b` elements
   * further on than the first: a gradient summed over the products an operand fed. One dispatch with the GPU
   * kernel variants (the register-tile kernels; not the workgroup block); on CPU adapters the products and a sum.
   */
  summed?: { count: number; a: number; b: number };
  /**
   * The output's layout and shape (a strided output: e.g. every head writing its columns of [B, T, H * D]), and
   * the tensor to write it into when it exists already (a part of a packed gradient).
   */
  out?: { shape: readonly number[]; layout: Strided; into?: Tensor };
}

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: Tensor;
  /** Elements between the biases of consecutive batches (stacked products, each its own bias); 0: one bias for all. */
  biasStride?: number;
  alpha?: number;
  /** An activation applied in the epilogue, after the bias. */
  activation?: EpilogueActivation;
  /** Where to keep the values before the activation (for its gradient): a tensor of the output's size. */
  preActivation?: Tensor;
  /** Dropout after the activation (before the residual), element i of the output as the dropout kernel draws it. */
  dropout?: DropoutMask;
  /** Added last, after the activation: a tensor laid out as the output (a residual connection), or as
   * `residualBroadcast` says. */
  residual?: Tensor;
  /** The residual broadcast over the output's rows or columns (a 1-channel input over every channel, a table over
   * the batch). */
  residualBroadcast?: ResidualBroadcast;
  /**
   * The product is the gradient of a layer's output that went through `activation` (at `preActivation`, laid out
   * as this output) and then `dropout`: the epilogue masks it and multiplies by the activation's derivative, giving
   * the gradient of the layer's pre-activation (that layer's own gradient dispatch, saved).
   */
  activationGrad?: ActivationGrad;
  /**
   * Also sum op(B)'s columns over K and return them as an extra row M of the result ([batch, M + 1, N]): with B a
   * layer's output gradient and A its input, the bias's gradient from the weight gradient's own dispatch.
   */
  columnSums?: boolean;
  /** The tensor to write the packed result into (of its size: a parameter's place in a gradient arena), returned
   * as it is. */
  into?: Tensor;
  /**
   * Multiply-adds under the MAC convention, where the product stands for other model ops than one product (a mean
   * over tokens and a dense layer: the dense layer's); default: the product's.
   */
  macs?: number;
  /** Ledger name (e.g. 'token-pool' when TokenLearner pooling runs on this kernel). */
  op?: string;
}

/**
 * Where the residual of the output's row g (counted over the whole packed output) and column n lies:
 * (g % period) * row + n * col elements into it.
 */
export interface ResidualBroadcast {
  period: number;
  row: number;
  col: number;
}

/** Activations an epilogue applies (the expressions of elementwise.ts's table); only GELU keeps its input for a gradient. */
export type EpilogueActivation = 'relu6' | 'gelu' | 'sigmoid';

/** A layer's activation and dropout, through which a gradient product's epilogue takes the gradient back. */
export interface ActivationGrad {
  activation: 'gelu';
  preActivation: Tensor;
  dropout?: DropoutMask;
}

const aligned = (s: Strided) => s.ld % 4 === 0 && s.outer % 4 === 0 && s.inner % 4 === 0;

/**
 * op(A) [M, K] times op(B) [K, N] for each batch, op a transpose where asked; by default A is [batchA, M, K] (or
 * [batchA, K, M] with transA) and B [batchB, K, N] (or [batchB, N, K]), contiguous, a batch of 1 broadcast, and
 * the result [batch, M, N]. Strided layouts read and write matrices in place inside larger tensors.
 */
export function matmulKernel(a: Tensor, b: Tensor, dims: MatmulDims, options: MatmulOptions = {}): Tensor {
  const { batch, M, N, K } = dims;
  const transA = !!options.transA;
  const transB = !!options.transB;
  // Contiguous by default: batch b = outer * I + inner lies at b * (matrix size).
  const I = dims.innerBatches ?? 1;
  const packed = (ld: number, size: number, batched: boolean): Strided => (batched ? { ld, outer: I * size, inner: size } : { ld, outer: 0, inner: 0 });
  const la: Strided = dims.a ?? packed(transA ? M : K, M * K, dims.aBatched);
  const lb: Strided = dims.b ?? packed(transB ? K : N, K * N, dims.bBatched);
  const classRule = engine().runtime.kernelVariants;
  const summed = dims.summed ?? { count: 1, a: 0, b: 0 };
  const { into, ...rest } = options;
  if (summed.count > 1 && classRule === 'cpu' && !dims.out && !options.bias && !options.activation && !options.residual && !options.dropout && !options.activationGrad) {
    // On CPU adapters the products apart and a sum: summed in one product, a matrix has a count-th of the tiles,
    // and on llvmpipe that ran slower (Q, K and V's input gradient: 12 ms a TASR_4L training step at batch 16)
    const apart = (l: Strided, step: number): Strided => ({ ld: l.ld, outer: step, inner: step });
    const each = matmulKernel(a, b, { batch: summed.count, M, N, K, aBatched: true, bBatched: true, a: apart(la, summed.a), b: apart(lb, summed.b) }, rest);
    return sumSlabs(each, [batch, M + (options.columnSums ? 1 : 0), N], into);
  }
  const problem: MatmulProblem = {
    batch, M, N, K, transA, transB, classRule, summed: summed.count, llvmpipe: engine().runtime.llvmpipe,
    // the tall tile reads either operand transposed through 4x4 register transposes (no copy)
    wideFits: summed.a % 4 === 0 && summed.b % 4 === 0 && M >= MATMUL_VARIANTS.wide16x8!.rows && K % 4 === 0 && N % 4 === 0 && (!transA || M % 4 === 0) && aligned(la) && aligned(lb),
    tiledFits: summed.count === 1 && !options.columnSums,
    // the staged tile reads B's rows as vec4s (a transposed B measured slower there than in the tall tile); narrower
    // than a SIMD group's 8 invocations of 16 columns, or a row block of 16, it idles lanes (5x slower at N 16)
    stagedFits: summed.count === 1 && !transB && N >= 128 && M >= 16,
    subgroupSize: laneCandidates(engine().runtime.subgroupSize).includes('subgroup') ? engine().runtime.subgroupSize : undefined,
  };
  const variant = MATMUL_VARIANTS[choose(MATMUL_FAMILY, problem, () => scratchBench(a, b, dims, options))]!;
  const wide = variant === MATMUL_VARIANTS.wide16x8;
  // the staged block: 8 to 64 invocations across N, four quads each
  const workgroupSize = variant.stagesA ? Math.min(variant.workgroupSize, Math.max(8, 2 ** Math.ceil(Math.log2(Math.ceil(N / variant.cols))))) : variant.workgroupSize;
  const tilesM = Math.ceil(M / variant.rows);
  const tilesN = Math.ceil(N / (variant.stagesA ? variant.cols * workgroupSize : variant.cols));
  const { activation, preActivation, residual, dropout, activationGrad } = options;
  // an epilogue past the bias needs the whole sum in one invocation
  const fused = activation !== undefined || residual !== undefined || dropout !== undefined || activationGrad !== undefined;
  if (activationGrad && (activation || residual || dropout || options.bias)) throw new Error("matmul: an activation's gradient goes with no other epilogue");
  let splits = Math.ceil(K / MATMUL_K_CHUNK);
  if (dims.out && splits > 1) throw new Error(`matmul: a strided output needs K <= ${MATMUL_K_CHUNK}, got ${K}`);
  if (fused && splits > 1) throw new Error(`matmul: a fused activation, dropout or residual needs K <= ${MATMUL_K_CHUNK}, got ${K}`);
  if (fused && dims.out) throw new Error('matmul: a fused activation, dropout or residual needs a packed output');
  if (options.biasStride && (splits > 1 || dims.out)) throw new Error('matmul: per-batch biases need a packed output and K in one run');
  const columnSums = !!options.columnSums;
  if (columnSums && (fused || dims.out || options.bias)) throw new Error('matmul: column sums go with a packed output and no other epilogue');
  // rows of each output matrix: M, and the column sums' row
  const rows = M + (columnSums ? 1 : 0);
  const broadcast = options.residualBroadcast;
  for (const [name, t] of [['preActivation', preActivation], ['residual', broadcast ? undefined : residual], ['activationGrad.preActivation', activationGrad?.preActivation]] as const) {
    if (t && t.size !== batch * M * N) throw new Error(`matmul: ${name} [${t.shape.join(', ')}] does not hold the ${batch * M * N} outputs`);
  }
  if (broadcast && (!residual || (Math.min(broadcast.period, batch * M) - 1) * broadcast.row + (N - 1) * broadcast.col >= residual.size)) {
    throw new Error(`matmul: the broadcast residual ${residual ? `[${residual.shape.join(', ')}]` : '(none)'} is smaller than its layout reaches`);
  }
  if (preActivation && !activation) throw new Error('matmul: preActivation is kept only for an activation');
  if (!dims.out && !fused) {
    // A small output over a long K (a weight gradient summed over every pixel) would leave cores idle: split K
    // further, down to runs of MIN_SPLIT_K, until there are invocations enough for every core.
    const perTile = variant.perWorkgroup ? workgroupSize : variant.perSubgroup ? problem.subgroupSize! : 1;
    const wanted = Math.ceil(MIN_INVOCATIONS[classRule] / (batch * tilesM * tilesN * perTile));
    splits = Math.max(splits, Math.min(wanted, Math.floor(K / MIN_SPLIT_K)));
  }
  const lc: Strided = dims.out?.layout ?? packed(N, rows * N, true);
  const kChunk = Math.ceil(K / splits / 4) * 4;
  if (options.into && (dims.out || options.bias || options.into.size !== batch * rows * N)) throw new Error(`matmul: 'into' [${options.into.shape.join(', ')}] must hold the packed ${batch * rows * N} outputs, with no bias`);
  const out = dims.out?.into ?? (splits === 1 ? options.into : undefined) ?? Tensor.empty(dims.out?.shape ?? [splits, batch, rows, N]);
  // the block tile reads single values into workgroup memory, the staged one A's
  const vecA = wide || (!variant.perWorkgroup && !transA && K % 4 === 0 && aligned(la) && summed.a % 4 === 0);
  const vecB = wide || ((!variant.perWorkgroup || !!variant.stagesA) && !transB && N % 4 === 0 && aligned(lb) && summed.b % 4 === 0);
  const vecC = N % 4 === 0 && aligned(lc);
  const cType = vecC ? 'vec4f' : 'f32';
  const alpha = options.alpha ?? 1;
  const mask = dropout ?? activationGrad?.dropout;
  const drop = mask && dropoutUniforms(mask);
  const hasBias = options.bias !== undefined && splits === 1;
  const outputs = batch * M * N;
  const tiles = splits * batch * tilesM * tilesN;
  // the subgroup tile: tiles laid out over subgroups as rows are, each tile's K across the lanes
  const lanes = variant.perSubgroup ? laneLayout('subgroup', tiles, K, problem.subgroupSize) : undefined;
  const kernel: KernelSpec = {
    name: variant.kernel,
    file: variant.file,
    constants: {
      TRANS_A: transA, TRANS_B: transB, VEC_A: vecA, VEC_B: vecB, VEC_C: vecC, HAS_BIAS: hasBias, HAS_ALPHA: alpha !== 1,
      ACTIVATION: activation !== undefined, ACT_EXPR: activation ? UNARY[activation].expr : '', KEEP_PRE: preActivation !== undefined, HAS_RESIDUAL: residual !== undefined,
      COLUMN_SUMS: columnSums, DROPOUT: dropout !== undefined, RESIDUAL_BROADCAST: broadcast !== undefined,
      ACT_GRAD: activationGrad !== undefined, ACT_GRAD_EXPR: activationGrad ? UNARY[activationGrad.activation].grad : '', GRAD_DROPOUT: activationGrad?.dropout !== undefined,
      // the loop over summed products only where there is one (around the K loop it slowed llvmpipe's tall tile)
      SUMMED: summed.count > 1,
      ACTIVATION_HELPERS: activation !== undefined || activationGrad !== undefined, DROPOUT_MASK: mask !== undefined,
      ...lanes?.constants,
      ...(variant.stagesA ? { KC: STAGED_K_RUN, ROWS: variant.rows, QUADS: variant.cols / 4 } : {}),
    },
    bindings: [
      read('A', vecA ? 'vec4f' : 'f32'),
      read('B', vecB ? 'vec4f' : 'f32'),
      ...(hasBias ? [read('bias')] : []),
      ...(residual ? [read('R', broadcast ? 'f32' : cType)] : []),
      ...(preActivation ? [write('Z', cType)] : []),
      ...(activationGrad ? [read('P', cType)] : []),
      write('C', cType),
    ],
    uniforms: { ...MATMUL_UNIFORMS, ...(drop ? DROPOUT_UNIFORMS : {}), ...(broadcast ? RESIDUAL_BROADCAST_UNIFORMS : {}), ...(lanes ? { rows: 'u32' as const } : {}) },
    ...(lanes ? lanes.spec : { workgroupSize, ...(variant.perWorkgroup ? { entry: 'workgroup' as const } : {}) }),
  };
  launch({
    kernel,
    op: options.op ?? 'matmul',
    uniforms: {
      M, N, K, batch,
      inner_batches: I,
      lda: la.ld, a_outer: la.outer, a_inner: la.inner,
      ldb: lb.ld, b_outer: lb.outer, b_inner: lb.inner,
      ldc: lc.ld, c_outer: lc.outer, c_inner: lc.inner, c_split: batch * rows * N,
      tiles_m: tilesM,
      tiles_n: tilesN,
      alpha,
      k_chunk: kChunk,
      splits,
      bias_stride: options.biasStride ?? 0,
      sum_batches: summed.count, a_sum: summed.a, b_sum: summed.b,
      ...drop?.fixed,
      ...(broadcast ? { r_period: broadcast.period, r_row: broadcast.row, r_col: broadcast.col } : {}),
      ...(lanes ? { rows: tiles } : {}),
    },
    ...(drop ? { replayUniforms: drop.changing } : {}),
    tensors: {
      A: a, B: b, ...(hasBias ? { bias: options.bias! } : {}), ...(residual ? { R: residual } : {}), ...(preActivation ? { Z: preActivation } : {}),
      ...(activationGrad ? { P: activationGrad.preActivation } : {}), C: out,
    },
    ...(lanes ? lanes.work : variant.perWorkgroup ? { workgroups: tiles } : { invocations: tiles }),
    counts: plusCounts(
      {
        fma: outputs * K * summed.count,
        mul: alpha !== 1 ? splits * batch * rows * N : 0,
        // the column sums: each of a matrix's N columns adds its K values to a zero
        // (the subgroup tile: each lane adds its products to a zero, then the lanes' tiles meet, lanes - 1 adds)
        add: (hasBias ? outputs : 0) + (residual ? outputs : 0) + (columnSums ? batch * N * K * summed.count : 0) + (lanes ? splits * outputs * (lanes.lanes - 1) : 0),
      },
      activation ? scaled(UNARY[activation].counts, outputs) : {},
      activationGrad ? scaled(UNARY[activationGrad.activation].gradCounts, outputs) : {},
      // dropout (or its gradient): a compare and a multiply per output, as the dropout kernel declares
      mask ? dropoutCounts(outputs) : {},
    ),
    macs: options.macs ?? outputs * K * summed.count,
    bytesWritten: 4 * splits * batch * rows * N * (preActivation ? 2 : 1),
  });
  if (dims.out || out === options.into) return out;
  if (splits === 1) return out.intoShape([batch, rows, N]);
  let result = sumSlabs(out, [batch, rows, N], options.into);
  if (options.bias) {
    const biased = binaryForward('add', result, options.bias);
    result.dispose();
    result = biased;
  }
  return result;
}

/** The same product on scratch operands of the same shapes (random values), for the tuner to time. */
function scratchBench(a: Tensor, b: Tensor, dims: MatmulDims, options: MatmulOptions): Bench {
  const made: Tensor[] = [];
  const like = (t: Tensor) => {
    const copy = scratchLike(t);
    made.push(copy);
    return copy;
  };
  const scratchDims: MatmulDims = dims.out?.into ? { ...dims, out: { ...dims.out, into: like(dims.out.into) } } : dims;
  const scratchOptions: MatmulOptions = {
    ...options,
    ...(options.bias ? { bias: like(options.bias) } : {}),
    ...(options.residual ? { residual: like(options.residual) } : {}),
    ...(options.preActivation ? { preActivation: like(options.preActivation) } : {}),
    ...(options.into ? { into: like(options.into) } : {}),
    ...(options.activationGrad ? { activationGrad: { ...options.activationGrad, preActivation: like(options.activationGrad.preActivation) } } : {}),
  };
  const [sa, sb] = [like(a), like(b)];
  return { run: () => void matmulKernel(sa, sb, scratchDims, scratchOptions), dispose: () => made.forEach((t) => t.dispose()) };
}
