// Elementwise unary map y = f(x), and its gradient dx = dy * f'(x, y), on one value or four (V is f32 or vec4f) per
// invocation. The expressions come from the op table in src/kernels/elementwise.ts; `a` and `b` are scalar
// parameters (clamp bounds, scale).
alias V = ${TYPE};
#include "erf.wgsl"

fn run(i: u32) {
  let a = u.a;
  let b = u.b;
  let x = xs[i];
#if ${GRAD}
  let y = ys[i];
  let dy = dys[i];
  dxs[i] = ${EXPR};
#else
  ys[i] = ${EXPR};
#endif
}
