// Batched complex FFT, Stockham radix-2 (self-sorting): one dispatch per stage, one butterfly per invocation,
// ping-ponging between two buffers of [transforms, N] complex values (vec2f). Twiddles come from a table of
// exp(-2 pi i t / N), t < N/2, computed in float64 on the CPU.
fn run(i: u32) {
  let half = u.n / 2u;
  let base = (i / half) * u.n;
  let j = i % half;
  // span = Ns, the size of the sub-transforms this stage merges.
  let k = j % u.span;
  var w = twiddles[k * (half / u.span)];
  if (u.inverse != 0u) { w.y = -w.y; }
  let v0 = src[base + j];
  let v1 = src[base + j + half];
  let t = vec2f(v1.x * w.x - v1.y * w.y, v1.x * w.y + v1.y * w.x);
  let out = (j / u.span) * u.span * 2u + k;
  dst[base + out] = v0 + t;
  dst[base + out + u.span] = v0 - t;
}
