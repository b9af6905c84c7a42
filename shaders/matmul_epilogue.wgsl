// The epilogue both matmul kernels end in, on four columns n.. n+3 of one row of C, `at` being C's index of
// column n: scale by alpha, add the bias, keep the pre-activation in Z (for the activation's gradient), apply the
// activation, dropout (element `at` + j of the output, as the dropout kernel draws it), add the residual R (laid
// out as C), store. Columns past N are clamped on load and not stored.
#if ${ACTIVATION}
alias V = vec4f;
#include "erf.wgsl"
#endif

#if ${HAS_BIAS}
fn bias4(n: u32) -> vec4f {
  let last = u.N - 1u;
  return vec4f(bias[n], bias[min(n + 1u, last)], bias[min(n + 2u, last)], bias[min(n + 3u, last)]);
}
#endif

#if ${DROPOUT}
#include "dropout_mask.wgsl"
#endif

#if ${HAS_RESIDUAL}
fn residual4(at: u32, n: u32) -> vec4f {
#if ${VEC_C}
  return R[at / 4u];
#else
  let row = at - n;
  let last = u.N - 1u;
  return vec4f(R[at], R[row + min(n + 1u, last)], R[row + min(n + 2u, last)], R[row + min(n + 3u, last)]);
#endif
}
#endif

fn epilogue(at: u32, n: u32, sums: vec4f) {
  var v = sums;
#if ${HAS_ALPHA}
  v *= u.alpha;
#endif
#if ${HAS_BIAS}
  v += bias4(n);
#endif
#if ${KEEP_PRE}
#if ${VEC_C}
  Z[at / 4u] = v;
#else
  for (var j = 0u; j < 4u; j++) {
    if (n + j < u.N) { Z[at + j] = v[j]; }
  }
#endif
#endif
#if ${ACTIVATION}
  {
    let x = v;
    v = ${ACT_EXPR};
  }
#endif
#if ${DROPOUT}
  v *= dropout_factor4(at);
#endif
#if ${HAS_RESIDUAL}
  v += residual4(at, n);
#endif
#if ${VEC_C}
  C[at / 4u] = v;
#else
  for (var j = 0u; j < 4u; j++) {
    if (n + j < u.N) { C[at + j] = v[j]; }
  }
#endif
}
