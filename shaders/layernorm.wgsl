// LayerNorm over the last axis of a [rows, n] view: y = (x - mean) * rstd * gamma + beta, rstd = 1/sqrt(var + eps).
// The forward pass keeps mean and rstd for the gradients, in three variants: one invocation per row (FORWARD, the
// CPU adapters' choice), a workgroup per row (FORWARD_WORKGROUP), a subgroup per row (FORWARD_SUBGROUP). The
// parameter gradients sum over rows in runs of `rows_per_split`; with more than one run, COMBINE_PARAMS sums the
// runs' partial sums.

#if ${FORWARD_LANES}
// The lanes of a row: each sums a strided part of it, and `lanes_total` adds the parts (lanes - 1 adds), for the
// mean and then for the centred squares; then the lanes write the row.
fn row_across_lanes(r: u32, lane: u32, lanes: u32) {
  let base = r * u.n;
  var s = 0.0;
  for (var i = lane; i < u.n; i += lanes) { s += x[base + i]; }
  let mean = lanes_total(lane, s) * u.inv_n;
  var v = 0.0;
  for (var i = lane; i < u.n; i += lanes) {
    let d = x[base + i] - mean;
    v = fma(d, d, v);
  }
  let rstd = inverseSqrt(lanes_total(lane, v) * u.inv_n + u.eps);
  if (lane == 0u) { stats[r] = vec2f(mean, rstd); }
  for (var i = lane; i < u.n; i += lanes) {
    y[base + i] = fma((x[base + i] - mean) * rstd, gamma[i], beta[i]);
  }
}
#endif

#if ${FORWARD_WORKGROUP}
#include "rows_by_workgroup.wgsl"
#endif

#if ${FORWARD_SUBGROUP}
#include "rows_by_subgroup.wgsl"
#endif

#if ${FORWARD}
#include "rows.wgsl"
fn run(r: u32) {
  let base = r * u.n;
  let st = row_mean_rstd(base, u.n, u.inv_n, u.eps);
  stats[r] = st;
  for (var i = 0u; i < u.n; i++) {
    y[base + i] = fma((x[base + i] - st.x) * st.y, gamma[i], beta[i]);
  }
}
#endif

#if ${GRAD}
// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma, xhat = (x - mean) * rstd; ADD_PRIOR: plus the
// gradient x already had from another branch
fn grad_input(r: u32) {
  let base = r * u.n;
  let mean = stats[r].x;
  let rstd = stats[r].y;
  var sum_g = 0.0;
  var sum_gx = 0.0;
  for (var i = 0u; i < u.n; i++) {
    let xhat = (x[base + i] - mean) * rstd;
    let g = dy[base + i] * gamma[i];
    sum_g += g;
    sum_gx = fma(g, xhat, sum_gx);
  }
  let a = sum_g * u.inv_n;
  let b = sum_gx * u.inv_n;
  for (var i = 0u; i < u.n; i++) {
    let xhat = (x[base + i] - mean) * rstd;
    let g = dy[base + i] * gamma[i];
#if ${ADD_PRIOR}
    dx[base + i] = rstd * (g - a - xhat * b) + prior[base + i];
#else
    dx[base + i] = rstd * (g - a - xhat * b);
#endif
  }
}

// Per split and column: the sums of dy * xhat (dgamma) and of dy (dbeta) over the split's rows.
fn grad_params(o: u32) {
  let col = o % u.n;
  let first = (o / u.n) * u.rows_per_split;
  let last = min(first + u.rows_per_split, u.rows);
  var dgamma_sum = 0.0;
  var dbeta_sum = 0.0;
  for (var r = first; r < last; r++) {
    let st = stats[r];
    let g = dy[r * u.n + col];
    dgamma_sum = fma(g, (x[r * u.n + col] - st.x) * st.y, dgamma_sum);
    dbeta_sum += g;
  }
  dgamma[o] = dgamma_sum;
  dbeta[o] = dbeta_sum;
}
// One dispatch for both: the first `rows` invocations take a row each (dx), the rest a (split, column) each.
fn run(t: u32) {
  if (t < u.rows) {
    grad_input(t);
  } else {
    grad_params(t - u.rows);
  }
}
#endif

#if ${COMBINE_PARAMS}
fn run(col: u32) {
  var g = dgamma_parts[col];
  var b = dbeta_parts[col];
  for (var s = 1u; s < u.splits; s++) {
    g += dgamma_parts[s * u.n + col];
    b += dbeta_parts[s * u.n + col];
  }
  dgamma[col] = g;
  dbeta[col] = b;
}
#endif
