// Multi-head attention for short sequences in one dispatch forward and one backward, over q, k, v [B, T, H * D]
// with the heads side by side (what the projections give); nothing T x T is ever written out.
// Forward, one invocation per query row i of head h of batch b: the T scores s_j = scale q_i . k_j (the row's T
// values kept in registers, never D-sized vectors, so any head width fits), their softmax p_j, dropout on p_j (the mask drawn as the separate dropout kernel draws it for the
// probabilities [B, H, T, T], so the two paths drop the same entries), o_i = sum_j p_j v_j, and, for the gradient,
// the row's log-sum-exp L_i. Backward, 2 B H T invocations: the first half takes a query row i and writes dq_i, the
// second a key row j and writes dk_j and dv_j; both recompute p_ij = exp(s_ij - L_i) from the saved L (FlashAttention
// style), and the key rows recompute D_i = dO_i . o_i, so the halves need nothing from each other.

#include "attention_rows.wgsl"

#if ${DROPOUT}
#include "dropout_mask.wgsl"

// Probability (i, j) of head h of batch b, kept and scaled, or dropped: index ((b H + h) T + i) T + j, as the
// separate dropout kernel numbers the probabilities [B, H, T, T].
fn dropped(p: f32, bh: u32, i: u32, j: u32) -> f32 {
  return p * dropout_factor((bh * T + i) * T + j);
}
#endif

#if ${FORWARD}
fn run(r: u32) {
  let bh = r / T;
  let b = bh / H;
  let h = bh % H;
  let i = r % T;
  let qi = row_at(b, h, i);
  var p: array<f32, ${T}>;
  var m = -3.0e38;
  for (var j = 0u; j < T; j++) {
    p[j] = dot_qk(qi, row_at(b, h, j)) * u.scale;
    m = max(m, p[j]);
  }
  var l = 0.0;
  for (var j = 0u; j < T; j++) {
    let e = exp(p[j] - m);
    p[j] = e;
    l += e;
  }
  let inv = 1.0 / l;
  for (var j = 0u; j < T; j++) {
    p[j] *= inv;
#if ${DROPOUT}
    p[j] = dropped(p[j], bh, i, j);
#endif
  }
  for (var d = 0u; d < u.d; d++) {
    var o = V(0.0);
    for (var j = 0u; j < T; j++) { o = fma(V(p[j]), v[row_at(b, h, j) + d], o); }
    out[qi + d] = o;
  }
#if ${KEEP_LSE}
  lse[r] = m + log(l);
#endif
}
#endif

#if ${BACKWARD}
// dO_i . o_j (x_is_out) or dO_i . v_j
fn dot_dout(i: u32, x_is_out: bool, j: u32) -> f32 {
  var acc = V(0.0);
  if (x_is_out) {
    for (var d = 0u; d < u.d; d++) { acc = fma(dout[i + d], out[j + d], acc); }
  } else {
    for (var d = 0u; d < u.d; d++) { acc = fma(dout[i + d], v[j + d], acc); }
  }
  return total(acc);
}

fn run(t: u32) {
  let rows = u.batch * H * T;
  let key_role = t >= rows;
  let r = select(t, t - rows, key_role);
  let bh = r / T;
  let b = bh / H;
  let h = bh % H;
  let own = row_at(b, h, r % T);
  // dS over the row (query role: dS_ij over j; key role: dS_ij over i), and the key role's z_ij
  var ds: array<f32, ${T}>;
  if (!key_role) {
    // dq_i = scale sum_j dS_ij k_j, dS_ij = p_ij (dP_ij - D_i), dP_ij = dO_i . v_j (through the dropout)
    let i = r % T;
    let di = dot_dout(own, true, own);
    let li = lse[r];
    for (var j = 0u; j < T; j++) {
      let kj = row_at(b, h, j);
      let p = exp(dot_qk(own, kj) * u.scale - li);
      var dp = dot_dout(own, false, kj);
#if ${DROPOUT}
      dp = dropped(dp, bh, i, j);
#endif
      ds[j] = p * (dp - di);
    }
    for (var d = 0u; d < u.d; d++) {
      var dq = V(0.0);
      for (var j = 0u; j < T; j++) { dq = fma(V(ds[j]), k[row_at(b, h, j) + d], dq); }
      dq_out[own + d] = dq * u.scale;
    }
  } else {
    // dv_j = sum_i z_ij dO_i (z: the probability after dropout); dk_j = scale sum_i dS_ij q_i
    let j = r % T;
    var z: array<f32, ${T}>;
    for (var i = 0u; i < T; i++) {
      let qi = row_at(b, h, i);
      let p = exp(dot_qk(qi, own) * u.scale - lse[bh * T + i]);
      let di = dot_dout(qi, true, qi);
      var dp = dot_dout(qi, false, own);
      z[i] = p;
#if ${DROPOUT}
      z[i] = dropped(p, bh, i, j);
      dp = dropped(dp, bh, i, j);
#endif
      ds[i] = p * (dp - di);
    }
    for (var d = 0u; d < u.d; d++) {
      var dk = V(0.0);
      var dv = V(0.0);
      for (var i = 0u; i < T; i++) {
        let qi = row_at(b, h, i);
        dv = fma(V(z[i]), dout[qi + d], dv);
        dk = fma(V(ds[i]), q[qi + d], dk);
      }
      dk_out[own + d] = dk * u.scale;
      dv_out[own + d] = dv;
    }
  }
}
#endif
