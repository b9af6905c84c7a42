// Inverted dropout with a counter-based RNG: element i is kept when hash(seed, i) >= threshold, and scaled by
// 1 / (1 - p). The mask is never stored: the backward pass runs this kernel on dy with the same seed.

// PCG-style integer hash (O'Neill; as in Jarzynski & Olano, "Hash Functions for GPU Rendering").
fn pcg_hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn run(i: u32) {
  let keep = pcg_hash(i ^ pcg_hash(u.seed)) >= u.threshold;
  y[i] = select(0.0, x[i] * u.scale, keep);
}
