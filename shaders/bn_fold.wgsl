// A BatchNorm with fixed statistics folded into the convolution before it: with s = gamma / sqrt(var + eps) per
// output channel, w' = w * s (the last axis of w is the output channel) and b' = (b - mean) * s + beta.
fn run(i: u32) {
  let c = i % u.C;
  let s = gamma[c] * inverseSqrt(running_var[c] + u.eps);
  if (i < u.weights) { w_out[i] = w[i] * s; }
  if (i < u.C) {
#if ${HAS_BIAS}
    b_out[i] = fma(b[i] - running_mean[i], s, beta[i]);
#else
    b_out[i] = fma(-running_mean[i], s, beta[i]);
#endif
  }
}
