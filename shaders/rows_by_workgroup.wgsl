// A row per workgroup, its WG invocations the row's lanes (their sums and maxima meet in lanes_total.wgsl's
// tree): included by the row-wise kernels' lane variants, which define `row_across_lanes(r, lane, lanes)`.
#include "lanes_total.wgsl"

fn run(lid: u32, group: u32) {
  if (group >= u.rows) { return; }
  row_across_lanes(group, lid, WG);
}
