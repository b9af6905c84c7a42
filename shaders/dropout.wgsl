// Inverted dropout with a counter-based RNG: element i is kept when hash(seed, i) >= threshold, and scaled by
// 1 / (1 - p). The mask is never stored: the backward pass runs this kernel on dy with the same seed.
#include "common.wgsl"

struct Params { n: u32, seed: u32, threshold: u32, scale: f32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// PCG-style integer hash (O'Neill; as in Jarzynski & Olano, "Hash Functions for GPU Rendering").
fn pcg_hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= u.n) { return; }
  let keep = pcg_hash(i ^ pcg_hash(u.seed)) >= u.threshold;
  y[i] = select(0.0, x[i] * u.scale, keep);
}
