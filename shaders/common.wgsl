// Shared helpers, included in every kernel after its generated header.

// erf from Numerical Recipes' erfc Chebyshev fit (fractional error < 1.2e-7): WGSL has no erf builtin.
fn erf_approx(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let r = 1.0 - t * exp(poly);
  return select(-r, r, x >= 0.0);
}

// Component d of a rank-8 vector packed as two vec4s (a `vec8u` uniform: shapes and strides).
fn at8(v: array<vec4u, 2>, d: u32) -> u32 {
  return v[d / 4u][d % 4u];
}
