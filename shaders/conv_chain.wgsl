// A chain of small convolutions (stride 1, 'same' padding, no bias, C channels in and out, up to three layers),
// one workgroup per image: the image lives in workgroup memory between the layers, so the chain is one dispatch.
// Layer l's weights [KH, KW, C, C] lie at l * w_step in W; its activation is ACT_<l>. Each invocation computes four
// output channels of a position at a time; taps in the padding are skipped, as conv2d.wgsl skips them. TokenLearner
// v1's map convolutions after the first, on an 8 x 8 (or 10 x 10) grid of 8 tokens.
alias V = vec4f;
#include "erf.wgsl"

const H = ${H}u;
const W_ = ${W}u;
const C = ${C}u;
const KH = ${KH}u;
const KW = ${KW}u;
const CELLS = H * W_ * C;
/** Two images: the layer's input and its output, alternating. */
var<workgroup> grids: array<f32, 2u * CELLS>;

fn activate(l: u32, x: vec4f) -> vec4f {
  if (l == 0u) { return ${ACT_0}; }
  if (l == 1u) { return ${ACT_1}; }
  return ${ACT_2};
}

fn run(lid: u32, n: u32) {
  for (var i = lid; i < CELLS; i += WG) { grids[i] = X[n * CELLS + i]; }
  workgroupBarrier();
  let quads = C / 4u;
  for (var l = 0u; l < u.layers; l++) {
    let src = (l % 2u) * CELLS;
    let dst = CELLS - src;
    for (var q = lid; q < H * W_ * quads; q += WG) {
      let p = q / quads;
      let co = (q % quads) * 4u;
      let y = i32(p / W_);
      let x = i32(p % W_);
      var sums = vec4f(0.0);
      for (var ky = 0u; ky < KH; ky++) {
        let iy = y + i32(ky) - i32(u.pad_top);
        if (iy < 0 || iy >= i32(H)) { continue; }
        for (var kx = 0u; kx < KW; kx++) {
          let ix = x + i32(kx) - i32(u.pad_left);
          if (ix < 0 || ix >= i32(W_)) { continue; }
          let at = src + (u32(iy) * W_ + u32(ix)) * C;
          let taps = l * u.w_step + (ky * KW + kx) * C * C + co;
          for (var ci = 0u; ci < C; ci++) { sums = fma(vec4f(grids[at + ci]), Wt[(taps + ci * C) / 4u], sums); }
        }
      }
      let out = activate(l, sums);
      if (l + 1u == u.layers) {
        Y[(n * CELLS + p * C + co) / 4u] = out;
      } else {
        for (var j = 0u; j < 4u; j++) { grids[dst + p * C + co + j] = out[j]; }
      }
    }
    workgroupBarrier();
  }
}
