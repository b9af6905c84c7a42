// Strided copy: out[out_offset + sum(c * out_stride)] = in[sum((c - lo) * in_stride)] over a domain of
// coordinates c, or 0 where c - lo falls outside the input's dims. One kernel serves permute (permuted strides),
// slice (lo = -start), pad (lo = padding), broadcast (stride 0) and concat (a region of the output). V is f32, or
// vec4f when the innermost axis is contiguous on both sides (shapes, strides and offsets then count vec4s). SCALE:
// each value copied is multiplied by u.scale (a mean's gradient spread over the values it averaged).
alias V = ${TYPE};

fn run(i: u32) {
  var rem = i;
  var si = 0;
  var di = u.out_offset;
  var inside = true;
  for (var d = ${RANK} - 1; d >= 0; d--) {
    let dim = at8(u.shape, u32(d));
    let c = rem % dim;
    rem = rem / dim;
    let ci = i32(c) - bitcast<i32>(at8(u.lo, u32(d)));
    inside = inside && ci >= 0 && ci < i32(at8(u.in_dims, u32(d)));
    si += ci * i32(at8(u.in_stride, u32(d)));
    di += c * at8(u.out_stride, u32(d));
  }
#if ${SCALE}
  dst[di] = select(V(0.0), src[max(si, 0)] * u.scale, inside);
#else
  dst[di] = select(V(0.0), src[max(si, 0)], inside);
#endif
}
