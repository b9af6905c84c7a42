// 2-D convolution, channels-last: x [N, H, W, Cin], w [KH, KW, Cin/groups, Cout] (Keras' HWIO), y [N, OH, OW, Cout].
// Taps that fall into the zero padding are skipped, not multiplied by zero. Three entry points: the forward pass,
// the input gradient and the weight gradient. The weight gradient sums over N*OH rows in runs of `rows_per_split`
// (each run writes its own slab, summed by the caller), which keeps every invocation under llvmpipe's budget of
// 65,535 loop iterations and spreads the work over more invocations.
// VEC4 (ungrouped, channel counts in and out multiples of 4): every binding is read as vec4s along channels, and
// an invocation works on four channels (forward, input gradient) or a 4x4 block of weights (weight gradient). On
// CPU adapters every storage load is a gather: the scalar kernels load twice per multiply-add, these once per 4 or 8.
#if ${VEC4}
alias V = vec4f;
const LANES = 4u;
#else
alias V = f32;
const LANES = 1u;
#endif
#if ${ACTIVATION}
#include "erf.wgsl"
#endif

// (channel, x, y, n) of flat index i over [N, rows, cols, channels], channels counted in V units.
fn position(i: u32, channels: u32, cols: u32, rows: u32) -> vec4u {
  return vec4u(i % channels, (i / channels) % cols, (i / (channels * cols)) % rows, i / (channels * cols * rows));
}

#if ${FORWARD}
// One tap's multiply-adds: the group's input channels at x_base against output channel(s) oc's weights at w_base
// (indices in V units).
fn tap(acc: V, x_base: u32, w_base: u32) -> V {
  var sum = acc;
#if ${VEC4}
  // Four input channels' weights for the same four outputs lie Cout / 4 vec4s apart.
  let co4 = u.Cout / 4u;
  var w_at = w_base;
  for (var c4 = 0u; c4 < u.cin_g / 4u; c4++) {
    let v = x[x_base + c4];
    sum = fma(vec4f(v.x), w[w_at], sum);
    sum = fma(vec4f(v.y), w[w_at + co4], sum);
    sum = fma(vec4f(v.z), w[w_at + 2u * co4], sum);
    sum = fma(vec4f(v.w), w[w_at + 3u * co4], sum);
    w_at += 4u * co4;
  }
#else
  for (var c = 0u; c < u.cin_g; c++) {
    sum = fma(x[x_base + c], w[w_base + c * u.Cout], sum);
  }
#endif
  return sum;
}

fn run(i: u32) {
  let p = position(i, u.Cout / LANES, u.OW, u.OH);
  let oc = p.x;
  let ox = p.y;
  let oy = p.z;
  let n = p.w;
  let g = oc * LANES / u.cout_g;
  var acc = V(0.0);
  for (var ky = 0u; ky < u.KH; ky++) {
    let iy = i32(oy * u.stride + ky) - i32(u.pad_top);
    if (iy < 0 || iy >= i32(u.H)) { continue; }
    for (var kx = 0u; kx < u.KW; kx++) {
      let ix = i32(ox * u.stride + kx) - i32(u.pad_left);
      if (ix < 0 || ix >= i32(u.W)) { continue; }
      let x_base = (((n * u.H + u32(iy)) * u.W + u32(ix)) * u.Cin + g * u.cin_g) / LANES;
      let w_base = (ky * u.KW + kx) * u.cin_g * u.Cout / LANES + oc;
      acc = tap(acc, x_base, w_base);
    }
  }
#if ${HAS_BIAS}
  acc += bias[oc];
#endif
#if ${KEEP_PRE}
  z[i] = acc;
#endif
#if ${ACTIVATION}
  {
    let x = acc;
    acc = ${ACT_EXPR};
  }
#endif
  y[i] = acc;
}
#endif

#if ${GRAD_INPUT}
// One tap's multiply-adds: the group's output gradients at dy_base against input channel(s) c's weights at w_base
// (indices in V units).
fn tap(acc: V, dy_base: u32, w_base: u32) -> V {
  var sum = acc;
#if ${VEC4}
  // Each dy vec4 (four outputs) is dotted with the weight rows of the four input channels, Cout / 4 vec4s apart.
  let co4 = u.Cout / 4u;
  for (var o4 = 0u; o4 < co4; o4++) {
    let d = dy[dy_base + o4];
    let w_at = w_base + o4;
    sum += vec4f(dot(d, w[w_at]), dot(d, w[w_at + co4]), dot(d, w[w_at + 2u * co4]), dot(d, w[w_at + 3u * co4]));
  }
#else
  for (var o = 0u; o < u.cout_g; o++) {
    sum = fma(dy[dy_base + o], w[w_base + o], sum);
  }
#endif
  return sum;
}

fn run(i: u32) {
  let p = position(i, u.Cin / LANES, u.W, u.H);
  let ic = p.x;
  let ix = p.y;
  let iy = p.z;
  let n = p.w;
  let g = ic * LANES / u.cin_g;
  let c = ic * LANES % u.cin_g;
  var acc = V(0.0);
  for (var ky = 0u; ky < u.KH; ky++) {
    let ty = i32(iy + u.pad_top) - i32(ky);
#if ${STRIDE1}
    if (ty < 0 || ty >= i32(u.OH)) { continue; }
    let oy = u32(ty);
#else
    if (ty < 0 || ty % i32(u.stride) != 0 || ty / i32(u.stride) >= i32(u.OH)) { continue; }
    let oy = u32(ty) / u.stride;
#endif
    for (var kx = 0u; kx < u.KW; kx++) {
      let tx = i32(ix + u.pad_left) - i32(kx);
#if ${STRIDE1}
      if (tx < 0 || tx >= i32(u.OW)) { continue; }
      let ox = u32(tx);
#else
      if (tx < 0 || tx % i32(u.stride) != 0 || tx / i32(u.stride) >= i32(u.OW)) { continue; }
      let ox = u32(tx) / u.stride;
#endif
      let dy_base = (((n * u.OH + oy) * u.OW + ox) * u.Cout + g * u.cout_g) / LANES;
      let w_base = (((ky * u.KW + kx) * u.cin_g + c) * u.Cout + g * u.cout_g) / LANES;
      acc = tap(acc, dy_base, w_base);
    }
  }
  dx[i] = acc;
}
#endif

#if ${GRAD_WEIGHT}
// Per (split, weight): one weight (VEC4: a 4x4 block, four input by four output channels, one vec4 row per input
// channel) summed over the split's output rows.
fn run(i: u32) {
  let outs = u.Cout / LANES;
  let weights = u.KH * u.KW * (u.cin_g / LANES) * outs;
  let split = i / weights;
  let j = i % weights;
  let oc = j % outs;
  let c = (j / outs) % (u.cin_g / LANES) * LANES;
  let kx = (j / (outs * (u.cin_g / LANES))) % u.KW;
  let ky = j / (outs * (u.cin_g / LANES) * u.KW);
  let ic = (oc * LANES / u.cout_g) * u.cin_g + c;
  let first = split * u.rows_per_split;
  let last = min(first + u.rows_per_split, u.N * u.OH);
  var a0 = V(0.0);
#if ${VEC4}
  var a1 = V(0.0);
  var a2 = V(0.0);
  var a3 = V(0.0);
#endif
  for (var r = first; r < last; r++) {
    let n = r / u.OH;
    let oy = r % u.OH;
    let iy = i32(oy * u.stride + ky) - i32(u.pad_top);
    if (iy < 0 || iy >= i32(u.H)) { continue; }
    let x_row = (n * u.H + u32(iy)) * u.W;
    for (var ox = 0u; ox < u.OW; ox++) {
      let ix = i32(ox * u.stride + kx) - i32(u.pad_left);
      if (ix < 0 || ix >= i32(u.W)) { continue; }
      let v = x[((x_row + u32(ix)) * u.Cin + ic) / LANES];
      let d = dy[(r * u.OW + ox) * outs + oc];
#if ${VEC4}
      a0 = fma(vec4f(v.x), d, a0);
      a1 = fma(vec4f(v.y), d, a1);
      a2 = fma(vec4f(v.z), d, a2);
      a3 = fma(vec4f(v.w), d, a3);
#else
      a0 = fma(v, d, a0);
#endif
    }
  }
  // Row (ky, kx, c) of this split's slab [splits, KH, KW, cin_g, Cout], in V units.
  let at = ((split * u.KH * u.KW + ky * u.KW + kx) * u.cin_g + c) * outs + oc;
  dw[at] = a0;
#if ${VEC4}
  dw[at + outs] = a1;
  dw[at + 2u * outs] = a2;
  dw[at + 3u * outs] = a3;
#endif
}
#endif
