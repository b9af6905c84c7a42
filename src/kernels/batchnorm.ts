// Fused BatchNorm over the channels of a channels-last tensor, with an optional ReLU6: training statistics in one
// read of x (split partial moments merged per channel), the running averages moved in place, normalisation +
// affine + activation in one pass, and the backward pass in two passes and a sum. Four channels per invocation
// (vec4) when the channel count allows, else one.
import { Tensor } from '../tensor/tensor.js';
import { launch, read, write, type Binding, type ElementType, type KernelSpec } from './launch.js';
import { sumSlabs } from './reduce.js';
import { benchOnScratch, choose, type Family } from './tuner.js';

export type NormActivation = 'none' | 'relu6';

type Entry = 'STATS' | 'COMBINE' | 'INFERENCE_STATS' | 'APPLY' | 'GRAD_STATS' | 'GRAD_INPUT';
const ENTRIES: Entry[] = ['STATS', 'COMBINE', 'INFERENCE_STATS', 'APPLY', 'GRAD_STATS', 'GRAD_INPUT'];

/** Rows one invocation walks (the statistics pass twice), by candidate: the rule's 256, or 64 (four times the
 * invocations and partial sums) or 1,024; all well inside llvmpipe's 65,535 loop iterations. */
const ROWS_PER_SPLIT: Record<string, number> = { rows256: 256, rows64: 64, rows1024: 1024 };

interface Geometry {
  rows: number;
  C: number;
  /** Channels per invocation: 4 (vec4) or 1. */
  width: number;
  rowsPerSplit: number;
  splits: number;
}

type BatchNormPass = 'stats' | 'apply' | 'backward';

/** How many rows each invocation of a pass walks: the statistics (and their combination), normalisation, or the
 * backward pass's two kernels (which share the partial sums' layout). */
const BATCHNORM_FAMILY: Family<{ pass: BatchNormPass; rows: number; C: number }> = {
  name: 'batchnorm',
  key: (p) => `${p.pass} ${p.rows}x${p.C}`,
  candidates: () => Object.keys(ROWS_PER_SPLIT),
  rule: () => 'rows256',
};

/** The geometry of a pass over x [..., C] (size values), its rows per invocation the tuner's choice; `rerun`
 * runs the pass again on scratch tensors of the shapes given, for the tuner to time. */
function geometry(C: number, size: number, pass?: BatchNormPass, tensors: Tensor[] = [], rerun?: (scratch: Tensor[]) => void): Geometry {
  const rows = size / C;
  const rowsPerSplit = pass ? ROWS_PER_SPLIT[choose(BATCHNORM_FAMILY, { pass, rows, C }, () => benchOnScratch(tensors, rerun!))]! : ROWS_PER_SPLIT.rows256!;
  return { rows, C, width: C % 4 === 0 ? 4 : 1, rowsPerSplit, splits: Math.ceil(rows / rowsPerSplit) };
}

function spec(entry: Entry, g: Geometry, activation: NormActivation, names: [string, 'read' | 'write'][], batchStats = true): KernelSpec {
  const type: ElementType = g.width === 4 ? 'vec4f' : 'f32';
  const bindings: Binding[] = names.map(([name, access]) => (access === 'read' ? read(name, type) : write(name, type)));
  const suffix = activation === 'relu6' && ['APPLY', 'GRAD_STATS', 'GRAD_INPUT'].includes(entry) ? '+relu6' : '';
  return {
    name: `batchnorm:${entry.toLowerCase()}${suffix}${entry === 'GRAD_INPUT' && !batchStats ? ':running' : ''}`,
    file: 'batchnorm.wgsl',
    constants: { ...Object.fromEntries(ENTRIES.map((e) => [e, e === entry])), RELU6: activation === 'relu6', BATCH_STATS: batchStats, TYPE: type },
    bindings,
    uniforms: { rows: 'u32', groups: 'u32', rows_per_split: 'u32', splits: 'u32', eps: 'f32', momentum: 'f32', keep: 'f32', inv_rows: 'f32' },
  };
}

function uniforms(g: Geometry, eps = 0, momentum = 0) {
  return { rows: g.rows, groups: g.C / g.width, rows_per_split: g.rowsPerSplit, splits: g.splits, eps, momentum, keep: 1 - momentum, inv_rows: 1 / g.rows };
}

/** The activation's compares per value. */
const activationCmp = (activation: NormActivation, n: number) => (activation === 'relu6' ? 2 * n : 0);

/**
 * Batch statistics of x [..., C] over every axis but the last: `stats` [groups, 2, width] holds (mean,
 * 1/sqrt(var + eps)) per channel group; the running averages move in place (running = momentum * running +
 * (1 - momentum) * batch, the variance unbiased).
 */
export function batchStats(x: Tensor, runningMean: Tensor, runningVar: Tensor, eps: number, momentum: number): Tensor {
  const g = geometry(x.shape[x.rank - 1]!, x.size, 'stats', [x, runningMean, runningVar], (s) => void batchStats(s[0]!, s[1]!, s[2]!, eps, momentum));
  const groups = g.C / g.width;
  const partial = Tensor.empty([g.splits, groups, 2, g.width]);
  launch({
    kernel: spec('STATS', g, 'none', [['x', 'read'], ['partial', 'write']]),
    op: 'batchnorm-stats',
    uniforms: uniforms(g, eps, momentum),
    tensors: { x, partial },
    invocations: g.splits * groups,
    // per value: a sum, a deviation and its square (add, add, fma); per split and channel: a divide
    counts: { add: 2 * g.rows * g.C, fma: g.rows * g.C, div: g.splits * g.C },
  });
  const stats = Tensor.empty([groups, 2, g.width]);
  launch({
    kernel: spec('COMBINE', g, 'none', [['partial', 'read'], ['stats', 'write'], ['running_mean', 'write'], ['running_var', 'write']]),
    op: 'batchnorm-stats',
    uniforms: uniforms(g, eps, momentum),
    tensors: { partial, stats, running_mean: runningMean, running_var: runningVar },
    invocations: groups,
    // Per split and group: the count (1 add, 1 mul, 2 div, scalar) and the moments (4 adds, 3 muls per channel);
    // then per channel the variance (div), rstd (add, rsqrt), the unbiased variance (div) and both running
    // averages (mul, fma each), and per group the unbiased count (add, cmp).
    counts: {
      add: groups * (g.splits + 1) + g.C * (4 * g.splits + 1),
      mul: groups * g.splits + g.C * (3 * g.splits + 2),
      div: 2 * groups * g.splits + 2 * g.C,
      rsqrt: g.C,
      fma: 2 * g.C,
      cmp: groups,
    },
  });
  partial.dispose();
  return stats;
}

/** (running mean, 1/sqrt(running var + eps)) per channel group, for inference. */
export function runningStats(runningMean: Tensor, runningVar: Tensor, eps: number): Tensor {
  const g = geometry(runningMean.size, runningMean.size);
  const stats = Tensor.empty([g.C / g.width, 2, g.width]);
  launch({
    kernel: spec('INFERENCE_STATS', g, 'none', [['running_mean', 'read'], ['running_var', 'read'], ['stats', 'write']]),
    op: 'batchnorm-stats',
    uniforms: uniforms(g, eps),
    tensors: { running_mean: runningMean, running_var: runningVar, stats },
    invocations: g.C / g.width,
    counts: { add: g.C, rsqrt: g.C },
  });
  return stats;
}

/** y = act((x - mean) * rstd * gamma + beta) with `stats` from batchStats or runningStats. */
export function batchNormApply(x: Tensor, stats: Tensor, gamma: Tensor, beta: Tensor, activation: NormActivation): Tensor {
  const g = geometry(x.shape[x.rank - 1]!, x.size, 'apply', [x, stats, gamma, beta], (s) => void batchNormApply(s[0]!, s[1]!, s[2]!, s[3]!, activation));
  const y = Tensor.empty(x.shape);
  launch({
    kernel: spec('APPLY', g, activation, [['x', 'read'], ['stats', 'read'], ['gamma', 'read'], ['beta', 'read'], ['y', 'write']]),
    op: activation === 'relu6' ? 'batchnorm+relu6' : 'batchnorm',
    uniforms: uniforms(g),
    tensors: { x, stats, gamma, beta, y },
    invocations: g.splits * (g.C / g.width),
    counts: { add: x.size, mul: x.size, fma: x.size, cmp: activationCmp(activation, x.size) },
  });
  return y;
}

/**
 * Gradients of batchNormApply from its input x and the output's gradient: through the batch statistics
 * (`batchStats`: training) or with the statistics held fixed (running averages). A ReLU6's mask is recomputed
 * from x (one multiply-add per value), which costs less than reading the output again. `into`: where to write the
 * parameters' gradients (their places in a gradient arena), returned as they are.
 */
export function batchNormBackward(
  x: Tensor,
  dy: Tensor,
  stats: Tensor,
  gamma: Tensor,
  beta: Tensor,
  activation: NormActivation,
  batchStatistics: boolean,
  into: { dgamma?: Tensor; dbeta?: Tensor } = {},
): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const g = geometry(x.shape[x.rank - 1]!, x.size, 'backward', [x, dy, stats, gamma, beta], (s) => void batchNormBackward(s[0]!, s[1]!, s[2]!, s[3]!, s[4]!, activation, batchStatistics));
  const groups = g.C / g.width;
  const relu6 = activation === 'relu6';
  const affine: [string, 'read'][] = relu6 ? [['gamma', 'read'], ['beta', 'read']] : [];
  const mask = relu6 ? x.size : 0; // the recomputed pre-activation, one fma per value
  const partial = Tensor.empty([g.splits, 2, g.C]);
  launch({
    kernel: spec('GRAD_STATS', g, activation, [['x', 'read'], ['dy', 'read'], ['stats', 'read'], ...affine, ['partial', 'write']]),
    op: 'batchnorm-grad-params',
    uniforms: uniforms(g),
    tensors: relu6 ? { x, dy, stats, gamma, beta, partial } : { x, dy, stats, partial },
    invocations: g.splits * groups,
    counts: { add: 2 * x.size, mul: x.size, fma: x.size + mask, cmp: activationCmp(activation, x.size) },
  });
  const sums = sumSlabs(partial, [2, g.C]);
  const dx = Tensor.empty(x.shape);
  const [dbeta, dgamma] = [into.dbeta ?? Tensor.empty([g.C]), into.dgamma ?? Tensor.empty([g.C])];
  launch({
    kernel: spec('GRAD_INPUT', g, activation, [['x', 'read'], ['dy', 'read'], ['stats', 'read'], ['gamma', 'read'], ...(relu6 ? [['beta', 'read'] as [string, 'read']] : []), ['sums', 'read'], ['dx', 'write'], ['dbeta', 'write'], ['dgamma', 'write']], batchStatistics),
    op: 'batchnorm-grad-input',
    uniforms: uniforms(g),
    tensors: relu6 ? { x, dy, stats, gamma, beta, sums, dx, dbeta, dgamma } : { x, dy, stats, gamma, sums, dx, dbeta, dgamma },
    invocations: g.splits * groups,
    // per split and channel the means of dz and dz * xhat (2 mul); per value as in the shader (with fixed
    // statistics, xhat is computed only for the mask: one add and one mul more)
    counts: batchStatistics
      ? { add: 3 * x.size, mul: 4 * x.size + 2 * g.splits * g.C, fma: mask, cmp: activationCmp(activation, x.size) }
      : { add: mask, mul: 2 * x.size + mask + 2 * g.splits * g.C, fma: mask, cmp: activationCmp(activation, x.size) },
  });
  sums.dispose();
  return { dx, dbeta, dgamma };
}
