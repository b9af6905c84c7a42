// Reduction over the middle axis of a [outer, n, inner] view, in chunks: output [outer, parts, inner] holds the
// reduction of each run of `chunk` values (parts = ceil(n / chunk)). One invocation per output, a sequential loop
// in a fixed order: deterministic, no atomics, and no loop longer than `chunk` (llvmpipe silently stops loops
// after 65,535 iterations). A mean multiplies by `scale` once, in the last pass.
#include "common.wgsl"

struct Params { outer: u32, n: u32, inner: u32, chunk: u32, parts: u32, scale: f32, p0: u32, p1: u32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let o = flat_index(wid, nwg, lid);
  if (o >= u.outer * u.parts * u.inner) { return; }
  let i = o % u.inner;
  let part = (o / u.inner) % u.parts;
  let row = o / (u.inner * u.parts);
  let first = part * u.chunk;
  let count = min(u.chunk, u.n - first);
  let base = (row * u.n + first) * u.inner + i;
  var acc = src[base];
  for (var k = 1u; k < count; k++) {
    let v = src[base + k * u.inner];
#if ${MAX}
    acc = max(acc, v);
#else
    acc += v;
#endif
  }
#if ${SCALE}
  dst[o] = acc * u.scale;
#else
  dst[o] = acc;
#endif
}
