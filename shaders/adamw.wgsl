// One fused AdamW step over a parameter tensor, in place:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p = p - lr * (m c1) / (sqrt(v c2) + eps) - decay * p      (c1, c2: bias corrections; decay decoupled)
fn run(i: u32) {
  let g = grad[i];
  let p = param[i];
  let m1 = fma(u.beta1, m[i], u.one_minus_beta1 * g);
  let v1 = fma(u.beta2, v[i], u.one_minus_beta2 * (g * g));
  m[i] = m1;
  v[i] = v1;
  let update = (m1 * u.c1) / (sqrt(v1 * u.c2) + u.eps);
  param[i] = p - u.lr * update - u.decay * p;
}
