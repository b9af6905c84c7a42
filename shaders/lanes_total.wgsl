// The sum of one value from each invocation of a workgroup, for all of them: a tree in workgroup memory (WG a
// power of two), WG - 1 adds. Every invocation of the workgroup must call it (it holds barriers).
var<workgroup> parts: array<f32, WG>;

fn lanes_total(lane: u32, part: f32) -> f32 {
  parts[lane] = part;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width >>= 1u) {
    if (lane < width) { parts[lane] += parts[lane + width]; }
    workgroupBarrier();
  }
  let total = parts[0];
  workgroupBarrier(); // all have read the total before the next sum writes parts
  return total;
}
