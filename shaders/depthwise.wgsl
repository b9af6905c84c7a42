// Depthwise 2-D convolution (one filter per channel), channels-last, four channels per invocation as vec4s:
// on CPU adapters every storage load is a gather, so reading four channels at once cuts the loads fourfold.
// Same geometry and padding rules as conv2d.wgsl (taps in the padding are skipped). C must be a multiple of 4.
#include "common.wgsl"

struct Params {
  N: u32, H: u32, W: u32, C4: u32,
  OH: u32, OW: u32, KH: u32, KW: u32,
  stride: u32, pad_top: u32, pad_left: u32, p0: u32,
}
@group(0) @binding(0) var<uniform> u: Params;

#if ${FORWARD}
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read> w: array<vec4f>;
#if ${HAS_BIAS}
@group(0) @binding(3) var<storage, read> bias: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4f>;
#else
@group(0) @binding(3) var<storage, read_write> y: array<vec4f>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= u.N * u.OH * u.OW * u.C4) { return; }
  let c = i % u.C4;
  let ox = (i / u.C4) % u.OW;
  let oy = (i / (u.C4 * u.OW)) % u.OH;
  let n = i / (u.C4 * u.OW * u.OH);
  var acc = vec4f(0.0);
  for (var ky = 0u; ky < u.KH; ky++) {
    let iy = i32(oy * u.stride + ky) - i32(u.pad_top);
    if (iy < 0 || iy >= i32(u.H)) { continue; }
    for (var kx = 0u; kx < u.KW; kx++) {
      let ix = i32(ox * u.stride + kx) - i32(u.pad_left);
      if (ix < 0 || ix >= i32(u.W)) { continue; }
      acc = fma(x[((n * u.H + u32(iy)) * u.W + u32(ix)) * u.C4 + c], w[(ky * u.KW + kx) * u.C4 + c], acc);
    }
  }
#if ${HAS_BIAS}
  acc += bias[c];
#endif
  y[i] = acc;
}
#endif

#if ${GRAD_INPUT}
@group(0) @binding(1) var<storage, read> dy: array<vec4f>;
@group(0) @binding(2) var<storage, read> w: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> dx: array<vec4f>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= u.N * u.H * u.W * u.C4) { return; }
  let c = i % u.C4;
  let ix = (i / u.C4) % u.W;
  let iy = (i / (u.C4 * u.W)) % u.H;
  let n = i / (u.C4 * u.W * u.H);
  var acc = vec4f(0.0);
  for (var ky = 0u; ky < u.KH; ky++) {
    let ty = i32(iy + u.pad_top) - i32(ky);
    if (ty < 0 || ty % i32(u.stride) != 0 || ty / i32(u.stride) >= i32(u.OH)) { continue; }
    for (var kx = 0u; kx < u.KW; kx++) {
      let tx = i32(ix + u.pad_left) - i32(kx);
      if (tx < 0 || tx % i32(u.stride) != 0 || tx / i32(u.stride) >= i32(u.OW)) { continue; }
      acc = fma(dy[((n * u.OH + u32(ty) / u.stride) * u.OW + u32(tx) / u.stride) * u.C4 + c], w[(ky * u.KW + kx) * u.C4 + c], acc);
    }
  }
  dx[i] = acc;
}
#endif
