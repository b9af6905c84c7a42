// Row-wise kernels over the last axis of a [rows, n] view, one invocation per row, fixed summation order:
// softmax and its gradient; fused log-softmax + cross-entropy with integer labels and its gradient; top-k hits.
#include "common.wgsl"

// WGSL may assume NaN never occurs in constants, so the NaN for invalid labels arrives as a uniform.
struct Params { rows: u32, n: u32, k: u32, nan: f32 }
@group(0) @binding(0) var<uniform> u: Params;

#if ${SOFTMAX}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = flat_index(wid, nwg, lid);
  if (r >= u.rows) { return; }
  let base = r * u.n;
  var m = x[base];
  for (var i = 1u; i < u.n; i++) { m = max(m, x[base + i]); }
  var s = 0.0;
  for (var i = 0u; i < u.n; i++) {
    let e = exp(x[base + i] - m);
    y[base + i] = e;
    s += e;
  }
  let inv = 1.0 / s;
  for (var i = 0u; i < u.n; i++) { y[base + i] *= inv; }
}
#endif

#if ${SOFTMAX_GRAD}
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// dx = y * (dy - sum(dy * y))
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = flat_index(wid, nwg, lid);
  if (r >= u.rows) { return; }
  let base = r * u.n;
  var d = 0.0;
  for (var i = 0u; i < u.n; i++) { d = fma(dy[base + i], y[base + i], d); }
  for (var i = 0u; i < u.n; i++) { dx[base + i] = y[base + i] * (dy[base + i] - d); }
}
#endif

#if ${CROSS_ENTROPY}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;

// loss = logsumexp(x) - x[label]; the log-sum-exp is kept for the gradient. A label outside [0, n) gives NaN.
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = flat_index(wid, nwg, lid);
  if (r >= u.rows) { return; }
  let base = r * u.n;
  var m = x[base];
  for (var i = 1u; i < u.n; i++) { m = max(m, x[base + i]); }
  var s = exp(x[base] - m);
  for (var i = 1u; i < u.n; i++) { s += exp(x[base + i] - m); }
  let l = m + log(s);
  lse[r] = l;
  let label = labels[r];
  let valid = label >= 0 && u32(label) < u.n;
  loss[r] = select(u.nan, l - x[base + u32(max(label, 0))], valid);
}
#endif

#if ${CROSS_ENTROPY_GRAD}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> dloss: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

// dx = (softmax(x) - onehot(label)) * dloss
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = flat_index(wid, nwg, lid);
  if (r >= u.rows) { return; }
  let base = r * u.n;
  let l = lse[r];
  let g = dloss[r];
  let label = u32(labels[r]);
  for (var i = 0u; i < u.n; i++) {
    var p = exp(x[base + i] - l);
    if (i == label) { p -= 1.0; }
    dx[base + i] = p * g;
  }
}
#endif

#if ${TOP_K}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> hit: array<f32>;

// 1 when the label's score ranks among the k highest (ties go to the lower class index), else 0.
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = flat_index(wid, nwg, lid);
  if (r >= u.rows) { return; }
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
