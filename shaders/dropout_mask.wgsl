// The dropout mask, drawn from a counter-based hash of (seed, index) so it is never stored: element `index` is kept
// when hash(seed, index) >= threshold. Every kernel that drops (dropout itself, the matmul epilogue, the GELU
// gradient, fused attention) draws it here, from the uniforms seed and threshold, so fused and separate paths drop
// the same elements for a seed.

// PCG-style integer hash (O'Neill; as in Jarzynski & Olano, "Hash Functions for GPU Rendering").
fn pcg_hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn dropout_keeps(index: u32) -> bool {
  return pcg_hash(index ^ pcg_hash(u.seed)) >= u.threshold;
}

// The factor element `index` is multiplied by: 1 / (1 - rate) where kept, 0 where dropped.
fn dropout_factor(index: u32) -> f32 {
  return select(0.0, u.keep_scale, dropout_keeps(index));
}

// The factors of four consecutive elements from `index`.
fn dropout_factor4(index: u32) -> vec4f {
  return vec4f(dropout_factor(index), dropout_factor(index + 1u), dropout_factor(index + 2u), dropout_factor(index + 3u));
}
