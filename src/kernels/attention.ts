// Multi-head attention for short sequences, one dispatch forward and one backward: q, k, v [B, T, H * D] with the
// heads side by side, nothing T x T written out; the backward pass recomputes the probabilities from the row
// log-sum-exps the forward pass kept. Two ways to divide the work: an invocation per query row
// (shaders/attention.wgsl, 'fused') or a workgroup per head with its T x T cells in workgroup memory
// (shaders/attention_head.wgsl, 'fused-head').
import { plusCounts } from '../tensor/counts.js';
import { Tensor } from '../tensor/tensor.js';
import { DROPOUT_UNIFORMS, dropoutUniforms, type DropoutMask } from './dropout.js';
import { launch, read, write, WORKGROUP_MEMORY_FLOATS, type KernelSpec, type Launch } from './launch.js';

/** Longest sequence the fused kernels take: a row's T scores are kept in registers. */
export const FUSED_ATTENTION_MAX_T = 128;

export type FusedAttention = 'fused' | 'fused-head';

/** Whether a head's cells fit the workgroup-per-head variant: the probabilities and dS (T x T each) and D (T). */
export const headAttentionFits = (T: number) => T <= FUSED_ATTENTION_MAX_T && 2 * T * T + T <= WORKGROUP_MEMORY_FLOATS;

interface Shape {
  B: number;
  T: number;
  H: number;
  D: number;
}

/** Values per load and store: four where a head's width allows it. */
const widthOf = (s: Shape) => (s.D % 4 === 0 ? 4 : 1);

function spec(s: Shape, variant: FusedAttention, entry: 'FORWARD' | 'BACKWARD', dropout: boolean, keepLse: boolean): KernelSpec {
  const forward = entry === 'FORWARD';
  const w = widthOf(s);
  const V = w === 4 ? 'vec4f' : 'f32';
  const perHead = variant === 'fused-head';
  return {
    name: `attention-${variant}${forward ? '' : '-grad'}`,
    file: perHead ? 'attention_head.wgsl' : 'attention.wgsl',
    ...(perHead ? { entry: 'workgroup' as const } : {}),
    constants: { T: s.T, H: s.H, W: w, V, VEC: w === 4, FORWARD: forward, BACKWARD: !forward, DROPOUT: dropout, KEEP_LSE: keepLse },
    bindings: forward
      ? [read('q', V), read('k', V), read('v', V), write('out', V), ...(keepLse ? [write('lse')] : [])]
      : [read('q', V), read('k', V), read('v', V), read('out', V), read('lse'), read('dout', V), write('dq_out', V), write('dk_out', V), write('dv_out', V)],
    uniforms: { batch: 'u32', d: 'u32', scale: 'f32', ...DROPOUT_UNIFORMS },
  };
}

/** The uniforms of both kernels: the dropout seed changes with every step (and replay). */
function uniformsOf(s: Shape, scale: number, dropout: DropoutMask | undefined): Pick<Launch, 'uniforms' | 'replayUniforms'> {
  const shape = { batch: s.B, d: s.D / widthOf(s), scale };
  if (!dropout) return { uniforms: { ...shape, seed: 0, threshold: 0, keep_scale: 1 } };
  const { fixed, changing } = dropoutUniforms(dropout);
  return { uniforms: { ...shape, ...fixed }, replayUniforms: changing };
}

/** What the counts are made of: query rows, score cells, dropped cells, and the adds that total a dot product's lanes. */
function extent(s: Shape, dropout: DropoutMask | undefined) {
  const rows = s.B * s.H * s.T;
  const cells = rows * s.T;
  return { rows, cells, dropped: dropout ? cells : 0, lanes: widthOf(s) === 4 ? 3 : 0 };
}

/** The invocations of a per-row kernel, or the workgroups of a per-head one. */
function work(s: Shape, variant: FusedAttention, perRow: number): Pick<Launch, 'invocations' | 'workgroups'> {
  return variant === 'fused-head' ? { workgroups: s.B * s.H } : { invocations: perRow };
}

/** softmax(scale q_h k_h^T) (dropout) v_h per head: the output [B, T, H * D] and, when kept, the rows' log-sum-exps [B, H, T]. */
export function attentionForward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  s: Shape,
  scale: number,
  dropout: DropoutMask | undefined,
  keepLse: boolean,
  variant: FusedAttention = 'fused',
): { out: Tensor; lse: Tensor | undefined } {
  const { B, T, H, D } = s;
  const { rows, cells, dropped, lanes } = extent(s, dropout);
  const out = Tensor.empty([B, T, H * D]);
  const lse = keepLse ? Tensor.empty([B, H, T]) : undefined;
  launch({
    kernel: spec(s, variant, 'FORWARD', !!dropout, keepLse),
    op: 'attention',
    ...uniformsOf(s, scale, dropout),
    tensors: { q, k, v, out, ...(lse ? { lse } : {}) },
    ...work(s, variant, rows),
    // either variant, per row: T scores (D fma, the lanes totalled, a scale), their max (T cmp), exp(s - m) and its sum, 1 / sum,
    // T probabilities, dropout (a compare and a scale each), T x D fma for the output; the log-sum-exp (log, add)
    counts: plusCounts(
      { fma: 2 * cells * D, mul: 2 * cells + dropped, cmp: cells + dropped, exp: cells, add: (2 + lanes) * cells, div: rows },
      keepLse ? { log: rows, add: rows } : {},
    ),
    // the two products' multiply-adds (scores and values), as the composed kernels declare them
    macs: 2 * cells * D,
  });
  return { out, lse };
}

/** The gradients of q, k and v (written into `into`) given the output's, `out` and `lse` as attentionForward gave them. */
export function attentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  out: Tensor,
  lse: Tensor,
  dout: Tensor,
  s: Shape,
  scale: number,
  dropout: DropoutMask | undefined,
  into: { dq: Tensor; dk: Tensor; dv: Tensor },
  variant: FusedAttention = 'fused',
): void {
  const { rows, cells, dropped, lanes } = extent(s, dropout);
  const { dq, dk, dv } = into;
  const D = s.D;
  launch({
    kernel: spec(s, variant, 'BACKWARD', !!dropout, true),
    op: 'attention-grad',
    ...uniformsOf(s, scale, dropout),
    tensors: { q, k, v, out, lse, dout, dq_out: dq, dk_out: dk, dv_out: dv },
    ...work(s, variant, 2 * rows),
    counts:
      variant === 'fused-head'
        ? // per row: D_i (D fma); per cell, once: the score (D fma, a scale), p (a subtract, an exp), dP (D fma;
          // dropout on z and dP: 2 compares, 2 scales), dS (a subtract, a multiply); dq, dk and dv (3 D fma a cell);
          // dq and dk scaled (2 D mul a row). Each dot product's lanes totalled (2 a cell, 1 a row, where vectorised)
          { fma: rows * D + 5 * cells * D, mul: 2 * cells + 2 * rows * D + 2 * dropped, add: 2 * cells + lanes * (2 * cells + rows), exp: cells, cmp: 2 * dropped }
        : // query rows: D_i (D fma); per key: the score (D fma, a scale), p (a subtract, an exp), dP (D fma; dropout:
          // a compare, a scale), dS (a subtract, a multiply), dq (D fma); dq scaled (D mul). Key rows: per query, the
          // score, p, D_i, dP (3 D fma, a scale, a subtract, an exp; dropout on z and dP: 2 compares, 2 scales), dS
          // (a subtract, a multiply), dv and dk (2 D fma); dk scaled (D mul). Each dot product's lanes totalled (5
          // dots a cell and one a query row, where vectorised)
          { fma: rows * D + 8 * cells * D, mul: 4 * cells + 2 * rows * D + 3 * dropped, add: 4 * cells + lanes * (5 * cells + rows), exp: 2 * cells, cmp: 3 * dropped },
    // the four products' multiply-adds the composed backward declares (dP, dv, dq, dk); the recomputation is not MACs
    macs: 4 * cells * D,
  });
}
