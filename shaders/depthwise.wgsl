// Depthwise 2-D convolution (one filter per channel), channels-last, four channels per invocation as vec4s:
// on CPU adapters every storage load is a gather, so reading four channels at once cuts the loads fourfold.
// Same geometry and padding rules as conv2d.wgsl (taps in the padding are skipped). C must be a multiple of 4.

#if ${FORWARD}
fn run(i: u32) {
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
fn run(i: u32) {
  let c = i % u.C4;
  let ix = (i / u.C4) % u.W;
  let iy = (i / (u.C4 * u.W)) % u.H;
  let n = i / (u.C4 * u.W * u.H);
  var acc = vec4f(0.0);
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
      acc = fma(dy[((n * u.OH + oy) * u.OW + ox) * u.C4 + c], w[(ky * u.KW + kx) * u.C4 + c], acc);
    }
  }
  dx[i] = acc;
}
#endif
