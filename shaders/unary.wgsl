// Elementwise unary map y = f(x), and its gradient dx = dy * f'(x, y). The expressions come from the op table in
// src/kernels/elementwise.ts; `a` and `b` are scalar parameters (clamp bounds, scale).
#include "common.wgsl"

struct Params { n: u32, a: f32, b: f32, pad: u32 }
@group(0) @binding(0) var<uniform> u: Params;

#if ${GRAD}
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> ys: array<f32>;
@group(0) @binding(3) var<storage, read> dys: array<f32>;
@group(0) @binding(4) var<storage, read_write> dxs: array<f32>;
#else
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> ys: array<f32>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= u.n) { return; }
  let a = u.a;
  let b = u.b;
  let x = xs[i];
#if ${GRAD}
  let y = ys[i];
  let dy = dys[i];
  dxs[i] = ${EXPR};
#else
  ys[i] = ${EXPR};
#endif
}
