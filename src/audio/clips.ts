// Clips as the models take them: at the model's sample rate, zero-padded at the end or truncated to a fixed length.
import { resample, resampleReach } from './resample.js';
import type { DecodedWav } from './wav.js';

function fitLength(samples: Float32Array, length: number): Float32Array {
  if (samples.length === length) return samples;
  const out = new Float32Array(length);
  out.set(samples.subarray(0, length));
  return out;
}

/**
 * Resamples when the file's rate differs from `rate` (the paper never does: its presets keep the rate). Only the
 * span the clip needs is resampled: the output's first `length` samples and the filter's reach beyond them.
 */
export function prepareClip(wav: DecodedWav, rate: number, length: number): Float32Array {
  if (wav.sampleRate === rate) return fitLength(wav.samples, length);
  const span = Math.min(wav.samples.length, Math.ceil((length * wav.sampleRate) / rate) + resampleReach(wav.sampleRate, rate) + 1);
  return fitLength(resample(wav.samples.subarray(0, span), wav.sampleRate, rate), length);
}

/** The largest absolute sample (a loop: spreading a long clip into Math.max overflows the stack). */
export function peakAmplitude(x: Float32Array): number {
  let peak = 0;
  for (const v of x) peak = Math.max(peak, Math.abs(v));
  return peak;
}
