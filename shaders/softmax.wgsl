// Row-wise kernels over the last axis of a [rows, n] view, one invocation per row, fixed summation order:
// softmax and its gradient; fused log-softmax + cross-entropy with integer labels and its gradient; top-k hits.
// The softmax also runs across a workgroup's or a subgroup's lanes per row (SOFTMAX_LANES, kernels/lanes.ts).
// WGSL may assume NaN never occurs in constants, so the NaN for invalid labels arrives as a uniform.

#if ${DROPOUT}
#include "dropout_mask.wgsl"
#endif

#if ${SOFTMAX_HELPERS}
// A row's values start, start + step, ...: e = exp(x - m) written to y, and their sum.
fn exp_and_sum(base: u32, m: f32, start: u32, step: u32) -> f32 {
  var s = 0.0;
  for (var i = start; i < u.n; i += step) {
    let e = exp(x[base + i] - m);
    y[base + i] = e;
    s += e;
  }
  return s;
}

// The same values of y times `inv`: the probabilities; DROPOUT: also writes what a dropout after the softmax keeps
// (element i as dropout_mask.wgsl draws it).
fn scale_row(base: u32, inv: f32, start: u32, step: u32) {
  for (var i = start; i < u.n; i += step) {
    let p = y[base + i] * inv;
    y[base + i] = p;
#if ${DROPOUT}
    kept[base + i] = p * dropout_factor(base + i);
#endif
  }
}
#endif

#if ${SOFTMAX}
#include "rows.wgsl"
fn run(r: u32) {
  let base = r * u.n;
  let m = row_max(base, u.n);
  scale_row(base, 1.0 / exp_and_sum(base, m, 0u, 1u), 0u, 1u);
}
#endif

#if ${SOFTMAX_LANES}
// The softmax of a row across lanes: each lane takes the values lane, lane + lanes, ...; their maxima and sums meet
// across the lanes (lanes_max, lanes_total: a workgroup's tree or a subgroup's operations).
fn row_across_lanes(r: u32, lane: u32, lanes: u32) {
  let base = r * u.n;
  var m = -3.0e38;
  for (var i = lane; i < u.n; i += lanes) { m = max(m, x[base + i]); }
  m = lanes_max(lane, m);
  scale_row(base, 1.0 / lanes_total(lane, exp_and_sum(base, m, lane, lanes)), lane, lanes);
}
#endif

#if ${SOFTMAX_WORKGROUP}
#include "rows_by_workgroup.wgsl"
#endif

#if ${SOFTMAX_SUBGROUP}
#include "rows_by_subgroup.wgsl"
#endif

#if ${SOFTMAX_GRAD}
// dx = y * (dy - sum(dy * y)); DROPOUT: dy is the gradient of what the dropout kept, masked first (into dx, which
// the second pass reads back)
fn run(r: u32) {
  let base = r * u.n;
  var d = 0.0;
  for (var i = 0u; i < u.n; i++) {
#if ${DROPOUT}
    let g = dy[base + i] * dropout_factor(base + i);
    dx[base + i] = g;
#else
    let g = dy[base + i];
#endif
    d = fma(g, y[base + i], d);
  }
  for (var i = 0u; i < u.n; i++) {
#if ${DROPOUT}
    let g = dx[base + i];
#else
    let g = dy[base + i];
#endif
    dx[base + i] = y[base + i] * (g - d);
  }
}
#endif

#if ${CROSS_ENTROPY}
#include "rows.wgsl"
// loss = logsumexp(x) - x[label]; the log-sum-exp is kept for the gradient. A label outside [0, n) gives NaN.
fn run(r: u32) {
  let base = r * u.n;
  let l = row_log_sum_exp(base, u.n);
  lse[r] = l;
  let label = labels[r];
  let valid = label >= 0 && u32(label) < u.n;
  loss[r] = select(u.nan, l - x[base + u32(max(label, 0))], valid);
}
#endif

#if ${CROSS_ENTROPY_MEAN}
#include "rows.wgsl"
#include "lanes_total.wgsl"
// The mean of the rows' losses in one workgroup: lane i takes rows i, i + WG, ..., keeps each row's log-sum-exp
// for the gradient, and the lanes' sums meet in a tree. A label outside [0, n) makes the mean NaN.
fn run(lane: u32, group: u32) {
  var part = 0.0;
  for (var r = lane; r < u.rows; r += WG) {
    let base = r * u.n;
    let l = row_log_sum_exp(base, u.n);
    lse[r] = l;
    let label = labels[r];
    let valid = label >= 0 && u32(label) < u.n;
    part += select(u.nan, l - x[base + u32(max(label, 0))], valid);
  }
  let total = lanes_total(lane, part);
  if (lane == 0u) { loss[0] = total * u.inv_rows; }
}
#endif

#if ${CROSS_ENTROPY_GRAD}
// dx = (softmax(x) - onehot(label)) * dloss; MEAN: the loss was the rows' mean, dloss its one gradient
fn run(r: u32) {
  let base = r * u.n;
  let l = lse[r];
#if ${MEAN}
  let g = dloss[0] * u.inv_rows;
#else
  let g = dloss[r];
#endif
  let label = u32(labels[r]);
  for (var i = 0u; i < u.n; i++) {
    var p = exp(x[base + i] - l);
    if (i == label) { p -= 1.0; }
    dx[base + i] = p * g;
  }
}
#endif

#if ${TOP_K}
// 1 when the label's score ranks among the k highest (ties go to the lower class index), else 0.
fn run(r: u32) {
  let base = r * u.n;
  let label = u32(labels[r]);
  let target_score = x[base + label];
  var rank = 0u;
  for (var i = 0u; i < u.n; i++) {
    let v = x[base + i];
    if (v > target_score || (v == target_score && i < label)) { rank++; }
  }
  hit[r] = select(0.0, 1.0, rank < u.k);
}
#endif
