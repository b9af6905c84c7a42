// LayerNorm over the last axis (K features) and then a dense layer, in one dispatch: a workgroup normalises ROWS
// rows in workgroup memory (LANES invocations a row for the mean and the variance, as layernorm.wgsl's lanes
// variant computes them), then each invocation multiplies them by two runs of four columns (WG quads apart) of one of `stack` weight matrices
// [K, N] (b_step elements apart; Q, K and V), every weight read once per workgroup, and ends in matmul_epilogue.wgsl
// (bias, activation) writing [stack, rows, N]. MEAN: each batch element's `tokens` normalised rows are averaged
// first (in runs of ROWS) and the one pooled row multiplied (alpha = 1/tokens in the epilogue): a classifier head,
// [rows / tokens, N]. Workgroups: row groups x column groups of 2 WG quads each (a column group normalises its rows
// again: at most a few, and it bounds each invocation's loop work).
#include "matmul_epilogue.wgsl"

const ROWS = ${ROWS}u;
const K = ${K}u;
const LANES = WG / ROWS;
var<workgroup> normed: array<f32, ROWS * K>;
var<workgroup> row_parts: array<f32, WG>;
#if ${MEAN}
var<workgroup> pooled: array<f32, K>;
#endif

// The sum of a row's LANES parts, for every lane of the row (LANES - 1 adds); every invocation calls it.
fn row_total(lid: u32, part: f32) -> f32 {
  row_parts[lid] = part;
  workgroupBarrier();
  let first = (lid / LANES) * LANES;
  var total = row_parts[first];
  for (var l = 1u; l < LANES; l++) { total += row_parts[first + l]; }
  workgroupBarrier();
  return total;
}

// Rows r0.. r0 + count - 1 of x into `normed`, normalised; the rest of the ROWS as zeros. KEEP (training): the
// first column group also writes the normalised rows to Y and each row's (mean, rstd) to `stats`, what the
// LayerNorm's and the product's gradients read.
fn normalize_rows(r0: u32, count: u32, lid: u32, keep: bool) {
  for (var i = lid; i < ROWS * K; i += WG) {
    var value = 0.0;
    if (i / K < count) { value = X[r0 * K + i]; }
    normed[i] = value;
  }
  workgroupBarrier();
  let base = (lid / LANES) * K;
  let lane = lid % LANES;
  var s = 0.0;
  for (var k = lane; k < K; k += LANES) { s += normed[base + k]; }
  let mean = row_total(lid, s) * u.inv_k;
  var v = 0.0;
  for (var k = lane; k < K; k += LANES) {
    let d = normed[base + k] - mean;
    v = fma(d, d, v);
  }
  let rstd = inverseSqrt(row_total(lid, v) * u.inv_k + u.eps);
  // each lane rewrites only the values it read
  for (var k = lane; k < K; k += LANES) {
    normed[base + k] = fma((normed[base + k] - mean) * rstd, gamma[k], beta[k]);
  }
#if ${KEEP}
  let row = lid / LANES;
  if (keep && row < count) {
    for (var k = lane; k < K; k += LANES) { Y[(r0 + row) * K + k] = normed[base + k]; }
    if (lane == 0u) { stats[r0 + row] = vec2f(mean, rstd); }
  }
#endif
  workgroupBarrier();
}

fn weights4(j: u32, k: u32, n: u32) -> vec4f {
#if ${VEC_B}
  return B[(j * u.b_step + k * u.N + n) / 4u];
#else
  let at = j * u.b_step + k * u.N;
  let last = u.N - 1u;
  return vec4f(B[at + n], B[at + min(n + 1u, last)], B[at + min(n + 2u, last)], B[at + min(n + 3u, last)]);
#endif
}

fn run(lid: u32, group: u32) {
  let quads = (u.N + 3u) / 4u;
  // two quads of columns an invocation, WG apart: each normalised value read once for eight columns
  let q = (group % u.column_groups) * 2u * WG + lid;
  let q2 = q + WG;
  let j2 = min(q2 / quads, u.stack - 1u);
  let n2 = (q2 % quads) * 4u;
  let j = q / quads;
  let n = (q % quads) * 4u;
  let row_group = group / u.column_groups;
#if ${MEAN}
  for (var i = lid; i < K; i += WG) { pooled[i] = 0.0; }
  for (var t = 0u; t < u.tokens; t += ROWS) {
    let count = min(ROWS, u.tokens - t);
    normalize_rows(row_group * u.tokens + t, count, lid, false);
    for (var i = lid; i < K; i += WG) {
      var s = pooled[i];
      for (var r = 0u; r < count; r++) { s += normed[r * K + i]; }
      pooled[i] = s;
    }
    workgroupBarrier();
  }
  if (j >= u.stack) { return; }
  var sums = vec4f(0.0);
  var sums2 = vec4f(0.0);
  for (var k = 0u; k < K; k++) {
    let v = vec4f(pooled[k]);
    sums = fma(v, weights4(j, k, n), sums);
    sums2 = fma(v, weights4(j2, k, n2), sums2);
  }
  epilogue(row_group * u.N + n, n, sums);
  if (q2 / quads < u.stack) { epilogue(row_group * u.N + n2, n2, sums2); }
#else
  let r0 = row_group * ROWS;
  normalize_rows(r0, min(ROWS, u.M - r0), lid, group % u.column_groups == 0u);
  if (j >= u.stack) { return; }
  var sums: array<vec4f, ROWS>;
  var sums2: array<vec4f, ROWS>;
  for (var k = 0u; k < K; k++) {
    let w = weights4(j, k, n);
    let w2 = weights4(j2, k, n2);
    for (var r = 0u; r < ROWS; r++) {
      let v = vec4f(normed[r * K + k]);
      sums[r] = fma(v, w, sums[r]);
      sums2[r] = fma(v, w2, sums2[r]);
    }
  }
  // a loop ending at a uniform's value, not unrolled: ROWS inlined epilogues each way made llvmpipe's compile slow
  for (var r = 0u; r < min(ROWS, u.M - r0); r++) {
    epilogue((j * u.M + r0 + r) * u.N + n, n, sums[r]);
    if (q2 / quads < u.stack) { epilogue((j2 * u.M + r0 + r) * u.N + n2, n2, sums2[r]); }
  }
#endif
}
