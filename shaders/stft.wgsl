// The STFT's two ends. FRAME: cut clip b into frames (start f * hop), multiply by the window, zero-pad to the FFT
// length, as complex values. SPECTRUM: the first n/2 + 1 bins of each transform as magnitude or power.

#if ${FRAME}
fn run(i: u32) {
  let s = i % u.n;
  let f = (i / u.n) % u.frames;
  let b = i / (u.n * u.frames);
  var v = 0.0;
  if (s < u.frame_length) { v = signal[b * u.length + f * u.hop + s] * window[s]; }
  frames[i] = vec2f(v, 0.0);
}
#endif

#if ${SPECTRUM}
fn run(i: u32) {
  let k = i % u.bins;
  let t = i / u.bins;
  let z = spectrum[t * u.n + k];
  let power = fma(z.x, z.x, z.y * z.y);
#if ${MAGNITUDE}
  out[i] = sqrt(power);
#else
  out[i] = power;
#endif
}
#endif
