// erf of V (f32 or vec4f) from Numerical Recipes' erfc Chebyshev fit (fractional error < 1.2e-7): WGSL has no erf.
fn erf_v(x: V) -> V {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let r = 1.0 - t * exp(poly);
  return select(-r, r, x >= V(0.0));
}
