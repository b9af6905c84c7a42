// Shared helpers, included in every kernel after its generated header.

// Component d of a rank-8 vector packed as two vec4s (a `vec8u` uniform: shapes and strides).
fn at8(v: array<vec4u, 2>, d: u32) -> u32 {
  return v[d / 4u][d % 4u];
}
