// Clips as the models take them: at the model's sample rate, zero-padded at the end or truncated to a fixed length.
import { resample } from './resample.js';
import type { DecodedWav } from './wav.js';

function fitLength(samples: Float32Array, length: number): Float32Array {
  if (samples.length === length) return samples;
  const out = new Float32Array(length);
  out.set(samples.subarray(0, length));
  return out;
}

/** Resamples when the file's rate differs from `rate` (the paper never does: its presets keep the rate). */
export function prepareClip(wav: DecodedWav, rate: number, length: number): Float32Array {
  const samples = wav.sampleRate === rate ? wav.samples : resample(wav.samples, wav.sampleRate, rate);
  return fitLength(samples, length);
}

/** The largest absolute sample (a loop: spreading a long clip into Math.max overflows the stack). */
export function peakAmplitude(x: Float32Array): number {
  let peak = 0;
  for (const v of x) peak = Math.max(peak, Math.abs(v));
  return peak;
}
