// Elementwise binary map out = f(x, y) with numpy broadcasting. Common layouts read each operand directly, one
// value or four (V is f32 or vec4f) per invocation: the same shape as the output (`lhs[i]`), a block repeated
// along the leading axes (`lhs[i % len]`: a bias, a positional table), or one value spread over a block of the
// trailing axes (`V(lhs[i / div])`: a 1-channel residual); any other layout walks each operand's own strides.
alias V = ${TYPE};

fn run(i: u32) {
#if ${STRIDED}
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
#else
  let x = ${LHS};
  let y = ${RHS};
#endif
  out[i] = ${EXPR};
}
