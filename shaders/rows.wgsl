// Row statistics over the storage array `x` of a [rows, n] view, in a fixed order: included by the row-wise
// kernels (softmax, cross-entropy, LayerNorm) that bind their input as `x`.

fn row_max(base: u32, n: u32) -> f32 {
  var m = x[base];
  for (var i = 1u; i < n; i++) { m = max(m, x[base + i]); }
  return m;
}

// log(sum(exp(x))) computed as m + log(sum(exp(x - m))), m the row's maximum.
fn row_log_sum_exp(base: u32, n: u32) -> f32 {
  let m = row_max(base, n);
  var s = exp(x[base] - m);
  for (var i = 1u; i < n; i++) { s += exp(x[base + i] - m); }
  return m + log(s);
}

// (mean, 1 / sqrt(variance + eps)), the variance about the mean (two passes).
fn row_mean_rstd(base: u32, n: u32, inv_n: f32, eps: f32) -> vec2f {
  var s = x[base];
  for (var i = 1u; i < n; i++) { s += x[base + i]; }
  let mean = s * inv_n;
  var v = 0.0;
  for (var i = 0u; i < n; i++) {
    let d = x[base + i] - mean;
    v = fma(d, d, v);
  }
  return vec2f(mean, inverseSqrt(v * inv_n + eps));
}
