// A row per subgroup, its invocations the row's lanes: included by the row-wise kernels' lane variants, which
// define `row_across_lanes(r, lane, lanes)`. Rows go to subgroups by a counter in workgroup memory, not by
// invocation index: which invocations form a subgroup is the implementation's to decide. A subgroup's lanes rank
// themselves by an exclusive prefix sum. ROWS_PER_GROUP rows a workgroup.
var<workgroup> subgroups_seen: atomic<u32>;
var<workgroup> subgroup_count: u32;

fn lanes_total(lane: u32, part: f32) -> f32 {
  return subgroupAdd(part);
}

fn lanes_max(lane: u32, part: f32) -> f32 {
  return subgroupMax(part);
}

fn run(lid: u32, group: u32) {
  var slot = 0u;
  if (subgroupElect()) { slot = atomicAdd(&subgroups_seen, 1u); }
  slot = subgroupBroadcastFirst(slot);
  workgroupBarrier();
  if (lid == 0u) { subgroup_count = atomicLoad(&subgroups_seen); }
  let count = workgroupUniformLoad(&subgroup_count);
  let lane = subgroupExclusiveAdd(1u);
  let lanes = subgroupAdd(1u);
  for (var r = group * ${ROWS_PER_GROUP}u + slot; r < min((group + 1u) * ${ROWS_PER_GROUP}u, u.rows); r += count) {
    row_across_lanes(r, lane, lanes);
  }
}
