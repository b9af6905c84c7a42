// Batched matmul with a subgroup per 4 x 4 tile of C (the GPU class's subgroup variant): the subgroup's lanes split
// the tile's K run (lane j takes every lanes-th k, four at a time where A is read as vec4), subgroupAdd sums their
// tiles, and the first lane stores the sum through the epilogue. It gives a small C over a long K (a weight's
// gradient, summed over every pixel of the batch) a subgroup of invocations per tile where the register tile has
// one, with no partial products written out and summed by a second dispatch. Operands, splits and epilogue are
// matmul.wgsl's; no column sums, no sums of products. Tiles go to subgroups as rows do (rows_by_subgroup.wgsl).
#include "matmul_epilogue.wgsl"
#include "matmul_operands.wgsl"

fn row_across_lanes(t: u32, lane: u32, lanes: u32) {
  let tile = tile_at(t);
  let a_base = tile.a_first;
  let b_base = tile.b_first;
  var c0 = vec4f(0.0);
  var c1 = vec4f(0.0);
  var c2 = vec4f(0.0);
  var c3 = vec4f(0.0);
  let k_end = min(u.K, (tile.split + 1u) * u.k_chunk);
#if ${VEC_A}
  let r0 = (a_base + tile.m0 * u.lda) / 4u;
  let r1 = (a_base + tile.m1 * u.lda) / 4u;
  let r2 = (a_base + tile.m2 * u.lda) / 4u;
  let r3 = (a_base + tile.m3 * u.lda) / 4u;
  for (var k4 = tile.split * u.k_chunk / 4u + lane; k4 < k_end / 4u; k4 += lanes) {
    let k = k4 * 4u;
    let b0 = load_b(b_base, k, tile.n0);
    let b1 = load_b(b_base, k + 1u, tile.n0);
    let b2 = load_b(b_base, k + 2u, tile.n0);
    let b3 = load_b(b_base, k + 3u, tile.n0);
    c0 = fma4(A[r0 + k4], b0, b1, b2, b3, c0);
    c1 = fma4(A[r1 + k4], b0, b1, b2, b3, c1);
    c2 = fma4(A[r2 + k4], b0, b1, b2, b3, c2);
    c3 = fma4(A[r3 + k4], b0, b1, b2, b3, c3);
  }
#else
  for (var k = tile.split * u.k_chunk + lane; k < k_end; k += lanes) {
    let bk = load_b(b_base, k, tile.n0);
    c0 = fma(vec4f(A[a_index(a_base, tile.m0, k)]), bk, c0);
    c1 = fma(vec4f(A[a_index(a_base, tile.m1, k)]), bk, c1);
    c2 = fma(vec4f(A[a_index(a_base, tile.m2, k)]), bk, c2);
    c3 = fma(vec4f(A[a_index(a_base, tile.m3, k)]), bk, c3);
  }
#endif
  // every lane of the subgroup reaches the sums (the loops above end in the same place for all)
  let rows = array<vec4f, 4>(subgroupAdd(c0), subgroupAdd(c1), subgroupAdd(c2), subgroupAdd(c3));
  if (lane == 0u) { store_tile(tile.c_base, tile.m0, tile.n0, rows); }
}

#include "rows_by_subgroup.wgsl"
