// Gradient of a max over the middle axis of [outer, n, inner]: dy goes to the first position holding the row's
// maximum, zero elsewhere. One invocation per output row.
#include "common.wgsl"

struct Params { outer: u32, n: u32, inner: u32, pad: u32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> ys: array<f32>;
@group(0) @binding(3) var<storage, read> dys: array<f32>;
@group(0) @binding(4) var<storage, read_write> dxs: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let o = flat_index(wid, nwg, lid);
  if (o >= u.outer * u.inner) { return; }
  let base = (o / u.inner) * u.n * u.inner + o % u.inner;
  let y = ys[o];
  var found = false;
  for (var k = 0u; k < u.n; k++) {
    let hit = !found && xs[base + k * u.inner] == y;
    dxs[base + k * u.inner] = select(0.0, dys[o], hit);
    found = found || hit;
  }
}
