// LayerNorm over the last axis of a [rows, n] view: y = (x - mean) * rstd * gamma + beta, rstd = 1/sqrt(var + eps).
// One invocation per row; the forward pass keeps mean and rstd for the gradients. The parameter gradients sum
// over rows in runs of `rows_per_split` (partial slabs summed by the caller).
#include "common.wgsl"

struct Params { rows: u32, n: u32, eps: f32, inv_n: f32, rows_per_split: u32, splits: u32, p0: u32, p1: u32 }
@group(0) @binding(0) var<uniform> u: Params;

#if ${FORWARD}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<vec2f>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = flat_index(wid, nwg, lid);
  if (r >= u.rows) { return; }
  let base = r * u.n;
  var s = x[base];
  for (var i = 1u; i < u.n; i++) { s += x[base + i]; }
  let mean = s * u.inv_n;
  var v = 0.0;
  for (var i = 0u; i < u.n; i++) {
    let d = x[base + i] - mean;
    v = fma(d, d, v);
  }
  let rstd = inverseSqrt(v * u.inv_n + u.eps);
  stats[r] = vec2f(mean, rstd);
  for (var i = 0u; i < u.n; i++) {
    y[base + i] = fma((x[base + i] - mean) * rstd, gamma[i], beta[i]);
  }
}
#endif

#if ${GRAD_INPUT}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<vec2f>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma, xhat = (x - mean) * rstd
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = flat_index(wid, nwg, lid);
  if (r >= u.rows) { return; }
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
    dx[base + i] = rstd * (g - a - xhat * b);
  }
}
#endif

#if ${GRAD_PARAMS}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<vec2f>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dparams: array<vec2f>;

// Per split and column: (sum of dy * xhat, sum of dy) over the split's rows.
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let o = flat_index(wid, nwg, lid);
  if (o >= u.n * u.splits) { return; }
  let col = o % u.n;
  let first = (o / u.n) * u.rows_per_split;
  let last = min(first + u.rows_per_split, u.rows);
  var dgamma = 0.0;
  var dbeta = 0.0;
  for (var r = first; r < last; r++) {
    let st = stats[r];
    let g = dy[r * u.n + col];
    dgamma = fma(g, (x[r * u.n + col] - st.x) * st.y, dgamma);
    dbeta += g;
  }
  dparams[o] = vec2f(dgamma, dbeta);
}
#endif
