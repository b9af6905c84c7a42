// The epilogue every matmul kernel ends in (matmul, matmul_wide, matmul_tiled), on four columns n.. n+3 of one row of C, `at` being C's index of
// column n: scale by alpha, add the bias, keep the pre-activation in Z (for the activation's gradient), apply the
// activation, dropout (element `at` + j of the output, as the dropout kernel draws it), add the residual R (laid
// out as C, or broadcast over C's rows or columns), store. ACT_GRAD (a gradient product): the sums are the gradient of a layer's output that went
// through an activation and then a dropout; mask them as that dropout did and multiply by the activation's
// derivative at the pre-activation P (laid out as C): the gradient of the layer's pre-activation. Columns past N
// are clamped on load and not stored.
#if ${ACTIVATION_HELPERS}
alias V = vec4f;
#include "erf.wgsl"
#endif

#if ${HAS_BIAS}
// Four biases from column n; with bias_stride > 0 each batch of a packed output has its own (stacked products:
// batch b of C, at b M N.., adds the bias at b * bias_stride).
fn bias4(at: u32, n: u32) -> vec4f {
  let last = u.N - 1u;
  let base = (at / (u.M * u.N)) * u.bias_stride;
  return vec4f(bias[base + n], bias[base + min(n + 1u, last)], bias[base + min(n + 2u, last)], bias[base + min(n + 3u, last)]);
}
#endif

#if ${DROPOUT_MASK}
#include "dropout_mask.wgsl"
#endif

#if ${HAS_RESIDUAL}
fn residual4(at: u32, n: u32) -> vec4f {
#if ${RESIDUAL_BROADCAST}
  // R broadcast: C's row g (counted over the whole packed output) reads R's row g % r_period, at r_row elements a
  // row and r_col a column (0: one value for the whole row)
  let last = u.N - 1u;
  let row = ((at / u.N) % u.r_period) * u.r_row;
  return vec4f(R[row + n * u.r_col], R[row + min(n + 1u, last) * u.r_col], R[row + min(n + 2u, last) * u.r_col], R[row + min(n + 3u, last) * u.r_col]);
#elif ${VEC_C}
  return R[at / 4u];
#else
  let row = at - n;
  let last = u.N - 1u;
  return vec4f(R[at], R[row + min(n + 1u, last)], R[row + min(n + 2u, last)], R[row + min(n + 3u, last)]);
#endif
}
#endif

#if ${ACT_GRAD}
fn pre4(at: u32, n: u32) -> vec4f {
#if ${VEC_C}
  return P[at / 4u];
#else
  let row = at - n;
  let last = u.N - 1u;
  return vec4f(P[at], P[row + min(n + 1u, last)], P[row + min(n + 2u, last)], P[row + min(n + 3u, last)]);
#endif
}
#endif

fn epilogue(at: u32, n: u32, sums: vec4f) {
  var v = sums;
#if ${HAS_ALPHA}
  v *= u.alpha;
#endif
#if ${HAS_BIAS}
  v += bias4(at, n);
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
#if ${ACT_GRAD}
  {
#if ${GRAD_DROPOUT}
    let dy = v * dropout_factor4(at);
#else
    let dy = v;
#endif
    let x = pre4(at, n);
    v = ${ACT_GRAD_EXPR};
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

// A 4 x 4 tile of sums, rows m0.. m0+3 and columns n0.. n0+3 of the matrix at c_base, through the epilogue; rows
// past M are not stored.
fn store_tile(c_base: u32, m0: u32, n0: u32, rows: array<vec4f, 4>) {
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= u.M) { break; }
    epilogue(c_base + m * u.ldc + n0, n0, rows[i]);
  }
}
