// A spectrogram as a picture people can read: time in seconds across, frequency up (Hz, or mel bands with their
// centre frequencies), decibels below the loudest cell as colour with a colour bar, the file and settings as the
// title. The drawing is viz's heat map; this file knows what the axes mean.
import { heatmapSvg, type Heatmap, type Tick } from '../viz/heatmap.js';
import { niceTicks } from '../viz/scatter.js';
import { melBandCentres, type SpectrogramConfig } from './spectrogram.js';

/** Decibels shown below the loudest cell (librosa's and Audacity's default range). */
export const DYNAMIC_RANGE_DB = 80;

/** Each value in decibels: 20 log10 of a magnitude, 10 log10 of a power; log-mel values are ln(power + 1e-6). */
export function toDecibels(values: Float32Array, output: Exclude<SpectrogramConfig['output'], 'mfcc'>): Float64Array {
  switch (output) {
    case 'magnitude':
      return Float64Array.from(values, (v) => 20 * Math.log10(Math.abs(v) + 1e-10));
    case 'power':
      return Float64Array.from(values, (v) => 10 * Math.log10(Math.max(v, 0) + 1e-20));
    case 'logmel':
      return Float64Array.from(values, (v) => (10 / Math.LN10) * v);
  }
}

const hertz = (hz: number) => (hz >= 1000 ? `${+(hz / 1000).toFixed(hz >= 10_000 ? 0 : 1)}k` : `${Math.round(hz)}`);

function frequencyAxis(config: SpectrogramConfig, bins: number): { title: string; ticks: Tick[] } {
  if (config.output === 'mfcc') return { title: 'cepstral coefficient', ticks: niceTicks(0, bins - 1, 8).map((k) => ({ at: k + 0.5, label: `${k}` })) };
  if (config.output === 'logmel') {
    const centres = melBandCentres(config);
    const ticks = niceTicks(0, bins - 1, 8).map((band) => ({ at: band + 0.5, label: `${band} (${hertz(centres[band]!)})` }));
    return { title: 'mel band (centre frequency, Hz)', ticks };
  }
  const nyquist = config.sampleRate / 2;
  const kilo = nyquist >= 2000;
  const ticks = niceTicks(0, kilo ? nyquist / 1000 : nyquist, 8).map((f) => ({ at: ((kilo ? f * 1000 : f) * config.fftLength) / config.sampleRate + 0.5, label: `${f}` }));
  return { title: kilo ? 'frequency (kHz)' : 'frequency (Hz)', ticks };
}

/** The picture of `values` [frames, bins], as an SVG. `name` (the file) heads it; the settings are the subtitle. */
export function spectrogramSvg(values: Float32Array, frames: number, bins: number, config: SpectrogramConfig, name: string): string {
  return heatmapSvg({ ...colouring(values, config.output), ...spectrogramAxes(frames, bins, config), columns: frames, rows: bins, title: name });
}

/** A spectrogram's axes (time in seconds across; Hz, mel bands or coefficients up) and its settings as a subtitle. */
export function spectrogramAxes(frames: number, bins: number, config: SpectrogramConfig): Pick<Heatmap, 'x' | 'y' | 'subtitle'> {
  // Column c is frame c, centred at (c hop + frameLength / 2) / rate seconds.
  const { hop, frameLength, sampleRate } = config;
  const columnAt = (seconds: number) => (seconds * sampleRate - frameLength / 2) / hop + 0.5;
  const [start, end] = [(frameLength / 2 - hop / 2) / sampleRate, ((frames - 0.5) * hop + frameLength / 2) / sampleRate];
  const timeTicks = niceTicks(start, end, 10).filter((t) => t >= start && t <= end).map((t) => ({ at: columnAt(t), label: `${t}` }));
  const settings = [
    config.output === 'logmel' ? `log-mel, ${config.melBins} bands` : config.output === 'mfcc' ? `${config.mfccs} MFCCs of ${config.melBins} mel bands` : config.output,
    `${frames} frames of ${frameLength} samples every ${hop} (${((1000 * hop) / sampleRate).toFixed(1)} ms)`,
    `FFT ${config.fftLength}`,
    `${config.window} window`,
    `${sampleRate} Hz`,
  ].join(', ');
  return { subtitle: settings, x: { title: 'time (s)', ticks: timeTicks }, y: frequencyAxis(config, bins) };
}

/** Spectra as dB below the loudest cell; MFCCs (signed, unitless) as they are, on a scale symmetric about 0. */
export function colouring(values: Float32Array, output: SpectrogramConfig['output']): Pick<Heatmap, 'values' | 'colour'> {
  if (output === 'mfcc') {
    const largest = Math.max(1e-6, values.reduce((m, v) => Math.max(m, Math.abs(v)), 0));
    const ticks = niceTicks(-largest, largest, 5).filter((v) => Math.abs(v) <= largest).map((v) => ({ at: v, label: `${v}` }));
    return { values: Float64Array.from(values), colour: { title: 'coefficient', lo: -largest, hi: largest, ticks } };
  }
  const level = toDecibels(values, output);
  const loudest = level.reduce((m, v) => Math.max(m, v), -Infinity);
  for (let i = 0; i < level.length; i++) level[i] = level[i]! - loudest;
  const ticks = niceTicks(-DYNAMIC_RANGE_DB, 0, 5).map((db) => ({ at: db, label: `${db >= 0 ? '+' : ''}${db} dB` }));
  return { values: level, colour: { title: 'dB below the loudest', lo: -DYNAMIC_RANGE_DB, hi: 0, ticks } };
}
