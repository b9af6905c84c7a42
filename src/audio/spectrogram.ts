// The audio front end on the GPU: frame -> window -> zero-pad -> FFT -> magnitude / power / log-mel / MFCC, then the
// model's resize to 64 x 64 and scalar normalisation. The paper's settings are the default preset.
import { fftKernel, isPowerOfTwo } from '../kernels/fft.js';
import { resizeKernel, type Affine } from '../kernels/resize.js';
import { frameKernel, spectrumKernel, type FrameGeometry } from '../kernels/stft.js';
import { unaryForward } from '../kernels/elementwise.js';
import { padKernel } from '../kernels/layout.js';
import { matmulKernel } from '../kernels/matmul.js';
import { reduceAxis } from '../kernels/reduce.js';
import { engine } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { AudioError } from './errors.js';

export const WINDOWS = ['hann-tf', 'hann-periodic', 'hann-symmetric', 'hamming', 'rectangular'] as const;
export type WindowName = (typeof WINDOWS)[number];
export const SPECTRUM_OUTPUTS = ['magnitude', 'power', 'logmel', 'mfcc'] as const;
export type SpectrumOutput = (typeof SPECTRUM_OUTPUTS)[number];

export interface SpectrogramConfig {
  frameLength: number;
  hop: number;
  fftLength: number;
  window: WindowName;
  output: SpectrumOutput;
  /** Mel bands for 'logmel' and 'mfcc'. */
  melBins: number;
  /** Cepstral coefficients 'mfcc' keeps (the first of melBins). */
  mfccs: number;
  sampleRate: number;
  /** Pad the end of the signal so the last samples get a frame of their own (TensorFlow's pad_end). */
  padEnd: boolean;
}

/** The paper's STFT (TensorFlow's 'simple audio' tutorial): 255 / 128 / 256, magnitude, no end padding. */
export const PAPER_SPECTROGRAM: SpectrogramConfig = {
  frameLength: 255,
  hop: 128,
  fftLength: 256,
  window: 'hann-tf',
  output: 'magnitude',
  melBins: 64,
  mfccs: 13,
  sampleRate: 16000,
  padEnd: false,
};

/**
 * Window coefficients in float64. 'hann-tf' is tf.signal.hann_window(periodic=True): its periodic flag only
 * changes even lengths, so an odd length such as 255 gets the symmetric window (denominator 254).
 */
export function windowCoefficients(name: WindowName, length: number): Float64Array {
  const w = new Float64Array(length);
  const denominator =
    name === 'hann-symmetric' || (name === 'hann-tf' && length % 2 === 1) ? length - 1 : length;
  for (let i = 0; i < length; i++) {
    const phase = (2 * Math.PI * i) / denominator;
    if (name === 'rectangular') w[i] = 1;
    else if (name === 'hamming') w[i] = 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / length);
    else w[i] = 0.5 - 0.5 * Math.cos(phase);
  }
  if (length === 1) w[0] = 1;
  return w;
}

/** Frames that fit: 1 + floor((N - frameLength) / hop) (TensorFlow's count; torch.stft's differs). */
export function frameCount(samples: number, c: Pick<SpectrogramConfig, 'frameLength' | 'hop' | 'padEnd'>): number {
  if (c.padEnd) return Math.ceil(samples / c.hop);
  return samples < c.frameLength ? 0 : 1 + Math.floor((samples - c.frameLength) / c.hop);
}

export function spectrogramShape(samples: number, c: SpectrogramConfig): [number, number] {
  return [frameCount(samples, c), binsOf(c)];
}

/** Values per frame: mel bands, cepstral coefficients or linear frequency bins. */
export function binsOf(c: Pick<SpectrogramConfig, 'output' | 'melBins' | 'mfccs' | 'fftLength'>): number {
  return c.output === 'logmel' ? c.melBins : c.output === 'mfcc' ? c.mfccs : c.fftLength / 2 + 1;
}

/** HTK mel scale, as TensorFlow's linear_to_mel_weight_matrix. */
const hzToMel = (hz: number) => 1127 * Math.log(1 + hz / 700);

const MEL_LOW_HZ = 20;

/** The mel bands' edges, in mels: band m rises from edges[m], peaks at edges[m + 1] and falls to edges[m + 2]. */
function melEdges(c: SpectrogramConfig, lowHz: number, highHz: number): number[] {
  return Array.from({ length: c.melBins + 2 }, (_, i) => hzToMel(lowHz) + ((hzToMel(highHz) - hzToMel(lowHz)) * i) / (c.melBins + 1));
}

/** Each mel band's centre frequency in Hz. */
export function melBandCentres(c: SpectrogramConfig): number[] {
  return melEdges(c, MEL_LOW_HZ, c.sampleRate / 2)
    .slice(1, -1)
    .map((mel) => 700 * (Math.exp(mel / 1127) - 1));
}

/** [fftLength/2 + 1, melBins] triangular filters from 20 Hz to Nyquist (TensorFlow's defaults), no DC row. */
export function melFilterbank(c: SpectrogramConfig, lowHz = MEL_LOW_HZ, highHz = c.sampleRate / 2): Float32Array {
  const bins = c.fftLength / 2 + 1;
  const edges = melEdges(c, lowHz, highHz);
  const weights = new Float32Array(bins * c.melBins);
  for (let k = 1; k < bins; k++) {
    const mel = hzToMel((k * c.sampleRate) / c.fftLength);
    for (let m = 0; m < c.melBins; m++) {
      const [lo, centre, hi] = [edges[m]!, edges[m + 1]!, edges[m + 2]!];
      const up = (mel - lo) / (centre - lo);
      const down = (hi - mel) / (hi - centre);
      weights[k * c.melBins + m] = Math.max(0, Math.min(up, down));
    }
  }
  return weights;
}

/**
 * [melBins, mfccs] DCT-II as TensorFlow's mfccs_from_log_mel_spectrograms (HTK's scaling): coefficient k of N
 * bands is sqrt(2 / N) sum_n x_n cos(pi k (2n + 1) / 2N). Orthonormal but for k = 0, which is sqrt(2) larger.
 */
export function mfccMatrix(melBins: number, mfccs: number): Float32Array {
  const d = new Float32Array(melBins * mfccs);
  const scale = Math.sqrt(2 / melBins);
  for (let n = 0; n < melBins; n++) for (let k = 0; k < mfccs; k++) d[n * mfccs + k] = scale * Math.cos((Math.PI * k * (2 * n + 1)) / (2 * melBins));
  return d;
}

export function validateSpectrogramConfig(c: SpectrogramConfig): void {
  if (!isPowerOfTwo(c.fftLength) || c.fftLength < 2 || c.fftLength > 65536) {
    throw new AudioError(`fftLength must be a power of two (64 to 4096 are typical), got ${c.fftLength}`);
  }
  if (c.frameLength < 1 || c.frameLength > c.fftLength) {
    throw new AudioError(`frameLength ${c.frameLength} must be between 1 and fftLength ${c.fftLength}`);
  }
  if (c.hop < 1) throw new AudioError(`hop must be at least 1, got ${c.hop}`);
  if (c.output === 'mfcc' && (c.mfccs < 1 || c.mfccs > c.melBins)) throw new AudioError(`mfccs must be from 1 to melBins (${c.melBins}), got ${c.mfccs}`);
}

/** signals [clips, samples] -> spectrograms [clips, frames, bins] on the GPU (no autograd: a fixed front end). */
export function spectrogram(signals: Tensor, config: SpectrogramConfig = PAPER_SPECTROGRAM): Tensor {
  validateSpectrogramConfig(config);
  const [clips, samples] = signals.shape as [number, number];
  let input = signals;
  let length = samples;
  if (config.padEnd) {
    length = (frameCount(samples, config) - 1) * config.hop + config.frameLength;
    if (length > samples) input = padKernel(signals, [0, 0], [0, length - samples]);
  }
  const frames = frameCount(length, config);
  if (frames <= 0) throw new AudioError(`clips of ${samples} samples are shorter than one frame (${config.frameLength})`);
  const g: FrameGeometry = { clips, length, frames, hop: config.hop, frameLength: config.frameLength, fftLength: config.fftLength };
  const window = engine().constant(`window ${config.window} ${config.frameLength}`, [config.frameLength], () => windowCoefficients(config.window, config.frameLength));
  const framed = frameKernel(input, window, g);
  if (input !== signals) input.dispose();
  const spectrum = fftKernel(framed);
  framed.dispose();
  const values = spectrumKernel(spectrum, g, config.output === 'magnitude');
  spectrum.dispose();
  if (config.output !== 'logmel' && config.output !== 'mfcc') return values;
  const bins = config.fftLength / 2 + 1;
  const mel = engine().constant(`mel ${JSON.stringify(config)}`, [bins, config.melBins], () => melFilterbank(config));
  const rows = values.intoShape([clips * frames, bins]);
  const melPower = matmulKernel(rows, mel, { batch: 1, M: clips * frames, N: config.melBins, K: bins, aBatched: false, bBatched: false });
  rows.dispose();
  const shifted = unaryForward('addScalar', melPower, 1e-6);
  melPower.dispose();
  const logMel = unaryForward('log', shifted);
  shifted.dispose();
  if (config.output === 'logmel') return logMel.intoShape([clips, frames, config.melBins]);
  const dct = engine().constant(`dct ${config.melBins} ${config.mfccs}`, [config.melBins, config.mfccs], () => mfccMatrix(config.melBins, config.mfccs));
  const mfcc = matmulKernel(logMel, dct, { batch: 1, M: clips * frames, N: config.mfccs, K: config.melBins, aBatched: false, bBatched: false });
  logMel.dispose();
  return mfcc.intoShape([clips, frames, config.mfccs]);
}

/** Frames per GPU pass of longSpectrogram: keeps every buffer far below the 128 MiB binding limit. */
const LONG_CHUNK_BYTES = 32 << 20;

/**
 * The spectrogram of one signal of any length, computed on the GPU in chunks of frames (each chunk takes the
 * samples its frames cover), so that no buffer outgrows the device's binding limits. Values [frames, bins].
 */
export async function longSpectrogram(samples: Float32Array, config: SpectrogramConfig): Promise<{ values: Float32Array; frames: number; bins: number }> {
  validateSpectrogramConfig(config);
  const frames = frameCount(samples.length, config);
  if (frames <= 0) throw new AudioError(`a signal of ${samples.length} samples is shorter than one frame (${config.frameLength})`);
  const padded = new Float32Array(Math.max(samples.length, (frames - 1) * config.hop + config.frameLength));
  padded.set(samples);
  const bins = binsOf(config);
  const chunk = Math.max(1, Math.floor(LONG_CHUNK_BYTES / (config.fftLength * 8)));
  const values = new Float32Array(frames * bins);
  for (let f0 = 0; f0 < frames; f0 += chunk) {
    const count = Math.min(chunk, frames - f0);
    const span = padded.subarray(f0 * config.hop, (f0 + count - 1) * config.hop + config.frameLength);
    const out = spectrogram(Tensor.from(span, [1, span.length]), { ...config, padEnd: false });
    values.set(await out.data(), f0 * bins);
    out.dispose();
  }
  return { values, frames, bins };
}

/** Bilinear resize of spectrograms [clips, frames, bins] to [clips, height, width] (TensorFlow's resize). */
export function resizeSpectrograms(x: Tensor, height = 64, width = 64, then?: Affine): Tensor {
  return resizeKernel(x, height, width, then);
}

/**
 * Adapts the paper's Normalization layer: one mean and variance over every pixel of the training spectrograms
 * (at full size, before resizing). Each batch is reduced on the GPU; the running sums are kept in float64.
 */
export class NormalizationStats {
  private count = 0;
  private sum = 0;
  private sumSquares = 0;

  async add(batch: Tensor): Promise<void> {
    const made = [batch.view([batch.size])];
    try {
      const flat = made[0]!;
      const squares = unaryForward('square', flat);
      made.push(squares);
      const total = reduceAxis('sum', flat, 0);
      made.push(total);
      const totalSquares = reduceAxis('sum', squares, 0);
      made.push(totalSquares);
      const [s, q] = [await total.item(), await totalSquares.item()];
      this.count += batch.size;
      this.sum += s;
      this.sumSquares += q;
    } finally {
      for (const t of made) t.dispose();
    }
  }

  get mean(): number {
    return this.count > 0 ? this.sum / this.count : 0;
  }

  /** Population variance, as Keras' Normalization.adapt computes it. */
  get variance(): number {
    return this.count > 0 ? Math.max(0, this.sumSquares / this.count - this.mean ** 2) : 1;
  }
}

/** (x - mean) / max(sqrt(variance), 1e-7), the paper's Normalization layer with one adapted mean and variance. */
export function normalize(x: Tensor, mean: number, variance: number): Tensor {
  const { scale, shift } = normalization(mean, variance);
  return unaryForward('affine', x, scale, shift);
}

/** The Normalization layer as an affine map: (x - mean) / max(sqrt(variance), 1e-7). */
export function normalization(mean: number, variance: number): Affine {
  const std = Math.max(Math.sqrt(variance), 1e-7);
  return { scale: 1 / std, shift: -mean / std };
}
