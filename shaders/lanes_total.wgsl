// The sum (and the maximum) of one value from each invocation of a workgroup, for all of them: a tree in
// workgroup memory (WG a power of two), WG - 1 operations. Every invocation of the workgroup must call them (they
// hold barriers).
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

fn lanes_max(lane: u32, part: f32) -> f32 {
  parts[lane] = part;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width >>= 1u) {
    if (lane < width) { parts[lane] = max(parts[lane], parts[lane + width]); }
    workgroupBarrier();
  }
  let most = parts[0];
  workgroupBarrier();
  return most;
}
