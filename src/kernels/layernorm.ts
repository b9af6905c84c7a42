// LayerNorm over the last axis: forward (keeping per-row mean and rstd), input gradient, and gamma/beta gradients.
import { Tensor } from '../tensor/tensor.js';
import { groups, launch, Uniforms, WG } from './launch.js';
import { sliceKernel } from './layout.js';
import { reduceAxis } from './reduce.js';

type Entry = 'FORWARD' | 'GRAD_INPUT' | 'GRAD_PARAMS';

/** Rows one parameter-gradient invocation sums (llvmpipe allows 65,535 loop iterations per invocation). */
const ROWS_PER_SPLIT = 512;

function spec(entry: Entry, buffers: ('read' | 'write')[]) {
  return {
    name: `layernorm:${entry.toLowerCase()}`,
    file: 'layernorm.wgsl',
    constants: { WG, FORWARD: entry === 'FORWARD', GRAD_INPUT: entry === 'GRAD_INPUT', GRAD_PARAMS: entry === 'GRAD_PARAMS' },
    buffers,
    uniformBytes: 32,
  };
}

function uniforms(rows: number, n: number, eps: number, splits = 1): Uniforms {
  return new Uniforms(32).u32(rows).u32(n).f32(eps).f32(1 / n).u32(ROWS_PER_SPLIT).u32(splits).u32(0).u32(0);
}

export function layerNormForward(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): { y: Tensor; stats: Tensor } {
  const n = x.shape[x.rank - 1]!;
  if (gamma.size !== n || beta.size !== n) throw new Error(`layerNorm: gamma and beta need ${n} values for input [${x.shape.join(', ')}]`);
  const rows = x.size / n;
  const y = Tensor.empty(x.shape);
  const stats = Tensor.empty([rows, 2]);
  launch({
    spec: spec('FORWARD', ['read', 'read', 'read', 'write', 'write']),
    op: 'layernorm',
    uniforms: uniforms(rows, n, eps),
    inputs: [x, gamma, beta],
    outputs: [y, stats],
    workgroups: groups(rows),
    // mean: n-1 adds, 1 mul; variance: n subtracts, n fma, 1 mul, 1 add; rsqrt; output: n sub, n mul, n fma.
    counts: { add: rows * (n - 1 + n + 1 + n), mul: rows * (2 + n), fma: rows * 2 * n, rsqrt: rows },
  });
  return { y, stats };
}

export function layerNormBackward(x: Tensor, gamma: Tensor, stats: Tensor, dy: Tensor): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const n = x.shape[x.rank - 1]!;
  const rows = x.size / n;
  const dx = Tensor.empty(x.shape);
  launch({
    spec: spec('GRAD_INPUT', ['read', 'read', 'read', 'read', 'write']),
    op: 'layernorm-grad-input',
    uniforms: uniforms(rows, n, 0),
    inputs: [x, gamma, stats, dy],
    outputs: [dx],
    workgroups: groups(rows),
    // pass 1: n (sub, mul, mul, add, fma); a, b: 2 mul; pass 2: n (sub, mul, mul, sub, sub, mul, mul)
    counts: { add: rows * 5 * n, mul: rows * (6 * n + 2), fma: rows * n },
  });
  const splits = Math.ceil(rows / ROWS_PER_SPLIT);
  const partial = Tensor.empty([splits, n, 2]);
  launch({
    spec: spec('GRAD_PARAMS', ['read', 'read', 'read', 'write']),
    op: 'layernorm-grad-params',
    uniforms: uniforms(rows, n, 0, splits),
    inputs: [x, stats, dy],
    outputs: [partial],
    workgroups: groups(n * splits),
    counts: { add: n * rows * 2, mul: n * rows, fma: n * rows },
  });
  const summed = reduceAxis('sum', partial, 0);
  partial.dispose();
  const pairs = summed.view([n, 2]);
  summed.dispose();
  const column = (c: number) => {
    const sliced = sliceKernel(pairs, [0, c], [n, 1]);
    const v = sliced.view([n]);
    sliced.dispose();
    return v;
  };
  const result = { dx, dgamma: column(0), dbeta: column(1) };
  pairs.dispose();
  return result;
}
