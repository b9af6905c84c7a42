// A BatchNorm with fixed statistics folded into the convolution before it: with s = gamma / sqrt(var + eps) per
// output channel, w' = w * s (the last axis of w is the output channel) and b' = (b - mean) * s + beta.
#if ${MULTI}
// Up to three folds in one dispatch: each one's weights, bias, gamma and beta in P (a packed model's parameters),
// its running mean and variance in S (its state), its results in O, at the element offsets the uniforms give.
fn fold(i: u32, w: u32, b: u32, gamma: u32, beta: u32, mean: u32, variance: u32, eps: f32, weights: u32, C: u32, w_out: u32, b_out: u32) {
  let c = i % C;
  let s = P[gamma + c] * inverseSqrt(S[variance + c] + eps);
  if (i < weights) { O[w_out + i] = P[w + i] * s; }
  if (i < C) { O[b_out + i] = fma(P[b + i] - S[mean + i], s, P[beta + i]); }
}

fn run(i: u32) {
  if (i < u.end0) {
    fold(i, u.w0, u.b0, u.gamma0, u.beta0, u.mean0, u.var0, u.eps0, u.weights0, u.C0, u.w_out0, u.b_out0);
  } else if (i < u.end1) {
    fold(i - u.end0, u.w1, u.b1, u.gamma1, u.beta1, u.mean1, u.var1, u.eps1, u.weights1, u.C1, u.w_out1, u.b_out1);
  } else {
    fold(i - u.end1, u.w2, u.b2, u.gamma2, u.beta2, u.mean2, u.var2, u.eps2, u.weights2, u.C2, u.w_out2, u.b_out2);
  }
}
#else
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
#endif
