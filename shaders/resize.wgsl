// Bilinear resize of [images, H, W] to [images, OH, OW] with half-pixel centres and no antialiasing, exactly as
// TensorFlow's resize: in = (out + 0.5) * (in_size / out_size) - 0.5, lower = max(floor(in), 0),
// upper = min(ceil(in), size - 1), weight = in - floor(in).
#include "common.wgsl"

struct Params { images: u32, H: u32, W: u32, OH: u32, OW: u32, scale_y: f32, scale_x: f32, p0: u32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= u.images * u.OH * u.OW) { return; }
  let x = i % u.OW;
  let y = (i / u.OW) % u.OH;
  let img = i / (u.OW * u.OH);
  let in_y = (f32(y) + 0.5) * u.scale_y - 0.5;
  let in_x = (f32(x) + 0.5) * u.scale_x - 0.5;
  let y0 = u32(max(floor(in_y), 0.0));
  let x0 = u32(max(floor(in_x), 0.0));
  let y1 = min(u32(max(ceil(in_y), 0.0)), u.H - 1u);
  let x1 = min(u32(max(ceil(in_x), 0.0)), u.W - 1u);
  let wy = in_y - floor(in_y);
  let wx = in_x - floor(in_x);
  let base = img * u.H * u.W;
  let tl = src[base + y0 * u.W + x0];
  let tr = src[base + y0 * u.W + x1];
  let bl = src[base + y1 * u.W + x0];
  let br = src[base + y1 * u.W + x1];
  let top = fma(tr - tl, wx, tl);
  let bottom = fma(br - bl, wx, bl);
  dst[i] = fma(bottom - top, wy, top);
}
