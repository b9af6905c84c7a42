// 2-D convolution, channels-last: x [N, H, W, Cin], w [KH, KW, Cin/groups, Cout] (Keras' HWIO), y [N, OH, OW, Cout].
// Taps that fall into the zero padding are skipped, not multiplied by zero. Three entry points: the forward pass,
// the input gradient and the weight gradient. The weight gradient sums over N*OH rows in runs of `rows_per_split`
// (each run writes its own slab, summed by the caller), which keeps every invocation under llvmpipe's budget of
// 65,535 loop iterations and spreads the work over more invocations.
#include "common.wgsl"

struct Params {
  N: u32, H: u32, W: u32, Cin: u32,
  OH: u32, OW: u32, Cout: u32, KH: u32,
  KW: u32, stride: u32, pad_top: u32, pad_left: u32,
  cin_g: u32, cout_g: u32, rows_per_split: u32, splits: u32,
}
@group(0) @binding(0) var<uniform> u: Params;

#if ${FORWARD}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
#if ${HAS_BIAS}
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
#else
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= u.N * u.OH * u.OW * u.Cout) { return; }
  let oc = i % u.Cout;
  let ox = (i / u.Cout) % u.OW;
  let oy = (i / (u.Cout * u.OW)) % u.OH;
  let n = i / (u.Cout * u.OW * u.OH);
  let g = oc / u.cout_g;
  var acc = 0.0;
  for (var ky = 0u; ky < u.KH; ky++) {
    let iy = i32(oy * u.stride + ky) - i32(u.pad_top);
    if (iy < 0 || iy >= i32(u.H)) { continue; }
    for (var kx = 0u; kx < u.KW; kx++) {
      let ix = i32(ox * u.stride + kx) - i32(u.pad_left);
      if (ix < 0 || ix >= i32(u.W)) { continue; }
      let x_base = ((n * u.H + u32(iy)) * u.W + u32(ix)) * u.Cin + g * u.cin_g;
      let w_base = (ky * u.KW + kx) * u.cin_g * u.Cout + oc;
      for (var c = 0u; c < u.cin_g; c++) {
        acc = fma(x[x_base + c], w[w_base + c * u.Cout], acc);
      }
    }
  }
#if ${HAS_BIAS}
  acc += bias[oc];
#endif
  y[i] = acc;
}
#endif

#if ${GRAD_INPUT}
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= u.N * u.H * u.W * u.Cin) { return; }
  let ic = i % u.Cin;
  let ix = (i / u.Cin) % u.W;
  let iy = (i / (u.Cin * u.W)) % u.H;
  let n = i / (u.Cin * u.W * u.H);
  let g = ic / u.cin_g;
  let c = ic % u.cin_g;
  var acc = 0.0;
  for (var ky = 0u; ky < u.KH; ky++) {
    let ty = i32(iy + u.pad_top) - i32(ky);
    if (ty < 0 || ty % i32(u.stride) != 0 || ty / i32(u.stride) >= i32(u.OH)) { continue; }
    let oy = u32(ty) / u.stride;
    for (var kx = 0u; kx < u.KW; kx++) {
      let tx = i32(ix + u.pad_left) - i32(kx);
      if (tx < 0 || tx % i32(u.stride) != 0 || tx / i32(u.stride) >= i32(u.OW)) { continue; }
      let ox = u32(tx) / u.stride;
      let dy_base = ((n * u.OH + oy) * u.OW + ox) * u.Cout + g * u.cout_g;
      let w_base = ((ky * u.KW + kx) * u.cin_g + c) * u.Cout + g * u.cout_g;
      for (var o = 0u; o < u.cout_g; o++) {
        acc = fma(dy[dy_base + o], w[w_base + o], acc);
      }
    }
  }
  dx[i] = acc;
}
#endif

#if ${GRAD_WEIGHT}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  let weights = u.KH * u.KW * u.cin_g * u.Cout;
  if (i >= weights * u.splits) { return; }
  let split = i / weights;
  let j = i % weights;
  let oc = j % u.Cout;
  let c = (j / u.Cout) % u.cin_g;
  let kx = (j / (u.Cout * u.cin_g)) % u.KW;
  let ky = j / (u.Cout * u.cin_g * u.KW);
  let ic = (oc / u.cout_g) * u.cin_g + c;
  let first = split * u.rows_per_split;
  let last = min(first + u.rows_per_split, u.N * u.OH);
  var acc = 0.0;
  for (var r = first; r < last; r++) {
    let n = r / u.OH;
    let oy = r % u.OH;
    let iy = i32(oy * u.stride + ky) - i32(u.pad_top);
    if (iy < 0 || iy >= i32(u.H)) { continue; }
    let x_row = (n * u.H + u32(iy)) * u.W;
    let dy_row = (n * u.OH + oy) * u.OW;
    for (var ox = 0u; ox < u.OW; ox++) {
      let ix = i32(ox * u.stride + kx) - i32(u.pad_left);
      if (ix < 0 || ix >= i32(u.W)) { continue; }
      acc = fma(x[(x_row + u32(ix)) * u.Cin + ic], dy[(dy_row + ox) * u.Cout + oc], acc);
    }
  }
  dw[i] = acc;
}
#endif
