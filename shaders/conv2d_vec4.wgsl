// conv2d.wgsl's three passes for ungrouped convolutions whose channel counts (in and out) are multiples of 4, four
// channels at a time as vec4s: x [N, H, W, Cin] and dy read along channels, w [KH, KW, Cin, Cout] along Cout. On
// CPU adapters every storage load is a gather; the scalar kernels load twice per multiply-add, these once per 4
// (forward, input gradient) or once per 8 (weight gradient). Same geometry, padding and splitting rules as
// conv2d.wgsl; taps in the padding are skipped.

#if ${FORWARD}
// One output position, four output channels.
fn run(i: u32) {
  let co4 = u.Cout / 4u;
  let ci4 = u.Cin / 4u;
  let oc4 = i % co4;
  let ox = (i / co4) % u.OW;
  let oy = (i / (co4 * u.OW)) % u.OH;
  let n = i / (co4 * u.OW * u.OH);
  var acc = vec4f(0.0);
  for (var ky = 0u; ky < u.KH; ky++) {
    let iy = i32(oy * u.stride + ky) - i32(u.pad_top);
    if (iy < 0 || iy >= i32(u.H)) { continue; }
    for (var kx = 0u; kx < u.KW; kx++) {
      let ix = i32(ox * u.stride + kx) - i32(u.pad_left);
      if (ix < 0 || ix >= i32(u.W)) { continue; }
      let x_base = ((n * u.H + u32(iy)) * u.W + u32(ix)) * ci4;
      var w_at = (ky * u.KW + kx) * u.Cin * co4 + oc4;
      for (var c4 = 0u; c4 < ci4; c4++) {
        let v = x[x_base + c4];
        acc = fma(vec4f(v.x), w[w_at], acc);
        acc = fma(vec4f(v.y), w[w_at + co4], acc);
        acc = fma(vec4f(v.z), w[w_at + 2u * co4], acc);
        acc = fma(vec4f(v.w), w[w_at + 3u * co4], acc);
        w_at += 4u * co4;
      }
    }
  }
#if ${HAS_BIAS}
  acc += bias[oc4];
#endif
#if ${RELU6}
  acc = clamp(acc, vec4f(0.0), vec4f(6.0));
#endif
  y[i] = acc;
}
#endif

#if ${GRAD_INPUT}
// One input position, four input channels: each dy vec4 is dotted with the four weight rows of those channels.
fn run(i: u32) {
  let co4 = u.Cout / 4u;
  let ci4 = u.Cin / 4u;
  let ic4 = i % ci4;
  let ix = (i / ci4) % u.W;
  let iy = (i / (ci4 * u.W)) % u.H;
  let n = i / (ci4 * u.W * u.H);
  var acc = vec4f(0.0);
  for (var ky = 0u; ky < u.KH; ky++) {
    let ty = i32(iy + u.pad_top) - i32(ky);
    if (ty < 0 || ty % i32(u.stride) != 0 || ty / i32(u.stride) >= i32(u.OH)) { continue; }
    let oy = u32(ty) / u.stride;
    for (var kx = 0u; kx < u.KW; kx++) {
      let tx = i32(ix + u.pad_left) - i32(kx);
      if (tx < 0 || tx % i32(u.stride) != 0 || tx / i32(u.stride) >= i32(u.OW)) { continue; }
      let ox = u32(tx) / u.stride;
      let dy_base = ((n * u.OH + oy) * u.OW + ox) * co4;
      let w_base = ((ky * u.KW + kx) * u.Cin + 4u * ic4) * co4;
      for (var o4 = 0u; o4 < co4; o4++) {
        let d = dy[dy_base + o4];
        let w_at = w_base + o4;
        acc += vec4f(dot(d, w[w_at]), dot(d, w[w_at + co4]), dot(d, w[w_at + 2u * co4]), dot(d, w[w_at + 3u * co4]));
      }
    }
  }
  dx[i] = acc;
}
#endif

#if ${GRAD_WEIGHT}
// A 4x4 block of one tap's weights (four input by four output channels) over a split of the N * OH output rows:
// each position's x vec4 and dy vec4 make an outer product. The caller sums the splits' slabs.
fn run(i: u32) {
  let co4 = u.Cout / 4u;
  let ci4 = u.Cin / 4u;
  let blocks = u.KH * u.KW * ci4 * co4;
  let split = i / blocks;
  let j = i % blocks;
  let oc4 = j % co4;
  let c4 = (j / co4) % ci4;
  let kx = (j / (co4 * ci4)) % u.KW;
  let ky = j / (co4 * ci4 * u.KW);
  let first = split * u.rows_per_split;
  let last = min(first + u.rows_per_split, u.N * u.OH);
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  for (var r = first; r < last; r++) {
    let n = r / u.OH;
    let oy = r % u.OH;
    let iy = i32(oy * u.stride + ky) - i32(u.pad_top);
    if (iy < 0 || iy >= i32(u.H)) { continue; }
    let x_row = (n * u.H + u32(iy)) * u.W;
    let dy_row = r * u.OW;
    for (var ox = 0u; ox < u.OW; ox++) {
      let ix = i32(ox * u.stride + kx) - i32(u.pad_left);
      if (ix < 0 || ix >= i32(u.W)) { continue; }
      let v = x[(x_row + u32(ix)) * ci4 + c4];
      let d = dy[(dy_row + ox) * co4 + oc4];
      a0 = fma(vec4f(v.x), d, a0);
      a1 = fma(vec4f(v.y), d, a1);
      a2 = fma(vec4f(v.z), d, a2);
      a3 = fma(vec4f(v.w), d, a3);
    }
  }
  let at = ((split * u.KH * u.KW + ky * u.KW + kx) * u.Cin + 4u * c4) * co4 + oc4;
  dw[at] = a0;
  dw[at + co4] = a1;
  dw[at + 2u * co4] = a2;
  dw[at + 3u * co4] = a3;
}
#endif
