// Multi-head attention for short sequences in one dispatch forward and one backward, a workgroup per head of a
// batch (the other fused variant, attention.wgsl, gives each query row an invocation). The head's T x T cells live
// in workgroup memory, so each stage spreads over the workgroup's invocations: the score cells, then the rows'
// softmax, then the T x D outputs, consecutive invocations on consecutive values of a row (contiguous loads,
// where the row variant's invocations each read a different row). Nothing is recomputed T times: the backward
// pass recomputes each probability once, from the row log-sum-exps the forward pass kept.
// The dropout mask is the separate dropout kernel's over [B, H, T, T].
#include "attention_rows.wgsl"

const CELLS = ${T}u * ${T}u;

#if ${DROPOUT}
#include "dropout_mask.wgsl"
fn dropped(p: f32, bh: u32, c: u32) -> f32 {
  return p * dropout_factor(bh * CELLS + c);
}
#endif

// Forward: the probabilities (after dropout); backward: z, the probabilities after dropout.
var<workgroup> probs: array<f32, CELLS>;

#if ${FORWARD}
fn run(lid: u32, bh: u32) {
  if (bh >= u.batch * H) { return; }
  let b = bh / H;
  let h = bh % H;
  for (var c = lid; c < CELLS; c += WG) {
    probs[c] = dot_qk(row_at(b, h, c / T), row_at(b, h, c % T)) * u.scale;
  }
  workgroupBarrier();
  for (var i = lid; i < T; i += WG) {
    var m = -3.0e38;
    for (var j = 0u; j < T; j++) { m = max(m, probs[i * T + j]); }
    var l = 0.0;
    for (var j = 0u; j < T; j++) {
      let e = exp(probs[i * T + j] - m);
      probs[i * T + j] = e;
      l += e;
    }
    let inv = 1.0 / l;
    for (var j = 0u; j < T; j++) {
#if ${DROPOUT}
      probs[i * T + j] = dropped(probs[i * T + j] * inv, bh, i * T + j);
#else
      probs[i * T + j] *= inv;
#endif
    }
#if ${KEEP_LSE}
    lse[bh * T + i] = m + log(l);
#endif
  }
  workgroupBarrier();
  for (var o = lid; o < T * u.d; o += WG) {
    let i = o / u.d;
    let d = o % u.d;
    var acc = V(0.0);
    for (var j = 0u; j < T; j++) { acc = fma(V(probs[i * T + j]), v[row_at(b, h, j) + d], acc); }
    out[row_at(b, h, i) + d] = acc;
  }
}
#endif

#if ${BACKWARD}
// dS_ij = p_ij (dP_ij - D_i): dP through the dropout, D_i = dO_i . o_i
var<workgroup> ds: array<f32, CELLS>;
var<workgroup> d_rows: array<f32, T>;

fn run(lid: u32, bh: u32) {
  if (bh >= u.batch * H) { return; }
  let b = bh / H;
  let h = bh % H;
  for (var i = lid; i < T; i += WG) {
    let r = row_at(b, h, i);
    var acc = V(0.0);
    for (var d = 0u; d < u.d; d++) { acc = fma(dout[r + d], out[r + d], acc); }
    d_rows[i] = total(acc);
  }
  workgroupBarrier();
  for (var c = lid; c < CELLS; c += WG) {
    let i = c / T;
    let qi = row_at(b, h, i);
    let kj = row_at(b, h, c % T);
    let p = exp(dot_qk(qi, kj) * u.scale - lse[bh * T + i]);
    var acc = V(0.0);
    for (var d = 0u; d < u.d; d++) { acc = fma(dout[qi + d], v[kj + d], acc); }
    var dp = total(acc);
#if ${DROPOUT}
    probs[c] = dropped(p, bh, c);
    dp = dropped(dp, bh, c);
#else
    probs[c] = p;
#endif
    ds[c] = p * (dp - d_rows[i]);
  }
  workgroupBarrier();
  // row i of dq (scale sum_j dS_ij k_j), of dk (scale sum_j dS_ji q_j) and of dv (sum_j z_ji dO_j)
  for (var o = lid; o < T * u.d; o += WG) {
    let i = o / u.d;
    let d = o % u.d;
    var dq = V(0.0);
    var dk = V(0.0);
    var dv = V(0.0);
    for (var j = 0u; j < T; j++) {
      let rj = row_at(b, h, j) + d;
      dq = fma(V(ds[i * T + j]), k[rj], dq);
      dk = fma(V(ds[j * T + i]), q[rj], dk);
      dv = fma(V(probs[j * T + i]), dout[rj], dv);
    }
    let ri = row_at(b, h, i) + d;
    dq_out[ri] = dq * u.scale;
    dk_out[ri] = dk * u.scale;
    dv_out[ri] = dv;
  }
}
#endif
