// Elementwise unary map y = f(x), and its gradient dx = dy * f'(x, y), on one value or four (V is f32 or vec4f) per
// invocation. The expressions come from the op table in src/kernels/elementwise.ts; `a` and `b` are scalar
// parameters (clamp bounds, scale). DROPOUT (gradients only): dy arrives through a dropout that followed f (fused
// into the producing kernel's epilogue), so it is masked first, as the dropout kernel's gradient would.
alias V = ${TYPE};
#include "erf.wgsl"
#if ${DROPOUT}
#include "dropout_mask.wgsl"
#endif

fn run(i: u32) {
  let a = u.a;
  let b = u.b;
  let x = xs[i];
#if ${GRAD}
  let y = ys[i];
#if ${DROPOUT}
#if ${VEC}
  let dy = dys[i] * dropout_factor4(4u * i);
#else
  let dy = dys[i] * dropout_factor(i);
#endif
#else
  let dy = dys[i];
#endif
  dxs[i] = ${EXPR};
#else
  ys[i] = ${EXPR};
#endif
}
