// Self-test for `tokenwave doctor`: y[i] = x[i] * x[i] * scale + i, checked against the CPU.
fn run(i: u32) {
  y[i] = x[i] * x[i] * u.scale + f32(i);
}
