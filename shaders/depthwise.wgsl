// Depthwise 2-D convolution (one filter per channel), channels-last, four channels per invocation as vec4s:
// on CPU adapters every storage load is a gather, so reading four channels at once cuts the loads fourfold.
// Same geometry and padding rules as conv2d.wgsl (taps in the padding are skipped). C must be a multiple of 4.
// The forward pass adds the bias and applies a ReLU6 in its epilogue when asked (inference with BatchNorm folded).
// Each kernel size compiles its own pipeline: with the tap counts known, the tap loops unroll and the small
// per-invocation arrays (a tile's input row, the weight gradient's taps) stay in registers; indexed at run time,
// llvmpipe keeps them in memory and pays a gather or scatter on every use (all three passes measured 1.3-1.6x
// slower on the paper stem).
const KH = ${KH}u;
const KW = ${KW}u;
// Neighbouring positions along x per invocation in the row-tiled passes.
const TX = ${TILE_X}u;

#if ${FORWARD}
fn finish(v: vec4f, c: u32) -> vec4f {
  var acc = v;
#if ${HAS_BIAS}
  acc += bias[c];
#endif
#if ${RELU6}
  acc = clamp(acc, vec4f(0.0), vec4f(6.0));
#endif
  return acc;
}

#if ${TILED}
// Stride 1: each invocation computes TX neighbouring outputs along x, so each input vec4 of a kernel row is
// loaded once for all of them (KW + TX - 1 loads per row instead of TX * KW). Taps in the padding are skipped.
fn run(i: u32) {
  let c = i % u.C4;
  let tiles_x = (u.OW + TX - 1u) / TX;
  let ox0 = ((i / u.C4) % tiles_x) * TX;
  let oy = (i / (u.C4 * tiles_x)) % u.OH;
  let n = i / (u.C4 * tiles_x * u.OH);
  var acc: array<vec4f, TX>;
  var row: array<vec4f, KW + TX - 1u>;
  for (var ky = 0u; ky < KH; ky++) {
    let iy = i32(oy + ky) - i32(u.pad_top);
    if (iy < 0 || iy >= i32(u.H)) { continue; }
    let x_row = (n * u.H + u32(iy)) * u.W;
    let first = i32(ox0) - i32(u.pad_left);
    for (var j = 0u; j < KW + TX - 1u; j++) {
      let ix = first + i32(j);
      if (ix >= 0 && ix < i32(u.W)) { row[j] = x[(x_row + u32(ix)) * u.C4 + c]; }
    }
    for (var kx = 0u; kx < KW; kx++) {
      let wk = w[(ky * KW + kx) * u.C4 + c];
      for (var t = 0u; t < TX; t++) {
        let ix = first + i32(t + kx);
        if (ox0 + t < u.OW && ix >= 0 && ix < i32(u.W)) { acc[t] = fma(row[t + kx], wk, acc[t]); }
      }
    }
  }
  let out_row = (n * u.OH + oy) * u.OW;
  for (var t = 0u; t < TX; t++) {
    if (ox0 + t < u.OW) { y[(out_row + ox0 + t) * u.C4 + c] = finish(acc[t], c); }
  }
}
#else
fn run(i: u32) {
  let c = i % u.C4;
  let ox = (i / u.C4) % u.OW;
  let oy = (i / (u.C4 * u.OW)) % u.OH;
  let n = i / (u.C4 * u.OW * u.OH);
  var acc = vec4f(0.0);
  for (var ky = 0u; ky < KH; ky++) {
    let iy = i32(oy * u.stride + ky) - i32(u.pad_top);
    if (iy < 0 || iy >= i32(u.H)) { continue; }
    for (var kx = 0u; kx < KW; kx++) {
      let ix = i32(ox * u.stride + kx) - i32(u.pad_left);
      if (ix < 0 || ix >= i32(u.W)) { continue; }
      acc = fma(x[((n * u.H + u32(iy)) * u.W + u32(ix)) * u.C4 + c], w[(ky * KW + kx) * u.C4 + c], acc);
    }
  }
  y[i] = finish(acc, c);
}
#endif
#endif

#if ${GRAD_INPUT}
#if ${TILED}
// Stride 1: TX neighbouring input positions per invocation, each dy vec4 of a kernel row loaded once for them.
fn run(i: u32) {
  let c = i % u.C4;
  let tiles_x = (u.W + TX - 1u) / TX;
  let ix0 = ((i / u.C4) % tiles_x) * TX;
  let iy = (i / (u.C4 * tiles_x)) % u.H;
  let n = i / (u.C4 * tiles_x * u.H);
  var acc: array<vec4f, TX>;
  var row: array<vec4f, KW + TX - 1u>;
  // The lowest output column any of them touches.
  let first = i32(ix0 + u.pad_left) - i32(KW - 1u);
  for (var ky = 0u; ky < KH; ky++) {
    let oy = i32(iy + u.pad_top) - i32(ky);
    if (oy < 0 || oy >= i32(u.OH)) { continue; }
    let dy_row = (n * u.OH + u32(oy)) * u.OW;
    for (var j = 0u; j < KW + TX - 1u; j++) {
      let ox = first + i32(j);
      if (ox >= 0 && ox < i32(u.OW)) { row[j] = dy[(dy_row + u32(ox)) * u.C4 + c]; }
    }
    for (var kx = 0u; kx < KW; kx++) {
      let wk = w[(ky * KW + kx) * u.C4 + c];
      for (var t = 0u; t < TX; t++) {
        let j = t + KW - 1u - kx;
        let ox = first + i32(j);
        if (ix0 + t < u.W && ox >= 0 && ox < i32(u.OW)) { acc[t] = fma(row[j], wk, acc[t]); }
      }
    }
  }
  let out_row = (n * u.H + iy) * u.W;
  for (var t = 0u; t < TX; t++) {
    if (ix0 + t < u.W) { dx[(out_row + ix0 + t) * u.C4 + c] = acc[t]; }
  }
}
#else
fn run(i: u32) {
  let c = i % u.C4;
  let ix = (i / u.C4) % u.W;
  let iy = (i / (u.C4 * u.W)) % u.H;
  let n = i / (u.C4 * u.W * u.H);
  var acc = vec4f(0.0);
  for (var ky = 0u; ky < KH; ky++) {
    let ty = i32(iy + u.pad_top) - i32(ky);
    if (ty < 0 || ty % i32(u.stride) != 0 || ty / i32(u.stride) >= i32(u.OH)) { continue; }
    for (var kx = 0u; kx < KW; kx++) {
      let tx = i32(ix + u.pad_left) - i32(kx);
      if (tx < 0 || tx % i32(u.stride) != 0 || tx / i32(u.stride) >= i32(u.OW)) { continue; }
      acc = fma(dy[((n * u.OH + u32(ty) / u.stride) * u.OW + u32(tx) / u.stride) * u.C4 + c], w[(ky * KW + kx) * u.C4 + c], acc);
    }
  }
  dx[i] = acc;
}
#endif
#endif

#if ${GRAD_WEIGHT}
// Per (split of output rows, channel group): every tap's sum of x * dy over the split's rows (stride 1), each dy
// vec4 loaded once for all taps. The caller sums the splits' slabs [splits, KH, KW, C].
fn run(i: u32) {
  let c = i % u.C4;
  let split = i / u.C4;
  let taps = KH * KW;
  var acc: array<vec4f, KH * KW>;
  for (var t = 0u; t < taps; t++) { acc[t] = vec4f(0.0); }
  let first = split * u.rows_per_split;
  let last = min(first + u.rows_per_split, u.N * u.OH);
  for (var r = first; r < last; r++) {
    let n = r / u.OH;
    let oy = r % u.OH;
    for (var ox = 0u; ox < u.OW; ox++) {
      let d = dy[(r * u.OW + ox) * u.C4 + c];
      for (var ky = 0u; ky < KH; ky++) {
        let iy = i32(oy + ky) - i32(u.pad_top);
        if (iy < 0 || iy >= i32(u.H)) { continue; }
        for (var kx = 0u; kx < KW; kx++) {
          let ix = i32(ox + kx) - i32(u.pad_left);
          if (ix < 0 || ix >= i32(u.W)) { continue; }
          acc[ky * KW + kx] = fma(x[((n * u.H + u32(iy)) * u.W + u32(ix)) * u.C4 + c], d, acc[ky * KW + kx]);
        }
      }
    }
  }
  for (var t = 0u; t < taps; t++) { dw[(split * taps + t) * u.C4 + c] = acc[t]; }
}
#endif
