// The CPU-adapter matmul (see matmul.wgsl for the general one): each invocation computes a 16x8 tile of C,
// reading A and B as vec4s, either operand transposed or not. On llvmpipe every storage load is a gather across
// SIMD lanes and spilled registers are cheap by comparison, so the tall tile (128 vec4 multiply-adds per 24 vec4
// loads, against 16 per 8 for a 4x4 tile) measured 2-3x faster there. A transposed operand is read as 4x4 blocks
// and transposed in registers, so it costs no copy and no extra load. Row offsets are computed once, outside the
// K loop. Operands are strided as in matmul.wgsl. Needs K and N multiples of 4, and every row start and stride
// of A and B on a vec4 boundary; C is stored a vec4 at a time when its layout is aligned too (up to 1.09x on
// the paper's shapes). On a GPU the tall tile would starve occupancy: GPUs use matmul.wgsl. The epilogue is
// matmul.wgsl's (matmul_epilogue.wgsl), and so are COLUMN_SUMS (row M of C: the column sums of op(B)) and the sums
// of products (sum_batches).
#include "matmul_epilogue.wgsl"
#include "matmul_operands.wgsl"

fn store_row(c_row: u32, n0: u32, lo: vec4f, hi: vec4f) {
  epilogue(c_row + n0, n0, lo);
  if (n0 + 4u < u.N) { epilogue(c_row + n0 + 4u, n0 + 4u, hi); }
}

fn transpose4(r0: vec4f, r1: vec4f, r2: vec4f, r3: vec4f) -> array<vec4f, 4> {
  return array<vec4f, 4>(vec4f(r0.x, r1.x, r2.x, r3.x), vec4f(r0.y, r1.y, r2.y, r3.y), vec4f(r0.z, r1.z, r2.z, r3.z), vec4f(r0.w, r1.w, r2.w, r3.w));
}

fn run(t: u32) {
  let place = place_of(t);
  let split = place.split;
  let m0 = place.row * 16u;
  let n0 = place.col * 8u;
  // Columns past N (when N is not a multiple of 8) read a valid block and are not stored.
  let n4 = min(n0 + 4u, u.N - 4u);
  let a_first = place.a_first;
  let b_first = place.b_first;
  var c0 = vec4f(0.0); var d0 = vec4f(0.0);
  var c1 = vec4f(0.0); var d1 = vec4f(0.0);
  var c2 = vec4f(0.0); var d2 = vec4f(0.0);
  var c3 = vec4f(0.0); var d3 = vec4f(0.0);
  var c4 = vec4f(0.0); var d4 = vec4f(0.0);
  var c5 = vec4f(0.0); var d5 = vec4f(0.0);
  var c6 = vec4f(0.0); var d6 = vec4f(0.0);
  var c7 = vec4f(0.0); var d7 = vec4f(0.0);
  var c8 = vec4f(0.0); var d8 = vec4f(0.0);
  var c9 = vec4f(0.0); var d9 = vec4f(0.0);
  var c10 = vec4f(0.0); var d10 = vec4f(0.0);
  var c11 = vec4f(0.0); var d11 = vec4f(0.0);
  var c12 = vec4f(0.0); var d12 = vec4f(0.0);
  var c13 = vec4f(0.0); var d13 = vec4f(0.0);
  var c14 = vec4f(0.0); var d14 = vec4f(0.0);
  var c15 = vec4f(0.0); var d15 = vec4f(0.0);
  var col_lo = vec4f(0.0); var col_hi = vec4f(0.0);
  let k4_end = min(u.K, (split + 1u) * u.k_chunk) / 4u;
  // sum_batches > 1: the sum of that many products, each with A and B moved on by a_sum and b_sum (matmul.wgsl)
#if ${SUMMED}
  for (var summed = 0u; summed < u.sum_batches; summed++) {
    let a_base = a_first + summed * u.a_sum;
    let b_base = b_first + summed * u.b_sum;
#else
    let a_base = a_first;
    let b_base = b_first;
#endif
#if ${TRANS_A}
    // A is [K, M]: the 4x4 blocks of rows m0 + 4q.. (clamped to the last block; those rows are not stored).
    let a_step = u.lda / 4u;
    let ra0 = (a_base + min(m0 + 0u, u.M - 4u)) / 4u;
    let ra1 = (a_base + min(m0 + 4u, u.M - 4u)) / 4u;
    let ra2 = (a_base + min(m0 + 8u, u.M - 4u)) / 4u;
    let ra3 = (a_base + min(m0 + 12u, u.M - 4u)) / 4u;
#else
    let last_m = u.M - 1u;
    let r0 = (a_base + m0 * u.lda) / 4u;
    let r1 = (a_base + min(m0 + 1u, last_m) * u.lda) / 4u;
    let r2 = (a_base + min(m0 + 2u, last_m) * u.lda) / 4u;
    let r3 = (a_base + min(m0 + 3u, last_m) * u.lda) / 4u;
    let r4 = (a_base + min(m0 + 4u, last_m) * u.lda) / 4u;
    let r5 = (a_base + min(m0 + 5u, last_m) * u.lda) / 4u;
    let r6 = (a_base + min(m0 + 6u, last_m) * u.lda) / 4u;
    let r7 = (a_base + min(m0 + 7u, last_m) * u.lda) / 4u;
    let r8 = (a_base + min(m0 + 8u, last_m) * u.lda) / 4u;
    let r9 = (a_base + min(m0 + 9u, last_m) * u.lda) / 4u;
    let r10 = (a_base + min(m0 + 10u, last_m) * u.lda) / 4u;
    let r11 = (a_base + min(m0 + 11u, last_m) * u.lda) / 4u;
    let r12 = (a_base + min(m0 + 12u, last_m) * u.lda) / 4u;
    let r13 = (a_base + min(m0 + 13u, last_m) * u.lda) / 4u;
    let r14 = (a_base + min(m0 + 14u, last_m) * u.lda) / 4u;
    let r15 = (a_base + min(m0 + 15u, last_m) * u.lda) / 4u;
#endif
#if ${TRANS_B}
    // B is [N, K]: rows n0..n0+3 and n4..n4+3, read along k and transposed.
    let rlo0 = (b_base + (n0 + 0u) * u.ldb) / 4u;
    let rlo1 = (b_base + (n0 + 1u) * u.ldb) / 4u;
    let rlo2 = (b_base + (n0 + 2u) * u.ldb) / 4u;
    let rlo3 = (b_base + (n0 + 3u) * u.ldb) / 4u;
    let rhi0 = (b_base + (n4 + 0u) * u.ldb) / 4u;
    let rhi1 = (b_base + (n4 + 1u) * u.ldb) / 4u;
    let rhi2 = (b_base + (n4 + 2u) * u.ldb) / 4u;
    let rhi3 = (b_base + (n4 + 3u) * u.ldb) / 4u;
#else
    let b_step = u.ldb / 4u;
#endif
    for (var k4 = split * u.k_chunk / 4u; k4 < k4_end; k4++) {
#if ${TRANS_B}
      let lo = transpose4(B[rlo0 + k4], B[rlo1 + k4], B[rlo2 + k4], B[rlo3 + k4]);
      let hi = transpose4(B[rhi0 + k4], B[rhi1 + k4], B[rhi2 + k4], B[rhi3 + k4]);
      let lo0 = lo[0]; let lo1 = lo[1]; let lo2 = lo[2]; let lo3 = lo[3];
      let hi0 = hi[0]; let hi1 = hi[1]; let hi2 = hi[2]; let hi3 = hi[3];
#else
      let row = (b_base + k4 * 4u * u.ldb) / 4u;
      let lo0 = B[row + n0 / 4u];
      let lo1 = B[row + b_step + n0 / 4u];
      let lo2 = B[row + 2u * b_step + n0 / 4u];
      let lo3 = B[row + 3u * b_step + n0 / 4u];
      let hi0 = B[row + n4 / 4u];
      let hi1 = B[row + b_step + n4 / 4u];
      let hi2 = B[row + 2u * b_step + n4 / 4u];
      let hi3 = B[row + 3u * b_step + n4 / 4u];
#endif
#if ${TRANS_A}
      let ka = 4u * k4 * a_step;
      let t0 = transpose4(A[ra0 + ka], A[ra0 + ka + a_step], A[ra0 + ka + 2u * a_step], A[ra0 + ka + 3u * a_step]);
      let t1 = transpose4(A[ra1 + ka], A[ra1 + ka + a_step], A[ra1 + ka + 2u * a_step], A[ra1 + ka + 3u * a_step]);
      let t2 = transpose4(A[ra2 + ka], A[ra2 + ka + a_step], A[ra2 + ka + 2u * a_step], A[ra2 + ka + 3u * a_step]);
      let t3 = transpose4(A[ra3 + ka], A[ra3 + ka + a_step], A[ra3 + ka + 2u * a_step], A[ra3 + ka + 3u * a_step]);
      let a0 = t0[0];
      let a1 = t0[1];
      let a2 = t0[2];
      let a3 = t0[3];
      let a4 = t1[0];
      let a5 = t1[1];
      let a6 = t1[2];
      let a7 = t1[3];
      let a8 = t2[0];
      let a9 = t2[1];
      let a10 = t2[2];
      let a11 = t2[3];
      let a12 = t3[0];
      let a13 = t3[1];
      let a14 = t3[2];
      let a15 = t3[3];
#else
      let a0 = A[r0 + k4];
      let a1 = A[r1 + k4];
      let a2 = A[r2 + k4];
      let a3 = A[r3 + k4];
      let a4 = A[r4 + k4];
      let a5 = A[r5 + k4];
      let a6 = A[r6 + k4];
      let a7 = A[r7 + k4];
      let a8 = A[r8 + k4];
      let a9 = A[r9 + k4];
      let a10 = A[r10 + k4];
      let a11 = A[r11 + k4];
      let a12 = A[r12 + k4];
      let a13 = A[r13 + k4];
      let a14 = A[r14 + k4];
      let a15 = A[r15 + k4];
#endif
      c0 = fma(vec4f(a0.x), lo0, fma(vec4f(a0.y), lo1, fma(vec4f(a0.z), lo2, fma(vec4f(a0.w), lo3, c0))));
      d0 = fma(vec4f(a0.x), hi0, fma(vec4f(a0.y), hi1, fma(vec4f(a0.z), hi2, fma(vec4f(a0.w), hi3, d0))));
      c1 = fma(vec4f(a1.x), lo0, fma(vec4f(a1.y), lo1, fma(vec4f(a1.z), lo2, fma(vec4f(a1.w), lo3, c1))));
      d1 = fma(vec4f(a1.x), hi0, fma(vec4f(a1.y), hi1, fma(vec4f(a1.z), hi2, fma(vec4f(a1.w), hi3, d1))));
      c2 = fma(vec4f(a2.x), lo0, fma(vec4f(a2.y), lo1, fma(vec4f(a2.z), lo2, fma(vec4f(a2.w), lo3, c2))));
      d2 = fma(vec4f(a2.x), hi0, fma(vec4f(a2.y), hi1, fma(vec4f(a2.z), hi2, fma(vec4f(a2.w), hi3, d2))));
      c3 = fma(vec4f(a3.x), lo0, fma(vec4f(a3.y), lo1, fma(vec4f(a3.z), lo2, fma(vec4f(a3.w), lo3, c3))));
      d3 = fma(vec4f(a3.x), hi0, fma(vec4f(a3.y), hi1, fma(vec4f(a3.z), hi2, fma(vec4f(a3.w), hi3, d3))));
      c4 = fma(vec4f(a4.x), lo0, fma(vec4f(a4.y), lo1, fma(vec4f(a4.z), lo2, fma(vec4f(a4.w), lo3, c4))));
      d4 = fma(vec4f(a4.x), hi0, fma(vec4f(a4.y), hi1, fma(vec4f(a4.z), hi2, fma(vec4f(a4.w), hi3, d4))));
      c5 = fma(vec4f(a5.x), lo0, fma(vec4f(a5.y), lo1, fma(vec4f(a5.z), lo2, fma(vec4f(a5.w), lo3, c5))));
      d5 = fma(vec4f(a5.x), hi0, fma(vec4f(a5.y), hi1, fma(vec4f(a5.z), hi2, fma(vec4f(a5.w), hi3, d5))));
      c6 = fma(vec4f(a6.x), lo0, fma(vec4f(a6.y), lo1, fma(vec4f(a6.z), lo2, fma(vec4f(a6.w), lo3, c6))));
      d6 = fma(vec4f(a6.x), hi0, fma(vec4f(a6.y), hi1, fma(vec4f(a6.z), hi2, fma(vec4f(a6.w), hi3, d6))));
      c7 = fma(vec4f(a7.x), lo0, fma(vec4f(a7.y), lo1, fma(vec4f(a7.z), lo2, fma(vec4f(a7.w), lo3, c7))));
      d7 = fma(vec4f(a7.x), hi0, fma(vec4f(a7.y), hi1, fma(vec4f(a7.z), hi2, fma(vec4f(a7.w), hi3, d7))));
      c8 = fma(vec4f(a8.x), lo0, fma(vec4f(a8.y), lo1, fma(vec4f(a8.z), lo2, fma(vec4f(a8.w), lo3, c8))));
      d8 = fma(vec4f(a8.x), hi0, fma(vec4f(a8.y), hi1, fma(vec4f(a8.z), hi2, fma(vec4f(a8.w), hi3, d8))));
      c9 = fma(vec4f(a9.x), lo0, fma(vec4f(a9.y), lo1, fma(vec4f(a9.z), lo2, fma(vec4f(a9.w), lo3, c9))));
      d9 = fma(vec4f(a9.x), hi0, fma(vec4f(a9.y), hi1, fma(vec4f(a9.z), hi2, fma(vec4f(a9.w), hi3, d9))));
      c10 = fma(vec4f(a10.x), lo0, fma(vec4f(a10.y), lo1, fma(vec4f(a10.z), lo2, fma(vec4f(a10.w), lo3, c10))));
      d10 = fma(vec4f(a10.x), hi0, fma(vec4f(a10.y), hi1, fma(vec4f(a10.z), hi2, fma(vec4f(a10.w), hi3, d10))));
      c11 = fma(vec4f(a11.x), lo0, fma(vec4f(a11.y), lo1, fma(vec4f(a11.z), lo2, fma(vec4f(a11.w), lo3, c11))));
      d11 = fma(vec4f(a11.x), hi0, fma(vec4f(a11.y), hi1, fma(vec4f(a11.z), hi2, fma(vec4f(a11.w), hi3, d11))));
      c12 = fma(vec4f(a12.x), lo0, fma(vec4f(a12.y), lo1, fma(vec4f(a12.z), lo2, fma(vec4f(a12.w), lo3, c12))));
      d12 = fma(vec4f(a12.x), hi0, fma(vec4f(a12.y), hi1, fma(vec4f(a12.z), hi2, fma(vec4f(a12.w), hi3, d12))));
      c13 = fma(vec4f(a13.x), lo0, fma(vec4f(a13.y), lo1, fma(vec4f(a13.z), lo2, fma(vec4f(a13.w), lo3, c13))));
      d13 = fma(vec4f(a13.x), hi0, fma(vec4f(a13.y), hi1, fma(vec4f(a13.z), hi2, fma(vec4f(a13.w), hi3, d13))));
      c14 = fma(vec4f(a14.x), lo0, fma(vec4f(a14.y), lo1, fma(vec4f(a14.z), lo2, fma(vec4f(a14.w), lo3, c14))));
      d14 = fma(vec4f(a14.x), hi0, fma(vec4f(a14.y), hi1, fma(vec4f(a14.z), hi2, fma(vec4f(a14.w), hi3, d14))));
      c15 = fma(vec4f(a15.x), lo0, fma(vec4f(a15.y), lo1, fma(vec4f(a15.z), lo2, fma(vec4f(a15.w), lo3, c15))));
      d15 = fma(vec4f(a15.x), hi0, fma(vec4f(a15.y), hi1, fma(vec4f(a15.z), hi2, fma(vec4f(a15.w), hi3, d15))));
#if ${COLUMN_SUMS}
      col_lo += ((lo0 + lo1) + lo2) + lo3;
      col_hi += ((hi0 + hi1) + hi2) + hi3;
#endif
    }
#if ${SUMMED}
  }
#endif

  let c_base = place.c_base;
  // the rows through a loop the compiler cannot unroll (it ends at a uniform's value): sixteen inlined epilogues
  // (GELU and dropout among them) took llvmpipe 6-19 s to compile, a tenth of a training step's first tuning
  let sums = array<vec4f, 32>(c0, d0, c1, d1, c2, d2, c3, d3, c4, d4, c5, d5, c6, d6, c7, d7, c8, d8, c9, d9, c10, d10, c11, d11, c12, d12, c13, d13, c14, d14, c15, d15);
  for (var i = 0u; i < min(16u, u.M - m0); i++) {
    store_row(c_base + (m0 + i) * u.ldc, n0, sums[2u * i], sums[2u * i + 1u]);
  }
#if ${COLUMN_SUMS}
  if (m0 == 0u) { store_row(c_base + u.M * u.ldc, n0, col_lo, col_hi); }
#endif
}
