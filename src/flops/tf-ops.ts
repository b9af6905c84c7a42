// The paper's FLOP convention: what TensorFlow 2.10's graph profiler (through keras-flops) counted for the ops
// that Keras would have run, batch size 1, forward only. Modules record these ops in the ledger as they run
// (recordTf); the rules below turn each into a count. Einsum (every attention projection and product) had no
// rule and counted 0.

import type { TfOp } from '../tensor/ledger.js';

/** The TensorFlow 2.10 profiler's count for one op (keras-flops adds the AddV2 rule). */
export function paperFlops(op: TfOp): number {
  switch (op.type) {
    case 'Conv2D':
    case 'DepthwiseConv2dNative':
    case 'MatMul':
      return 2 * op.elements * op.reduce!;
    case 'BiasAdd':
    case 'AddV2':
    case 'Sub':
    case 'Mul':
    case 'RealDiv':
    case 'Maximum':
    case 'Mean':
      return op.elements;
    case 'Softmax':
      return 5 * op.elements;
    case 'FusedBatchNormV3':
      return 2 * op.elements + 6 * op.groups!;
    case 'LayerNormalization':
      // Keras' unfused path for eps 1e-6: Mean, SquaredDifference (2), Mean, AddV2, Rsqrt (2), Mul, Mul, Mul, Sub,
      // AddV2 over elements and rows: 9 x elements + 3 x rows.
      return 9 * op.elements + 3 * op.groups!;
    case 'Gelu':
      // exact GELU: Mul(x, 1/sqrt 2), Erf (0), AddV2(1, .), Mul(0.5, x), Mul(., .)
      return 4 * op.elements;
    case 'Einsum':
    case 'ZeroCost':
      return 0;
  }
}
