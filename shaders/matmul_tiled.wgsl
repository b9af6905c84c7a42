// GPU-class batched matmul (the textbook tiling): a workgroup of 16 x 16 invocations computes a 64 x 64 block of C,
// each invocation a 4 x 4 register tile, with K walked 16 at a time through workgroup memory: every value of A and
// B is read from storage once per block instead of once per invocation's tile. The same operands (strided,
// transposed, broadcast batches), split-K runs and epilogue (matmul_epilogue.wgsl) as matmul.wgsl; no column sums.
// Values past the matrix's edges load as zeros, so any M, N, K works. The block count is uniform per workgroup, so
// workgroups past the end return before any barrier.
#include "matmul_epilogue.wgsl"
#include "matmul_operands.wgsl"

const BLOCK = 64u;
const K_STEP = 16u;
/** A's block as [k][m] and B's as [k][n], K_STEP x BLOCK each. */
var<workgroup> a_tile: array<f32, 1024>;
var<workgroup> b_tile: array<f32, 1024>;

fn a_value(base: u32, m: u32, k: u32, k_end: u32) -> f32 {
  if (m >= u.M || k >= k_end) { return 0.0; }
#if ${TRANS_A}
  return A[base + k * u.lda + m];
#else
  return A[base + m * u.lda + k];
#endif
}

fn b_value(base: u32, k: u32, n: u32, k_end: u32) -> f32 {
  if (n >= u.N || k >= k_end) { return 0.0; }
#if ${TRANS_B}
  return B[base + n * u.ldb + k];
#else
  return B[base + k * u.ldb + n];
#endif
}

fn run(lid: u32, group: u32) {
  let place = place_of(group);
  let split = place.split;
  if (split >= u.splits) { return; }
  let bm = place.row * BLOCK;
  let bn = place.col * BLOCK;
  let a_base = place.a_first;
  let b_base = place.b_first;
  // this invocation's 4 x 4 tile inside the block
  let tm = (lid / 16u) * 4u;
  let tn = (lid % 16u) * 4u;

  var c0 = vec4f(0.0);
  var c1 = vec4f(0.0);
  var c2 = vec4f(0.0);
  var c3 = vec4f(0.0);
  let k_start = split * u.k_chunk;
  let k_end = min(u.K, k_start + u.k_chunk);
  for (var k0 = k_start; k0 < k_end; k0 += K_STEP) {
    // 1024 values of each operand, four per invocation; neighbouring invocations read neighbouring addresses
    for (var j = 0u; j < 4u; j++) {
      let e = j * WG + lid;
#if ${TRANS_A}
      let am = e % BLOCK;
      let ak = e / BLOCK;
#else
      let ak = e % K_STEP;
      let am = e / K_STEP;
#endif
      a_tile[ak * BLOCK + am] = a_value(a_base, bm + am, k0 + ak, k_end);
#if ${TRANS_B}
      let bk = e % K_STEP;
      let bnn = e / K_STEP;
#else
      let bnn = e % BLOCK;
      let bk = e / BLOCK;
#endif
      b_tile[bk * BLOCK + bnn] = b_value(b_base, k0 + bk, bn + bnn, k_end);
    }
    workgroupBarrier();
    for (var k = 0u; k < K_STEP; k++) {
      let row = k * BLOCK;
      let bk = vec4f(b_tile[row + tn], b_tile[row + tn + 1u], b_tile[row + tn + 2u], b_tile[row + tn + 3u]);
      c0 = fma(vec4f(a_tile[row + tm]), bk, c0);
      c1 = fma(vec4f(a_tile[row + tm + 1u]), bk, c1);
      c2 = fma(vec4f(a_tile[row + tm + 2u]), bk, c2);
      c3 = fma(vec4f(a_tile[row + tm + 3u]), bk, c3);
    }
    workgroupBarrier();
  }

  let n0 = bn + tn;
  if (n0 >= u.N) { return; }
  store_tile(place.c_base, bm + tm, n0, array<vec4f, 4>(c0, c1, c2, c3));
}
