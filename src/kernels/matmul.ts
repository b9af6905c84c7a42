// Batched matrix multiply with either operand transposed, an optional fused bias and scale.
import { Tensor } from '../tensor/tensor.js';
import { binaryForward } from './elementwise.js';
import { groups, launch, Uniforms, WG } from './launch.js';
import { reduceAxis } from './reduce.js';

/** Longest K run one invocation accumulates before the product is split (see matmul.wgsl). */
export const MATMUL_K_CHUNK = 16_384;

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: Tensor;
  alpha?: number;
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
  const kChunk = Math.ceil(K / splits);
  const out = Tensor.empty([splits, batch, M, N]);
  const tilesM = Math.ceil(M / 4);
  const tilesN = Math.ceil(N / 4);
  const alpha = options.alpha ?? 1;
  const vecB = !options.transB && N % 4 === 0 && (!dims.bBatched || (K * N) % 4 === 0);
  const uniforms = new Uniforms(48)
    .u32(M)
    .u32(N)
    .u32(K)
    .u32(batch)
    .u32(dims.aBatched ? M * K : 0)
    .u32(dims.bBatched ? K * N : 0)
    .u32(tilesM)
    .u32(tilesN)
    .f32(alpha)
    .u32(kChunk)
    .u32(splits)
    .u32(0);
  const hasBias = options.bias !== undefined && splits === 1;
  const outputs = batch * M * N;
  launch({
    spec: {
      name: 'matmul',
      file: 'matmul.wgsl',
      constants: {
        WG,
        TRANS_A: !!options.transA,
        TRANS_B: !!options.transB,
        VEC_B: vecB,
        HAS_BIAS: hasBias,
        HAS_ALPHA: alpha !== 1,
      },
      buffers: hasBias ? ['read', 'read', 'read', 'write'] : ['read', 'read', 'write'],
      uniformBytes: 48,
    },
    op: options.op ?? 'matmul',
    uniforms,
    inputs: hasBias ? [a, b, options.bias!] : [a, b],
    outputs: [out],
    workgroups: groups(splits * batch * tilesM * tilesN),
    counts: { fma: outputs * K, mul: alpha !== 1 ? splits * outputs : 0, add: hasBias ? outputs : 0 },
  });
  if (splits === 1) {
    const result = out.view([batch, M, N]);
    out.dispose();
    return result;
  }
  const summed = reduceAxis('sum', out, 0);
  out.dispose();
  let result = summed.view([batch, M, N]);
  summed.dispose();
  if (options.bias) {
    const biased = binaryForward('add', result, options.bias);
    result.dispose();
    result = biased;
  }
  return result;
}
