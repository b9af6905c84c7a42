// Elementwise binary map out = f(x, y) with numpy broadcasting: each operand is read through its own strides
// (0 along broadcast axes), so no broadcast copy is ever made.
#include "common.wgsl"

struct Params {
  n: u32, p0: u32, a_offset: u32, b_offset: u32,
  shape: array<vec4u, 2>,
  a_stride: array<vec4u, 2>,
  b_stride: array<vec4u, 2>,
}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> lhs: array<f32>;
@group(0) @binding(2) var<storage, read> rhs: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= u.n) { return; }
#if ${SAME_SHAPE}
  let x = lhs[i];
  let y = rhs[i];
#else
  var rem = i;
  var ia = u.a_offset;
  var ib = u.b_offset;
  for (var d = ${RANK} - 1; d >= 0; d--) {
    let dim = at8(u.shape, u32(d));
    let c = rem % dim;
    rem = rem / dim;
    ia += c * at8(u.a_stride, u32(d));
    ib += c * at8(u.b_stride, u32(d));
  }
  let x = lhs[ia];
  let y = rhs[ib];
#endif
  out[i] = ${EXPR};
}
