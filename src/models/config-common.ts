// What every model family's configuration shares (its input: clip length, front end, normalisation; its classes;
// its seed), the checks on it, and how options given beside a name are merged into a family's defaults.
import { SPECTRUM_OUTPUTS, WINDOWS, type SpectrogramConfig } from '../audio/spectrogram.js';
import { TokenwaveError } from '../util/errors.js';

export class ModelConfigError extends TokenwaveError {
  override name = 'ModelConfigError';
}

/** The most learned tokens a TokenLearner may make, in any family. */
export const MAX_LEARNED_TOKENS = 1024;

export interface CommonConfig {
  name: string;
  classes: number;
  dropout: number;
  /** Samples per clip (zero-padded or truncated). */
  clipSamples: number;
  spectrogram: SpectrogramConfig;
  /** The Normalization layer's statistics, adapted on the training set. */
  normalization: { mean: number; variance: number };
  classNames: string[];
  seed: number;
}

/**
 * A family's protocol: its data set (clips in all, before the split), batch size, epochs, learning-rate schedule
 * (its peak rate where the schedule's own default is not the family's) and warm-up, and the top-k accuracies it
 * reports. Declared once with the family; train, sweep, demo and tune read it from there.
 */
export interface Protocol {
  dataSet: string;
  clips: number;
  batchSize: number;
  epochs: number;
  schedule: 'paper' | 'cosine';
  lr?: number;
  warmup?: { warmupStart: number; warmupEpochs: number };
  topK: number[];
}

/** Options whose value is an object: given fields replace the defaults' one by one. */
const NESTED = ['spectrogram', 'normalization'] as const;

/**
 * A family's defaults with `options` merged in: only `optionKeys` may be given (else an error naming the valid
 * ones), and the object-valued options (spectrogram, normalization) may give some fields only.
 */
export function withOptions<C extends CommonConfig>(defaults: C, options: object, optionKeys: readonly string[]): C {
  const name = defaults.name;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new ModelConfigError(`model options must be an object, got ${JSON.stringify(options)}`);
  for (const key of Object.keys(options)) {
    if (!optionKeys.includes(key)) throw new ModelConfigError(`unknown model option '${key}'. Valid options: ${optionKeys.join(', ')}`);
  }
  const config = { ...defaults, ...options } as C;
  for (const key of NESTED) {
    const given = (options as Record<string, unknown>)[key];
    if (given === undefined) continue;
    if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new ModelConfigError(`${name}: model option '${key}' must be an object, got ${JSON.stringify(given)}`);
    const known = Object.keys(defaults[key]);
    const unknown = Object.keys(given).find((k) => !known.includes(k));
    if (unknown !== undefined) throw new ModelConfigError(`${name}: unknown ${key} option '${unknown}'. Valid: ${known.join(', ')}`);
    (config as Record<string, unknown>)[key] = { ...defaults[key], ...given };
  }
  return config;
}

/** Checks on a configuration's values, each failing with the configuration's name and what is valid. */
export function checks(name: string) {
  const fail = (message: string): never => {
    throw new ModelConfigError(`${name}: ${message}`);
  };
  return {
    fail,
    integer(key: string, value: unknown, least: number, most: number) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < least || value > most) fail(`${key} must be an integer from ${least} to ${most}, got ${JSON.stringify(value)}`);
    },
    boolean(key: string, value: unknown) {
      if (typeof value !== 'boolean') fail(`${key} must be true or false, got ${JSON.stringify(value)}`);
    },
    fraction(key: string, value: unknown) {
      if (typeof value !== 'number' || !(value >= 0 && value < 1)) fail(`${key} must be a number in [0, 1), got ${JSON.stringify(value)}`);
    },
    oneOf(key: string, value: unknown, valid: readonly string[]) {
      if (!valid.includes(value as string)) fail(`${key} must be one of ${valid.join(', ')}, got ${JSON.stringify(value)}`);
    },
  };
}

/** The checks every family's configuration passes: classes, dropout, seed, front end, clip length, normalisation. */
export function validateCommon(c: CommonConfig): void {
  const { fail, integer, boolean, fraction, oneOf } = checks(c.name);
  integer('classes', c.classes, 2, 100_000);
  if (!Array.isArray(c.classNames) || c.classNames.some((n) => typeof n !== 'string')) fail(`classNames must be a list of strings, got ${JSON.stringify(c.classNames)}`);
  if (c.classNames.length > 0 && c.classNames.length !== c.classes) fail(`${c.classNames.length} class names for ${c.classes} classes`);
  fraction('dropout', c.dropout);
  integer('seed', c.seed, 0, 2 ** 32 - 1);
  const sp = c.spectrogram;
  integer('spectrogram.sampleRate', sp.sampleRate, 1000, 384_000);
  integer('spectrogram.fftLength', sp.fftLength, 2, 65_536);
  if ((sp.fftLength & (sp.fftLength - 1)) !== 0) fail(`spectrogram.fftLength must be a power of two, got ${sp.fftLength}`);
  integer('spectrogram.frameLength', sp.frameLength, 1, sp.fftLength);
  integer('spectrogram.hop', sp.hop, 1, 65_536);
  oneOf('spectrogram.window', sp.window, WINDOWS);
  oneOf('spectrogram.output', sp.output, SPECTRUM_OUTPUTS);
  integer('spectrogram.melBins', sp.melBins, 1, sp.fftLength / 2 + 1);
  integer('spectrogram.mfccs', sp.mfccs, 1, sp.melBins);
  boolean('spectrogram.padEnd', sp.padEnd);
  integer('clipSamples', c.clipSamples, sp.frameLength, 600 * sp.sampleRate);
  const n = c.normalization;
  if (typeof n.mean !== 'number' || !Number.isFinite(n.mean)) fail(`normalization.mean must be a finite number, got ${JSON.stringify(n.mean)}`);
  if (typeof n.variance !== 'number' || !Number.isFinite(n.variance) || n.variance < 0) fail(`normalization.variance must be a finite number >= 0, got ${JSON.stringify(n.variance)}`);
}
