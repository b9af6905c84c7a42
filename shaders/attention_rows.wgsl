// What both fused attention kernels (attention.wgsl, attention_head.wgsl) share: q, k, v, out, dout and the
// gradients are read and written W values at a time (V: vec4f where D is a multiple of 4, else f32); u.d counts a
// head row's V's. The head width is a uniform, not a shader constant: with D = 128 known to the compiler, llvmpipe
// unrolled every loop over it and took 68 s to compile the fused kernels (40 s the per-head ones), and ran them at
// half the speed they run with the loops kept (TASR_4L_8T-8H's attention with its backward, batch 64: 62 ms
// against 31).
alias V = ${V};
const T = ${T}u;
const H = ${H}u;

// Where row t of head h of batch b starts in a [B, T, H * D] tensor (in V's).
fn row_at(b: u32, h: u32, t: u32) -> u32 {
  return (b * T + t) * (H * u.d) + h * u.d;
}

// The sum of a V's lanes.
fn total(x: V) -> f32 {
#if ${VEC}
  return (x.x + x.y) + (x.z + x.w);
#else
  return x;
#endif
}

// q_i . k_j over the D values of the rows starting at i (in q) and j (in k)
fn dot_qk(i: u32, j: u32) -> f32 {
  var acc = V(0.0);
  for (var d = 0u; d < u.d; d++) { acc = fma(q[i + d], k[j + d], acc); }
  return total(acc);
}
