// The paper's FLOP convention: what TensorFlow 2.10's graph profiler (through keras-flops) counted for the ops
// that Keras would have run, batch size 1, forward only. Modules record these ops as they run; the rules below
// turn each into a count. Einsum (every attention projection and product) had no rule and counted 0.

export type TfOpType =
  | 'Conv2D'
  | 'DepthwiseConv2dNative'
  | 'MatMul'
  | 'BiasAdd'
  | 'AddV2'
  | 'Sub'
  | 'Mul'
  | 'RealDiv'
  | 'Maximum'
  | 'Mean'
  | 'Softmax'
  | 'FusedBatchNormV3'
  | 'LayerNormalization'
  | 'Gelu'
  | 'Einsum'
  | 'ZeroCost';

export interface TfOp {
  type: TfOpType;
  /** What Keras would call it, for breakdowns (e.g. 'query bias', 'residual'). */
  label: string;
  path: string;
  /** Output elements (input elements for Mean; elements for norms and activations). */
  elements: number;
  /** Conv: kh * kw (* C_in for Conv2D); MatMul: the reduced dimension K. */
  reduce?: number;
  /** BatchNorm: channels; LayerNorm: rows. */
  groups?: number;
}

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

class TfOpRecorder {
  ops: TfOp[] | undefined;
  path: () => string = () => '';
}

const recorder = new TfOpRecorder();

/** Records an op in the paper's accounting, when a recording is under way. */
export function recordTf(type: TfOpType, label: string, elements: number, extra: { reduce?: number; groups?: number } = {}): void {
  recorder.ops?.push({ type, label, path: recorder.path(), elements, ...extra });
}

/** Collects the TensorFlow ops recorded while `fn` runs. */
export async function captureTfOps<T>(path: () => string, fn: () => T | Promise<T>): Promise<{ result: T; ops: TfOp[] }> {
  const outer = recorder.ops;
  const outerPath = recorder.path;
  recorder.ops = [];
  recorder.path = path;
  try {
    const result = await fn();
    return { result, ops: recorder.ops };
  } finally {
    recorder.ops = outer;
    recorder.path = outerPath;
  }
}
