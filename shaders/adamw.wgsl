// One fused AdamW step over a parameter tensor, in place:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p = p - lr * (m c1) / (sqrt(v c2) + eps) - decay * p      (c1, c2: bias corrections; decay decoupled)
#include "common.wgsl"

struct Params { n: u32, lr: f32, beta1: f32, beta2: f32, one_minus_beta1: f32, one_minus_beta2: f32, eps: f32, decay: f32, c1: f32, c2: f32, p0: u32, p1: u32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= u.n) { return; }
  let g = grad[i];
  let p = param[i];
  let m1 = fma(u.beta1, m[i], u.one_minus_beta1 * g);
  let v1 = fma(u.beta2, v[i], u.one_minus_beta2 * (g * g));
  m[i] = m1;
  v[i] = v1;
  let update = (m1 * u.c1) / (sqrt(v1 * u.c2) + u.eps);
  param[i] = p - u.lr * update - u.decay * p;
}
