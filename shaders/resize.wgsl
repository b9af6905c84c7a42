// Bilinear resize of [images, H, W] to [images, OH, OW] with half-pixel centres and no antialiasing, exactly as
// TensorFlow's resize: in = (out + 0.5) * (in_size / out_size) - 0.5, lower = max(floor(in), 0),
// upper = min(ceil(in), size - 1), weight = in - floor(in). AFFINE: a normalization applied to each output.
fn run(i: u32) {
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
#if ${AFFINE}
  dst[i] = fma(fma(bottom - top, wy, top), u.a_scale, u.a_shift);
#else
  dst[i] = fma(bottom - top, wy, top);
#endif
}
