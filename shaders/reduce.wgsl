// Reduction over the middle axis of a [outer, n, inner] view, in chunks: output [outer, parts, inner] holds the
// reduction of each run of `chunk` values (parts = ceil(n / chunk)). One invocation per output, a sequential loop
// in a fixed order: deterministic, no atomics, and no loop longer than `chunk` (llvmpipe silently stops loops
// after 65,535 iterations). A mean multiplies by `scale` once, in the last pass. LANES (sums and means): one
// pass, each output's n values spread over a workgroup's or a subgroup's lanes (kernels/lanes.ts).
#if ${LANES}
fn row_across_lanes(r: u32, lane: u32, lanes: u32) {
  let base = (r / u.inner) * u.n * u.inner + r % u.inner;
  var acc = 0.0;
  for (var k = lane; k < u.n; k += lanes) { acc += src[base + k * u.inner]; }
  acc = lanes_total(lane, acc);
  if (lane == 0u) {
#if ${SCALE}
    dst[r] = acc * u.scale;
#else
    dst[r] = acc;
#endif
  }
}

#if ${LANES_WORKGROUP}
#include "rows_by_workgroup.wgsl"
#endif

#if ${LANES_SUBGROUP}
#include "rows_by_subgroup.wgsl"
#endif

#else
fn run(o: u32) {
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
#endif
