// Fused BatchNorm over the rows of a channels-last [rows, C] view, with an optional ReLU6 after it. V is vec4f
// (four channels per invocation, when C is a multiple of 4) or f32; `groups` = C / (width of V). Statistics in one
// read of x: each split of `rows_per_split` rows gives its mean and sum of squared deviations (two passes over its
// rows, which the cache holds), and COMBINE merges the splits (Chan, Golub & LeVeque's parallel update), then
// moves the running averages. `stats` holds (mean, 1/sqrt(var + eps)) per channel group.
alias V = ${TYPE};

fn act(z: V) -> V {
#if ${RELU6}
  return clamp(z, V(0.0), V(6.0));
#else
  return z;
#endif
}

// The gradient through the activation at the normalised input xhat: ReLU6 passes it where 0 < z < 6 for
// z = xhat * gamma + beta, recomputed exactly as APPLY computed it (so the backward pass reads x and dy, not y).
fn act_grad(dy: V, xhat: V, g: V, b: V) -> V {
#if ${RELU6}
  let z = fma(xhat, g, b);
  return select(V(0.0), dy, (z > V(0.0)) & (z < V(6.0)));
#else
  return dy;
#endif
}

fn split_rows(split: u32) -> vec2u {
  let first = split * u.rows_per_split;
  return vec2u(first, min(first + u.rows_per_split, u.rows));
}

#if ${STATS}
// Per (split, channel group): (mean, M2) of the split's rows.
fn run(i: u32) {
  let c = i % u.groups;
  let span = split_rows(i / u.groups);
  var s = V(0.0);
  for (var r = span.x; r < span.y; r++) { s += x[r * u.groups + c]; }
  let m = s / f32(span.y - span.x);
  var m2 = V(0.0);
  for (var r = span.x; r < span.y; r++) {
    let d = x[r * u.groups + c] - m;
    m2 = fma(d, d, m2);
  }
  partial[2u * i] = m;
  partial[2u * i + 1u] = m2;
}
#endif

#if ${COMBINE}
// Per channel group: the splits merged in order; normalisation by the biased variance; the running averages
// moved with the unbiased one, n / (n - 1) (as TensorFlow's fused BatchNorm and PyTorch do).
fn run(c: u32) {
  var n = 0.0;
  var mean = V(0.0);
  var m2 = V(0.0);
  for (var s = 0u; s < u.splits; s++) {
    let span = split_rows(s);
    let nb = f32(span.y - span.x);
    let total = n + nb;
    let delta = partial[2u * (s * u.groups + c)] - mean;
    mean += delta * (nb / total);
    m2 += partial[2u * (s * u.groups + c) + 1u] + delta * delta * (n * nb / total);
    n = total;
  }
  stats[2u * c] = mean;
  stats[2u * c + 1u] = inverseSqrt(m2 / n + u.eps);
  let unbiased = m2 / max(n - 1.0, 1.0);
  running_mean[c] = fma(V(u.momentum), running_mean[c], u.keep * mean);
  running_var[c] = fma(V(u.momentum), running_var[c], u.keep * unbiased);
}
#endif

#if ${INFERENCE_STATS}
// Per channel group: (running mean, 1/sqrt(running var + eps)), for inference.
fn run(c: u32) {
  stats[2u * c] = running_mean[c];
  stats[2u * c + 1u] = inverseSqrt(running_var[c] + u.eps);
}
#endif

#if ${APPLY}
// y = act((x - mean) * rstd * gamma + beta), per (split, channel group) over the split's rows: the channel's
// constants are read once, not once per value (each a gather on CPU adapters).
fn run(i: u32) {
  let c = i % u.groups;
  let span = split_rows(i / u.groups);
  let mean = stats[2u * c];
  let rstd = stats[2u * c + 1u];
  let g = gamma[c];
  let b = beta[c];
  for (var r = span.x; r < span.y; r++) {
    let k = r * u.groups + c;
    y[k] = act(fma((x[k] - mean) * rstd, g, b));
  }
}
#endif

#if ${GRAD_STATS}
// Per (split, channel group), with dz the gradient through the activation and xhat the normalised input:
// (sum of dz, sum of dz * xhat) over the split's rows, written as [splits, 2, C] for the caller to sum.
fn run(i: u32) {
  let c = i % u.groups;
  let split = i / u.groups;
  let span = split_rows(split);
  let mean = stats[2u * c];
  let rstd = stats[2u * c + 1u];
#if ${RELU6}
  let g = gamma[c];
  let b = beta[c];
#else
  let g = V(1.0);
  let b = V(0.0);
#endif
  var sum_dz = V(0.0);
  var sum_dzx = V(0.0);
  for (var r = span.x; r < span.y; r++) {
    let k = r * u.groups + c;
    let xhat = (x[k] - mean) * rstd;
    let dz = act_grad(dy[k], xhat, g, b);
    sum_dz += dz;
    sum_dzx = fma(dz, xhat, sum_dzx);
  }
  partial[2u * split * u.groups + c] = sum_dz;
  partial[(2u * split + 1u) * u.groups + c] = sum_dzx;
}
#endif

#if ${GRAD_INPUT}
// With batch statistics: dx = gamma * rstd * (dz - mean(dz) - xhat * mean(dz * xhat)); with running ones (fixed):
// dx = gamma * rstd * dz. Also copies the summed (sum of dz, sum of dz * xhat) out as dbeta and dgamma.
// Per (split, channel group) over the split's rows, as APPLY.
fn run(i: u32) {
  let c = i % u.groups;
  let span = split_rows(i / u.groups);
  let mean = stats[2u * c];
  let rstd = stats[2u * c + 1u];
  let g = gamma[c];
#if ${RELU6}
  let b = beta[c];
#else
  let b = V(0.0);
#endif
  let mean_dz = sums[c] * u.inv_rows;
  let mean_dzx = sums[u.groups + c] * u.inv_rows;
  // the parameters' gradients, handed on as tensors of their own by the first split
  if (i < u.groups) {
    dbeta[c] = sums[c];
    dgamma[c] = sums[u.groups + c];
  }
  for (var r = span.x; r < span.y; r++) {
    let k = r * u.groups + c;
#if ${BATCH_STATS}
    let xhat = (x[k] - mean) * rstd;
    dx[k] = g * rstd * (act_grad(dy[k], xhat, g, b) - mean_dz - xhat * mean_dzx);
#else
#if ${RELU6}
    let dz = act_grad(dy[k], (x[k] - mean) * rstd, g, b);
#else
    let dz = dy[k];
#endif
    dx[k] = g * rstd * dz;
#endif
  }
}
#endif
