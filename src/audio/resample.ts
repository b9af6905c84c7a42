// Band-limited resampling with a Kaiser-windowed sinc (on the CPU: it runs once per clip when a data set mixes
// rates). Downsampling low-passes at the new Nyquist frequency, so nothing above it folds back.
import { AudioError } from './errors.js';

/** Modified Bessel function of the first kind, order 0 (series). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

export interface ResampleOptions {
  /** Zero crossings of the sinc kept on each side (at the lower of the two rates). */
  zeroCrossings?: number;
  /** Kaiser window shape (higher: lower side lobes, wider transition). */
  beta?: number;
  /** Passband edge as a fraction of the lower Nyquist frequency. */
  rolloff?: number;
}

const DEFAULTS = { zeroCrossings: 16, beta: 8.6, rolloff: 0.94 };

/** Input samples the filter reaches on each side of an output sample. */
export function resampleReach(fromRate: number, toRate: number, options: ResampleOptions = {}): number {
  const { zeroCrossings, rolloff } = { ...DEFAULTS, ...options };
  return Math.ceil(zeroCrossings / (Math.min(1, toRate / fromRate) * rolloff));
}

export function resample(x: Float32Array, fromRate: number, toRate: number, options: ResampleOptions = {}): Float32Array {
  if (!(fromRate > 0 && toRate > 0)) throw new AudioError(`resample: rates must be positive, got ${fromRate} -> ${toRate}`);
  if (fromRate === toRate) return x.slice();
  const { beta, rolloff } = { ...DEFAULTS, ...options };
  const ratio = toRate / fromRate;
  const cutoff = Math.min(1, ratio) * rolloff; // in cycles per input sample, relative to the input Nyquist
  const half = resampleReach(fromRate, toRate, options); // taps on each side, in input samples
  const norm = besselI0(beta);
  const out = new Float32Array(Math.round(x.length * ratio));
  for (let i = 0; i < out.length; i++) {
    const t = i / ratio;
    const centre = Math.floor(t);
    let acc = 0;
    for (let j = Math.max(0, centre - half + 1); j <= Math.min(x.length - 1, centre + half); j++) {
      const d = t - j;
      const u = d / half;
      if (Math.abs(u) >= 1) continue;
      const arg = Math.PI * cutoff * d;
      const sinc = arg === 0 ? 1 : Math.sin(arg) / arg;
      acc += x[j]! * cutoff * sinc * (besselI0(beta * Math.sqrt(1 - u * u)) / norm);
    }
    out[i] = acc;
  }
  return out;
}
