// Batched matmul C[b] = alpha * op(A[b]) op(B[b]) (+ bias, activation, residual: matmul_epilogue.wgsl), register-blocked: each invocation computes a 4x4 tile
// of C with no workgroup memory (barriers are expensive on CPU adapters such as llvmpipe). Rows and columns past
// the edge are clamped on load and skipped on store, so any M, N, K works. Batch strides of 0 broadcast an operand.
// A long K is split into `splits` runs of `k_chunk` (llvmpipe stops loops after 65,535 iterations); each run
// writes its own [batch, M, N] slab and the caller sums the slabs. Operands are strided: row r of a matrix starts
// at r * ld, and batch b at (b / inner_batches) * outer + (b % inner_batches) * inner, so a head of attention
// reads its columns of a [B, T, H * D] tensor in place and writes its output back into one.
// COLUMN_SUMS: every invocation also sums the columns of op(B) it reads over its K run, and those of the first
// tile row store them as row M of C (a bias's gradient beside its weight's, from the same reads of the output's
// gradient). sum_batches > 1: each C is the sum of that many products, the i-th with A and B moved a_sum and b_sum
// elements on (an input's gradient from the Q, K and V products it fed, with no separate sum).
#include "matmul_epilogue.wgsl"
#include "matmul_operands.wgsl"

fn run(t: u32) {
  let tile = tile_at(t);

  var c0 = vec4f(0.0);
  var c1 = vec4f(0.0);
  var c2 = vec4f(0.0);
  var c3 = vec4f(0.0);
  var col = vec4f(0.0);
  let k_end = min(u.K, (tile.split + 1u) * u.k_chunk);
#if ${SUMMED}
  for (var summed = 0u; summed < u.sum_batches; summed++) {
    let a_base = tile.a_first + summed * u.a_sum;
    let b_base = tile.b_first + summed * u.b_sum;
#else
    let a_base = tile.a_first;
    let b_base = tile.b_first;
#endif
#if ${VEC_A}
    // K is a multiple of 4 (and so is every split): read A four k at a time, four rows at once.
    let r0 = (a_base + tile.m0 * u.lda) / 4u;
    let r1 = (a_base + tile.m1 * u.lda) / 4u;
    let r2 = (a_base + tile.m2 * u.lda) / 4u;
    let r3 = (a_base + tile.m3 * u.lda) / 4u;
    for (var k4 = tile.split * u.k_chunk / 4u; k4 < k_end / 4u; k4++) {
      let k = k4 * 4u;
      let b0 = load_b(b_base, k, tile.n0);
      let b1 = load_b(b_base, k + 1u, tile.n0);
      let b2 = load_b(b_base, k + 2u, tile.n0);
      let b3 = load_b(b_base, k + 3u, tile.n0);
      let a0 = A[r0 + k4];
      let a1 = A[r1 + k4];
      let a2 = A[r2 + k4];
      let a3 = A[r3 + k4];
      c0 = fma4(a0, b0, b1, b2, b3, c0);
      c1 = fma4(a1, b0, b1, b2, b3, c1);
      c2 = fma4(a2, b0, b1, b2, b3, c2);
      c3 = fma4(a3, b0, b1, b2, b3, c3);
#if ${COLUMN_SUMS}
      col += ((b0 + b1) + b2) + b3;
#endif
    }
#else
    for (var k = tile.split * u.k_chunk; k < k_end; k++) {
      let bk = load_b(b_base, k, tile.n0);
      c0 = fma(vec4f(A[a_index(a_base, tile.m0, k)]), bk, c0);
      c1 = fma(vec4f(A[a_index(a_base, tile.m1, k)]), bk, c1);
      c2 = fma(vec4f(A[a_index(a_base, tile.m2, k)]), bk, c2);
      c3 = fma(vec4f(A[a_index(a_base, tile.m3, k)]), bk, c3);
#if ${COLUMN_SUMS}
      col += bk;
#endif
    }
#endif
#if ${SUMMED}
  }
#endif

  store_tile(tile.c_base, tile.m0, tile.n0, array<vec4f, 4>(c0, c1, c2, c3));
#if ${COLUMN_SUMS}
  if (tile.m0 == 0u) { epilogue(tile.c_base + u.M * u.ldc + tile.n0, tile.n0, col); }
#endif
}
