// The CPU-adapter matmul (see matmul.wgsl for the general one): each invocation computes a 16x8 tile of C,
// reading A and B as vec4s, either operand transposed or not. On llvmpipe every storage load is a gather across
// SIMD lanes and spilled registers are cheap by comparison, so the tall tile (128 vec4 multiply-adds per 24 vec4
// loads, against 16 per 8 for a 4x4 tile) measured 2-3x faster there. A transposed operand is read as 4x4 blocks
// and transposed in registers, so it costs no copy and no extra load. Needs K and N multiples of 4 (and M, for a
// transposed A). On a GPU the tall tile would starve occupancy: GPUs use matmul.wgsl.
fn store_row(c_row: u32, n0: u32, lo: vec4f, hi: vec4f) {
  var v = array<vec4f, 2>(lo, hi);
  for (var h = 0u; h < 2u; h++) {
    let n = n0 + 4u * h;
    if (n >= u.N) { break; }
#if ${HAS_ALPHA}
    v[h] *= u.alpha;
#endif
#if ${HAS_BIAS}
    v[h] += vec4f(bias[n], bias[n + 1u], bias[n + 2u], bias[n + 3u]);
#endif
    C[c_row + n] = v[h].x;
    C[c_row + n + 1u] = v[h].y;
    C[c_row + n + 2u] = v[h].z;
    C[c_row + n + 3u] = v[h].w;
  }
}

fn transpose4(r0: vec4f, r1: vec4f, r2: vec4f, r3: vec4f) -> array<vec4f, 4> {
  return array<vec4f, 4>(vec4f(r0.x, r1.x, r2.x, r3.x), vec4f(r0.y, r1.y, r2.y, r3.y), vec4f(r0.z, r1.z, r2.z, r3.z), vec4f(r0.w, r1.w, r2.w, r3.w));
}

// Rows m..m+3 of op(A) (clamped to the last row) at columns k..k+3, one vec4 per row.
fn a_rows(base: u32, m: u32, k: u32) -> array<vec4f, 4> {
#if ${TRANS_A}
  // A is [K, M]: row k of A holds column k of op(A); read the 4x4 block along M and transpose it. (m is a
  // multiple of 4; blocks past M read the last one, and those rows are not stored.)
  let r = (base + k * u.M + min(m, u.M - 4u)) / 4u;
  let step = u.M / 4u;
  return transpose4(A[r], A[r + step], A[r + 2u * step], A[r + 3u * step]);
#else
  let last = u.M - 1u;
  return array<vec4f, 4>(
    A[(base + m * u.K + k) / 4u],
    A[(base + min(m + 1u, last) * u.K + k) / 4u],
    A[(base + min(m + 2u, last) * u.K + k) / 4u],
    A[(base + min(m + 3u, last) * u.K + k) / 4u],
  );
#endif
}

// Rows k..k+3 of op(B), each its columns n..n+3 as a vec4 (n + 3 < N).
fn b_rows(base: u32, k: u32, n: u32) -> array<vec4f, 4> {
#if ${TRANS_B}
  // B is [N, K]: read rows n..n+3 of B along k and transpose them.
  return transpose4(B[(base + n * u.K + k) / 4u], B[(base + (n + 1u) * u.K + k) / 4u], B[(base + (n + 2u) * u.K + k) / 4u], B[(base + (n + 3u) * u.K + k) / 4u]);
#else
  let step = u.N / 4u;
  let r = (base + k * u.N + n) / 4u;
  return array<vec4f, 4>(B[r], B[r + step], B[r + 2u * step], B[r + 3u * step]);
#endif
}

fn run(t: u32) {
  let tiles = u.tiles_m * u.tiles_n;
  let split = t / (tiles * u.batch);
  let b = (t / tiles) % u.batch;
  let tile = t % tiles;
  let m0 = (tile / u.tiles_n) * 16u;
  let n0 = (tile % u.tiles_n) * 8u;
  // Columns past N (when N is not a multiple of 8) read a valid block and are not stored.
  let n4 = min(n0 + 4u, u.N - 4u);
  let a_base = b * u.a_batch;
  let b_base = b * u.b_batch;

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
  let k4_end = min(u.K, (split + 1u) * u.k_chunk) / 4u;
  for (var k4 = split * u.k_chunk / 4u; k4 < k4_end; k4++) {
    let k = 4u * k4;
    let lo = b_rows(b_base, k, n0);
    let hi = b_rows(b_base, k, n4);
    let a0 = a_rows(a_base, m0 + 0u, k);
    let a1 = a_rows(a_base, m0 + 4u, k);
    let a2 = a_rows(a_base, m0 + 8u, k);
    let a3 = a_rows(a_base, m0 + 12u, k);
    c0 = fma(vec4f(a0[0].x), lo[0], fma(vec4f(a0[0].y), lo[1], fma(vec4f(a0[0].z), lo[2], fma(vec4f(a0[0].w), lo[3], c0))));
    d0 = fma(vec4f(a0[0].x), hi[0], fma(vec4f(a0[0].y), hi[1], fma(vec4f(a0[0].z), hi[2], fma(vec4f(a0[0].w), hi[3], d0))));
    c1 = fma(vec4f(a0[1].x), lo[0], fma(vec4f(a0[1].y), lo[1], fma(vec4f(a0[1].z), lo[2], fma(vec4f(a0[1].w), lo[3], c1))));
    d1 = fma(vec4f(a0[1].x), hi[0], fma(vec4f(a0[1].y), hi[1], fma(vec4f(a0[1].z), hi[2], fma(vec4f(a0[1].w), hi[3], d1))));
    c2 = fma(vec4f(a0[2].x), lo[0], fma(vec4f(a0[2].y), lo[1], fma(vec4f(a0[2].z), lo[2], fma(vec4f(a0[2].w), lo[3], c2))));
    d2 = fma(vec4f(a0[2].x), hi[0], fma(vec4f(a0[2].y), hi[1], fma(vec4f(a0[2].z), hi[2], fma(vec4f(a0[2].w), hi[3], d2))));
    c3 = fma(vec4f(a0[3].x), lo[0], fma(vec4f(a0[3].y), lo[1], fma(vec4f(a0[3].z), lo[2], fma(vec4f(a0[3].w), lo[3], c3))));
    d3 = fma(vec4f(a0[3].x), hi[0], fma(vec4f(a0[3].y), hi[1], fma(vec4f(a0[3].z), hi[2], fma(vec4f(a0[3].w), hi[3], d3))));
    c4 = fma(vec4f(a1[0].x), lo[0], fma(vec4f(a1[0].y), lo[1], fma(vec4f(a1[0].z), lo[2], fma(vec4f(a1[0].w), lo[3], c4))));
    d4 = fma(vec4f(a1[0].x), hi[0], fma(vec4f(a1[0].y), hi[1], fma(vec4f(a1[0].z), hi[2], fma(vec4f(a1[0].w), hi[3], d4))));
    c5 = fma(vec4f(a1[1].x), lo[0], fma(vec4f(a1[1].y), lo[1], fma(vec4f(a1[1].z), lo[2], fma(vec4f(a1[1].w), lo[3], c5))));
    d5 = fma(vec4f(a1[1].x), hi[0], fma(vec4f(a1[1].y), hi[1], fma(vec4f(a1[1].z), hi[2], fma(vec4f(a1[1].w), hi[3], d5))));
    c6 = fma(vec4f(a1[2].x), lo[0], fma(vec4f(a1[2].y), lo[1], fma(vec4f(a1[2].z), lo[2], fma(vec4f(a1[2].w), lo[3], c6))));
    d6 = fma(vec4f(a1[2].x), hi[0], fma(vec4f(a1[2].y), hi[1], fma(vec4f(a1[2].z), hi[2], fma(vec4f(a1[2].w), hi[3], d6))));
    c7 = fma(vec4f(a1[3].x), lo[0], fma(vec4f(a1[3].y), lo[1], fma(vec4f(a1[3].z), lo[2], fma(vec4f(a1[3].w), lo[3], c7))));
    d7 = fma(vec4f(a1[3].x), hi[0], fma(vec4f(a1[3].y), hi[1], fma(vec4f(a1[3].z), hi[2], fma(vec4f(a1[3].w), hi[3], d7))));
    c8 = fma(vec4f(a2[0].x), lo[0], fma(vec4f(a2[0].y), lo[1], fma(vec4f(a2[0].z), lo[2], fma(vec4f(a2[0].w), lo[3], c8))));
    d8 = fma(vec4f(a2[0].x), hi[0], fma(vec4f(a2[0].y), hi[1], fma(vec4f(a2[0].z), hi[2], fma(vec4f(a2[0].w), hi[3], d8))));
    c9 = fma(vec4f(a2[1].x), lo[0], fma(vec4f(a2[1].y), lo[1], fma(vec4f(a2[1].z), lo[2], fma(vec4f(a2[1].w), lo[3], c9))));
    d9 = fma(vec4f(a2[1].x), hi[0], fma(vec4f(a2[1].y), hi[1], fma(vec4f(a2[1].z), hi[2], fma(vec4f(a2[1].w), hi[3], d9))));
    c10 = fma(vec4f(a2[2].x), lo[0], fma(vec4f(a2[2].y), lo[1], fma(vec4f(a2[2].z), lo[2], fma(vec4f(a2[2].w), lo[3], c10))));
    d10 = fma(vec4f(a2[2].x), hi[0], fma(vec4f(a2[2].y), hi[1], fma(vec4f(a2[2].z), hi[2], fma(vec4f(a2[2].w), hi[3], d10))));
    c11 = fma(vec4f(a2[3].x), lo[0], fma(vec4f(a2[3].y), lo[1], fma(vec4f(a2[3].z), lo[2], fma(vec4f(a2[3].w), lo[3], c11))));
    d11 = fma(vec4f(a2[3].x), hi[0], fma(vec4f(a2[3].y), hi[1], fma(vec4f(a2[3].z), hi[2], fma(vec4f(a2[3].w), hi[3], d11))));
    c12 = fma(vec4f(a3[0].x), lo[0], fma(vec4f(a3[0].y), lo[1], fma(vec4f(a3[0].z), lo[2], fma(vec4f(a3[0].w), lo[3], c12))));
    d12 = fma(vec4f(a3[0].x), hi[0], fma(vec4f(a3[0].y), hi[1], fma(vec4f(a3[0].z), hi[2], fma(vec4f(a3[0].w), hi[3], d12))));
    c13 = fma(vec4f(a3[1].x), lo[0], fma(vec4f(a3[1].y), lo[1], fma(vec4f(a3[1].z), lo[2], fma(vec4f(a3[1].w), lo[3], c13))));
    d13 = fma(vec4f(a3[1].x), hi[0], fma(vec4f(a3[1].y), hi[1], fma(vec4f(a3[1].z), hi[2], fma(vec4f(a3[1].w), hi[3], d13))));
    c14 = fma(vec4f(a3[2].x), lo[0], fma(vec4f(a3[2].y), lo[1], fma(vec4f(a3[2].z), lo[2], fma(vec4f(a3[2].w), lo[3], c14))));
    d14 = fma(vec4f(a3[2].x), hi[0], fma(vec4f(a3[2].y), hi[1], fma(vec4f(a3[2].z), hi[2], fma(vec4f(a3[2].w), hi[3], d14))));
    c15 = fma(vec4f(a3[3].x), lo[0], fma(vec4f(a3[3].y), lo[1], fma(vec4f(a3[3].z), lo[2], fma(vec4f(a3[3].w), lo[3], c15))));
    d15 = fma(vec4f(a3[3].x), hi[0], fma(vec4f(a3[3].y), hi[1], fma(vec4f(a3[3].z), hi[2], fma(vec4f(a3[3].w), hi[3], d15))));
  }

  let c_base = (split * u.batch + b) * u.M * u.N;
  store_row(c_base + m0 * u.N, n0, c0, d0);
  if (m0 + 1u < u.M) { store_row(c_base + (m0 + 1u) * u.N, n0, c1, d1); }
  if (m0 + 2u < u.M) { store_row(c_base + (m0 + 2u) * u.N, n0, c2, d2); }
  if (m0 + 3u < u.M) { store_row(c_base + (m0 + 3u) * u.N, n0, c3, d3); }
  if (m0 + 4u < u.M) { store_row(c_base + (m0 + 4u) * u.N, n0, c4, d4); }
  if (m0 + 5u < u.M) { store_row(c_base + (m0 + 5u) * u.N, n0, c5, d5); }
  if (m0 + 6u < u.M) { store_row(c_base + (m0 + 6u) * u.N, n0, c6, d6); }
  if (m0 + 7u < u.M) { store_row(c_base + (m0 + 7u) * u.N, n0, c7, d7); }
  if (m0 + 8u < u.M) { store_row(c_base + (m0 + 8u) * u.N, n0, c8, d8); }
  if (m0 + 9u < u.M) { store_row(c_base + (m0 + 9u) * u.N, n0, c9, d9); }
  if (m0 + 10u < u.M) { store_row(c_base + (m0 + 10u) * u.N, n0, c10, d10); }
  if (m0 + 11u < u.M) { store_row(c_base + (m0 + 11u) * u.N, n0, c11, d11); }
  if (m0 + 12u < u.M) { store_row(c_base + (m0 + 12u) * u.N, n0, c12, d12); }
  if (m0 + 13u < u.M) { store_row(c_base + (m0 + 13u) * u.N, n0, c13, d13); }
  if (m0 + 14u < u.M) { store_row(c_base + (m0 + 14u) * u.N, n0, c14, d14); }
  if (m0 + 15u < u.M) { store_row(c_base + (m0 + 15u) * u.N, n0, c15, d15); }
}
