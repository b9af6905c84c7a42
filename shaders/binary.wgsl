// Elementwise binary map out = f(x, y) with numpy broadcasting: each operand is read through its own strides
// (0 along broadcast axes), so no broadcast copy is ever made.
fn run(i: u32) {
#if ${SAME_SHAPE}
  let x = lhs[i];
  let y = rhs[i];
#else
  var rem = i;
  var ia = 0u;
  var ib = 0u;
  for (var d = ${RANK} - 1; d >= 0; d--) {
    let dim = at8(u.shape, u32(d));
    let c = rem % dim;
    rem = rem / dim;
    ia += c * at8(u.a_stride, u32(d));
    ib += c * at8(u.b_stride, u32(d));
  }
  let x = lhs[ia];
  let y = rhs[ib];
#endif
  out[i] = ${EXPR};
}
