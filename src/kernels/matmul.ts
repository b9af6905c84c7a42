// Batched matrix multiply with either operand transposed, an optional fused bias and scale.
import { engine } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { binaryForward } from './elementwise.js';
import { launch, read, write, type KernelSpec } from './launch.js';
import { sumSlabs } from './reduce.js';

/** Longest K run one invocation accumulates before the product is split (see matmul.wgsl). */
const MATMUL_K_CHUNK = 16_384;

/** Rows of the tall tile that matmul_wide.wgsl computes per invocation on CPU adapters. */
const WIDE_TILE_ROWS = 16;

/** Invocations per workgroup, each computing a 4x4 tile (measured on llvmpipe: 64-256 are within noise). */
const MATMUL_WG = 128;

const MATMUL_UNIFORMS = {
  M: 'u32', N: 'u32', K: 'u32', batch: 'u32', a_batch: 'u32', b_batch: 'u32', tiles_m: 'u32', tiles_n: 'u32',
  alpha: 'f32', k_chunk: 'u32', splits: 'u32',
} as const;

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: Tensor;
  alpha?: number;
  /** An activation applied in the epilogue (inference paths: it has no gradient here). */
  activation?: 'relu6';
  /** Ledger name (e.g. 'token-pool' when TokenLearner pooling runs on this kernel). */
  op?: string;
}

/**
 * A: [batchA, M, K] (or [batchA, K, M] with transA), B: [batchB, K, N] (or [batchB, N, K]); a batch of 1 broadcasts.
 * Shapes are given explicitly so callers can pass views of any rank.
 */
export function matmulKernel(
  a: Tensor,
  b: Tensor,
  dims: { batch: number; M: number; N: number; K: number; aBatched: boolean; bBatched: boolean },
  options: MatmulOptions = {},
): Tensor {
  const { batch, M, N, K } = dims;
  const splits = Math.ceil(K / MATMUL_K_CHUNK);
  const kChunk = Math.ceil(K / splits / 4) * 4;
  const out = Tensor.empty([splits, batch, M, N]);
  // The tall-tile kernel reads either operand transposed through 4x4 register transposes (no copy).
  const wide = engine().runtime.kernelVariants === 'cpu' && M >= WIDE_TILE_ROWS && K % 4 === 0 && N % 4 === 0 && (!options.transA || M % 4 === 0);
  const vecA = wide || (!options.transA && K % 4 === 0);
  const vecB = wide || (!options.transB && N % 4 === 0);
  const tilesM = Math.ceil(M / (wide ? WIDE_TILE_ROWS : 4));
  const tilesN = Math.ceil(N / (wide ? 8 : 4));
  const alpha = options.alpha ?? 1;
  const hasBias = options.bias !== undefined && splits === 1;
  const relu6 = options.activation === 'relu6';
  if (relu6 && splits > 1) throw new Error(`matmul: a fused activation needs K <= ${MATMUL_K_CHUNK}, got ${K}`);
  const outputs = batch * M * N;
  const kernel: KernelSpec = {
    name: wide ? 'matmul-wide' : 'matmul',
    file: wide ? 'matmul_wide.wgsl' : 'matmul.wgsl',
    constants: { TRANS_A: !!options.transA, TRANS_B: !!options.transB, VEC_A: vecA, VEC_B: vecB, HAS_BIAS: hasBias, HAS_ALPHA: alpha !== 1, RELU6: relu6 },
    bindings: [read('A', vecA ? 'vec4f' : 'f32'), read('B', vecB ? 'vec4f' : 'f32'), ...(hasBias ? [read('bias')] : []), write('C')],
    uniforms: MATMUL_UNIFORMS,
    workgroupSize: MATMUL_WG,
  };
  launch({
    kernel,
    op: options.op ?? 'matmul',
    uniforms: {
      M, N, K, batch,
      a_batch: dims.aBatched ? M * K : 0,
      b_batch: dims.bBatched ? K * N : 0,
      tiles_m: tilesM,
      tiles_n: tilesN,
      alpha,
      k_chunk: kChunk,
      splits,
    },
    tensors: hasBias ? { A: a, B: b, bias: options.bias!, C: out } : { A: a, B: b, C: out },
    invocations: splits * batch * tilesM * tilesN,
    counts: { fma: outputs * K, mul: alpha !== 1 ? splits * outputs : 0, add: hasBias ? outputs : 0, cmp: relu6 ? 2 * outputs : 0 },
    macs: outputs * K,
  });
  if (splits === 1) return out.intoShape([batch, M, N]);
  let result = sumSlabs(out, [batch, M, N]);
  if (options.bias) {
    const biased = binaryForward('add', result, options.bias);
    result.dispose();
    result = biased;
  }
  return result;
}
