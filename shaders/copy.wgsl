// Strided copy: out[out_offset + sum(c * out_stride)] = in[in_offset + sum((c - lo) * in_stride)] over a domain of
// coordinates c, or 0 where c - lo falls outside the input's dims. One kernel serves permute (permuted strides),
// slice (lo = -start), pad (lo = padding), broadcast (stride 0) and concat (a region of the output).
#include "common.wgsl"

struct Params {
  n: u32, p0: u32, in_offset: u32, out_offset: u32,
  shape: array<vec4u, 2>,
  in_stride: array<vec4u, 2>,
  out_stride: array<vec4u, 2>,
  lo: array<vec4u, 2>,
  in_dims: array<vec4u, 2>,
}
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= u.n) { return; }
  var rem = i;
  var si = i32(u.in_offset);
  var di = u.out_offset;
  var inside = true;
  for (var d = ${RANK} - 1; d >= 0; d--) {
    let dim = at8(u.shape, u32(d));
    let c = rem % dim;
    rem = rem / dim;
    let ci = i32(c) - bitcast<i32>(at8(u.lo, u32(d)));
    inside = inside && ci >= 0 && ci < i32(at8(u.in_dims, u32(d)));
    si += ci * i32(at8(u.in_stride, u32(d)));
    di += c * at8(u.out_stride, u32(d));
  }
  dst[di] = select(0.0, src[max(si, 0)], inside);
}
