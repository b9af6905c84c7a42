// Every element set to one value, on the GPU: a constant (a gradient's seed) without an upload that would make the
// step submit midway.
fn run(i: u32) {
  ys[i] = u.value;
}
