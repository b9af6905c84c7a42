// Where a register-tile matmul's 4 x 4 tile lies and how it reads its operands, for the kernels that compute one
// tile per invocation (matmul.wgsl) or per subgroup (matmul_subgroup.wgsl); the other matmul kernels find their
// blocks with place_of, and the staged tile (matmul_staged.wgsl) reads its operands the same way. Rows past the
// edge are clamped on load (and skipped on store); operands are strided as matmul.wgsl says.

struct Tile {
  split: u32,
  /** The tile's first row and column, and its other rows clamped to the matrix. */
  m0: u32, m1: u32, m2: u32, m3: u32,
  n0: u32,
  /** Where the tile's batch starts in A, B and C (the first of the summed products, for A and B). */
  a_first: u32,
  b_first: u32,
  c_base: u32,
}

/** Where the t-th block of C lies (a tile, or a workgroup's block), counted over splits, batches and the
 * tiles_m x tiles_n blocks of each matrix; splits past u.splits only where workgroups are rounded up. */
struct Place {
  split: u32,
  /** The block's row and column among the matrix's blocks. */
  row: u32,
  col: u32,
  /** Where its batch starts in A, B and C (the first of the summed products, for A and B). */
  a_first: u32,
  b_first: u32,
  c_base: u32,
}

fn place_of(t: u32) -> Place {
  let tiles = u.tiles_m * u.tiles_n;
  let split = t / (tiles * u.batch);
  let b = (t / tiles) % u.batch;
  let tile = t % tiles;
  let outer = b / u.inner_batches;
  let inner = b % u.inner_batches;
  return Place(
    split, tile / u.tiles_n, tile % u.tiles_n,
    outer * u.a_outer + inner * u.a_inner, outer * u.b_outer + inner * u.b_inner, split * u.c_split + outer * u.c_outer + inner * u.c_inner,
  );
}

/** The t-th 4 x 4 tile. */
fn tile_at(t: u32) -> Tile {
  let p = place_of(t);
  let m0 = p.row * 4u;
  let last_m = u.M - 1u;
  return Tile(p.split, m0, min(m0 + 1u, last_m), min(m0 + 2u, last_m), min(m0 + 3u, last_m), p.col * 4u, p.a_first, p.b_first, p.c_base);
}

fn a_index(base: u32, m: u32, k: u32) -> u32 {
#if ${TRANS_A}
  return base + k * u.lda + m;
#else
  return base + m * u.lda + k;
#endif
}

fn load_b(base: u32, k: u32, n0: u32) -> vec4f {
#if ${VEC_B}
  return B[(base + k * u.ldb + n0) / 4u];
#else
  let last = u.N - 1u;
  let n1 = min(n0 + 1u, last);
  let n2 = min(n0 + 2u, last);
  let n3 = min(n0 + 3u, last);
#if ${TRANS_B}
  return vec4f(B[base + n0 * u.ldb + k], B[base + n1 * u.ldb + k], B[base + n2 * u.ldb + k], B[base + n3 * u.ldb + k]);
#else
  let row = base + k * u.ldb;
  return vec4f(B[row + n0], B[row + n1], B[row + n2], B[row + n3]);
#endif
#endif
}

/** c plus a's four values times the four rows of B they meet (b0 at a.x, ... b3 at a.w): a row of a tile over four k. */
fn fma4(a: vec4f, b0: vec4f, b1: vec4f, b2: vec4f, b3: vec4f, c: vec4f) -> vec4f {
  return fma(vec4f(a.x), b0, fma(vec4f(a.y), b1, fma(vec4f(a.z), b2, fma(vec4f(a.w), b3, c))));
}
