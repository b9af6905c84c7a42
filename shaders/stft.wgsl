// The STFT's two ends. FRAME: cut clip b into frames (start f * hop), multiply by the window, zero-pad to the FFT
// length, as complex values. SPECTRUM: the first n/2 + 1 bins of each transform as magnitude or power.
#include "common.wgsl"

struct Params { clips: u32, length: u32, frames: u32, hop: u32, frame_length: u32, n: u32, bins: u32, p0: u32 }
@group(0) @binding(0) var<uniform> u: Params;

#if ${FRAME}
@group(0) @binding(1) var<storage, read> signal: array<f32>;
@group(0) @binding(2) var<storage, read> window: array<f32>;
@group(0) @binding(3) var<storage, read_write> frames: array<vec2f>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= u.clips * u.frames * u.n) { return; }
  let s = i % u.n;
  let f = (i / u.n) % u.frames;
  let b = i / (u.n * u.frames);
  var v = 0.0;
  if (s < u.frame_length) { v = signal[b * u.length + f * u.hop + s] * window[s]; }
  frames[i] = vec2f(v, 0.0);
}
#endif

#if ${SPECTRUM}
@group(0) @binding(1) var<storage, read> spectrum: array<vec2f>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= u.clips * u.frames * u.bins) { return; }
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
