// Contiguous copy, four values per invocation: dst[offset4 + i] = src[i] (as vec4s).
fn run(i: u32) {
  dst[u.offset4 + i] = src[i];
}
