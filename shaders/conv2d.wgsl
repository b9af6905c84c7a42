// 2-D convolution, channels-last: x [N, H, W, Cin], w [KH, KW, Cin/groups, Cout] (Keras' HWIO), y [N, OH, OW, Cout].
// Taps that fall into the zero padding are skipped, not multiplied by zero. Three entry points: the forward pass,
// the input gradient and the weight gradient. The weight gradient sums over N*OH rows in runs of `rows_per_split`
// (each run writes its own slab, summed by the caller), which keeps every invocation under llvmpipe's budget of
// 65,535 loop iterations and spreads the work over more invocations.

#if ${FORWARD}
fn run(i: u32) {
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
#if ${RELU6}
  acc = clamp(acc, 0.0, 6.0);
#endif
  y[i] = acc;
}
#endif

#if ${GRAD_INPUT}
fn run(i: u32) {
  let ic = i % u.Cin;
  let ix = (i / u.Cin) % u.W;
  let iy = (i / (u.Cin * u.W)) % u.H;
  let n = i / (u.Cin * u.W * u.H);
  let g = ic / u.cin_g;
  let c = ic % u.cin_g;
  var acc = 0.0;
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
fn run(i: u32) {
  let weights = u.KH * u.KW * u.cin_g * u.Cout;
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
