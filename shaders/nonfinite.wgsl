// --detect-anomaly: after a dispatch, its float output is scanned; the first dispatch of the step (by its index)
// whose output holds a NaN or an infinity (all exponent bits set) is marked in flag[0], which starts at 0xffffffff.
// Dispatches run in order, so a later one never overwrites an earlier mark; within one, every writer writes the same
// value.

fn run(i: u32) {
  let bits = bitcast<u32>(x[i]);
  if ((bits & 0x7f800000u) == 0x7f800000u && flag[0] == 0xffffffffu) {
    flag[0] = u.index;
  }
}
