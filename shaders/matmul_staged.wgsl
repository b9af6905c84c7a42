// A CPU-adapter matmul whose rows of A are staged in workgroup memory (see matmul.wgsl for the general one): a
// workgroup computes ROWS rows of C by 4 QUADS WG columns, each invocation the ROWS rows by QUADS quads of columns
// WG quads apart (neighbouring invocations read neighbouring quads of B). K is walked KC at a time: the workgroup
// copies its rows' run of op(A) into workgroup memory, then every invocation multiplies it by its quads of B's rows.
// On llvmpipe every load an invocation makes at its own address is a loop over the SIMD lanes, and a storage load's
// lanes are bounds-checked too; a workgroup-memory load is not, and the copy is paid once per workgroup, so a wide
// register tile (16 x 16: 64 multiply-adds per 4 B and 16 A loads) pays for its spills. A transposed or strided A,
// a strided B read along its rows (vec4s where aligned), any M, N, K; COLUMN_SUMS (row M of C: the column sums of
// B) as matmul_wide.wgsl; no transposed B, no sums of products (CPU adapters sum apart).
#include "matmul_epilogue.wgsl"
#include "matmul_operands.wgsl"

const ROWS = ${ROWS}u;
const QUADS = ${QUADS}u;
const KC = ${KC}u;
var<workgroup> a_rows: array<f32, ROWS * KC>;

fn run(lid: u32, group: u32) {
  let place = place_of(group);
  // the same for the whole workgroup: workgroups past the end return before any barrier
  if (place.split >= u.splits) { return; }
  let m0 = place.row * ROWS;
  // this invocation's quads of columns, WG quads apart
  let q0 = place.col * QUADS * WG + lid;
  var cols: array<u32, QUADS>;
  var reads: array<u32, QUADS>;
  for (var j = 0u; j < QUADS; j++) {
    cols[j] = (q0 + j * WG) * 4u;
    // a quad past N reads the last one (not stored)
#if ${VEC_B}
    reads[j] = min(cols[j], u.N - 4u);
#else
    reads[j] = min(cols[j], u.N - 1u);
#endif
  }
  let a_base = place.a_first;
  let b_base = place.b_first;
  var sums: array<vec4f, ROWS * QUADS>;
#if ${COLUMN_SUMS}
  var col: array<vec4f, QUADS>;
#endif
  let k_start = place.split * u.k_chunk;
  let k_end = min(u.K, k_start + u.k_chunk);
  for (var k0 = k_start; k0 < k_end; k0 += KC) {
    let run = min(KC, k_end - k0);
    // rows m0.. m0+ROWS-1 of op(A) at k0.. k0+run-1, zeros past M; neighbouring invocations read neighbouring addresses
    for (var i = lid; i < ROWS * KC; i += WG) {
#if ${TRANS_A}
      let r = i % ROWS;
      let kk = i / ROWS;
#else
      let r = i / KC;
      let kk = i % KC;
#endif
      var v = 0.0;
      if (m0 + r < u.M && kk < run) { v = A[a_index(a_base, m0 + r, k0 + kk)]; }
      a_rows[r * KC + kk] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < run; kk++) {
      var w: array<vec4f, QUADS>;
      for (var j = 0u; j < QUADS; j++) { w[j] = load_b(b_base, k0 + kk, reads[j]); }
      for (var r = 0u; r < ROWS; r++) {
        let v = vec4f(a_rows[r * KC + kk]);
        for (var j = 0u; j < QUADS; j++) { sums[r * QUADS + j] = fma(v, w[j], sums[r * QUADS + j]); }
      }
#if ${COLUMN_SUMS}
      for (var j = 0u; j < QUADS; j++) { col[j] += w[j]; }
#endif
    }
    workgroupBarrier();
  }

  let c_base = place.c_base;
  // a loop ending at a uniform's value, not unrolled: sixteen inlined epilogues each way would make llvmpipe's
  // compile slow (matmul_wide.wgsl)
  for (var r = 0u; r < min(ROWS, u.M - m0); r++) {
    let row = c_base + (m0 + r) * u.ldc;
    for (var j = 0u; j < QUADS; j++) {
      if (cols[j] < u.N) { epilogue(row + cols[j], cols[j], sums[r * QUADS + j]); }
    }
  }
#if ${COLUMN_SUMS}
  if (m0 == 0u) {
    let row = c_base + u.M * u.ldc;
    for (var j = 0u; j < QUADS; j++) {
      if (cols[j] < u.N) { epilogue(row + cols[j], cols[j], col[j]); }
    }
  }
#endif
}
