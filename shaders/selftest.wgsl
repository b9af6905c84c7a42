// Self-test for `tokenwave doctor`: y[i] = x[i] * x[i] * scale + i, checked against the CPU.
struct Params { n: u32, scale: f32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${WG} + lid;
  if (i >= u.n) { return; }
  y[i] = x[i] * x[i] * u.scale + f32(i);
}
