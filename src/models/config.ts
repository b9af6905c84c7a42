// The paper's model families by name: TASR_{L}L_{k}T-{H}H / TASR_{L}L_NT-{H}H (Mini Speech Commands: 8 classes,
// MBConv stem, patch 8) and TESC_... (ESC-50: 50 classes, patch 6, no MBConv), with options beyond the paper, and
// where TokenLearner and TokenFuser run in a configuration (decided once, as a plan).
import { PAPER_SPECTROGRAM, SPECTRUM_OUTPUTS, spectrogramShape, WINDOWS, type SpectrogramConfig } from '../audio/spectrogram.js';
import { TokenwaveError } from '../util/errors.js';

export type Family = 'TASR' | 'TESC';
export type TokenLearnerVersion = 'v1' | 'v1.1';

export interface ModelConfig {
  name: string;
  family: Family;
  blocks: number;
  heads: number;
  /** Learned tokens; 0 = no TokenLearner (NT). */
  tokens: number;
  classes: number;
  tokenLearnerVersion: TokenLearnerVersion;
  /** Block before which TokenLearner runs (0: on the patch grid, the paper's choice). */
  tokenLearnerAt: number;
  /** Wrap every block from tokenLearnerAt on as TokenLearner -> block -> TokenFuser (back to every position). */
  tokenFuser: boolean;
  imageSize: number;
  patch: number;
  width: number;
  keyDim: number;
  mlp: number[];
  dropout: number;
  mbconvBlocks: number;
  mbconvExpanded: number;
  mbconvChannels: number;
  /**
   * How much of the BatchNorms' running statistics each training step keeps (Keras' 0.99, the paper's: a time
   * constant of 100 steps, which a run of a few hundred steps leaves far from the data's statistics).
   */
  batchNormMomentum: number;
  /** Samples per clip (zero-padded or truncated): 1 s at 16 kHz for speech, 80,000 for ESC-50 (the paper's). */
  clipSamples: number;
  spectrogram: SpectrogramConfig;
  /** The Normalization layer's statistics, adapted on the training set. */
  normalization: { mean: number; variance: number };
  classNames: string[];
  seed: number;
}

export class ModelConfigError extends TokenwaveError {
  override name = 'ModelConfigError';
}

/**
 * Each family's protocol in the paper: its data set (clips in all, before the split), batch size, epochs, the
 * learning-rate warm-up before its schedule (TESC's: from 1e-6 over 4 epochs), and the top-k accuracies it reports.
 */
export const PAPER_PROTOCOL: Record<Family, { dataSet: string; clips: number; batchSize: number; epochs: number; warmup?: { warmupStart: number; warmupEpochs: number }; topK: number[] }> = {
  TASR: { dataSet: 'Mini Speech Commands', clips: 8000, batchSize: 64, epochs: 20, topK: [3] },
  TESC: { dataSet: 'ESC-50', clips: 2000, batchSize: 32, epochs: 20, warmup: { warmupStart: 1e-6, warmupEpochs: 4 }, topK: [3, 5] },
};

const NAME = /^(TASR|TESC)_(\d+)L_(\d+T|NT)-(\d+)H$/;

export const EXAMPLE_NAMES = ['TASR_4L_NT-8H', 'TASR_4L_8T-8H', 'TASR_8L_8T-12H', 'TESC_4L_NT-8H', 'TESC_4L_8T-8H'];

const OPTION_KEYS = [
  'classes', 'tokenLearnerVersion', 'tokenLearnerAt', 'tokenFuser', 'patch', 'width', 'keyDim', 'mlp', 'dropout',
  'mbconvBlocks', 'mbconvExpanded', 'mbconvChannels', 'batchNormMomentum', 'clipSamples', 'spectrogram', 'normalization', 'classNames', 'seed',
] as const;
/** Options beyond the name; the object-valued ones (spectrogram, normalization) may give some fields only. */
export type ModelOptions = Partial<Omit<Pick<ModelConfig, (typeof OPTION_KEYS)[number]>, 'spectrogram' | 'normalization'>> & {
  spectrogram?: Partial<SpectrogramConfig>;
  normalization?: Partial<ModelConfig['normalization']>;
};

/** Options whose value is an object: given fields replace the defaults' one by one. */
const NESTED = ['spectrogram', 'normalization'] as const;

const LIMITS = { blocks: 64, heads: 64, tokens: 1024 };

/** The configuration a model name (plus options) stands for; errors name the option and say what is valid. */
export function modelConfig(name: string, options: ModelOptions = {}): ModelConfig {
  const match = NAME.exec(name);
  if (!match) {
    throw new ModelConfigError(
      `unknown model name '${name}'. Names are TASR_{L}L_{k}T-{H}H or TASR_{L}L_NT-{H}H (speech) and TESC_... (ESC-50), ` +
        `e.g. ${EXAMPLE_NAMES.join(', ')}`,
    );
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new ModelConfigError(`model options must be an object, got ${JSON.stringify(options)}`);
  for (const key of Object.keys(options)) {
    if (!(OPTION_KEYS as readonly string[]).includes(key)) {
      throw new ModelConfigError(`unknown model option '${key}'. Valid options: ${OPTION_KEYS.join(', ')}`);
    }
  }
  const family = match[1] as Family;
  const speech = family === 'TASR';
  const [blocks, tokens, heads] = [Number(match[2]), match[3] === 'NT' ? 0 : Number(match[3]!.slice(0, -1)), Number(match[4])];
  const bounded = (what: string, value: number, least: number, most: number) => {
    if (value < least || value > most) throw new ModelConfigError(`${name}: ${what} must be from ${least} to ${most}, got ${value}`);
  };
  bounded('the number of blocks (L)', blocks, 1, LIMITS.blocks);
  bounded('the number of heads (H)', heads, 1, LIMITS.heads);
  if (match[3] !== 'NT') {
    if (tokens === 0) throw new ModelConfigError(`${name}: 0 learned tokens is no TokenLearner at all; for a model without one write NT (${family}_${blocks}L_NT-${heads}H)`);
    bounded('the number of learned tokens (kT)', tokens, 1, LIMITS.tokens);
  }
  const defaults: ModelConfig = {
    name,
    family,
    blocks,
    tokens,
    heads,
    classes: speech ? 8 : 50,
    tokenLearnerVersion: 'v1',
    tokenLearnerAt: 0,
    tokenFuser: false,
    imageSize: 64,
    patch: speech ? 8 : 6,
    width: 128,
    keyDim: 128,
    mlp: [256, 128],
    dropout: 0.1,
    mbconvBlocks: speech ? 1 : 0,
    mbconvExpanded: 64,
    mbconvChannels: 16,
    batchNormMomentum: 0.99,
    // The paper cuts clips to 16,000 samples (1 s of speech at 16 kHz) and 80,000 (the first 1.81 s of an ESC-50
    // clip at its own 44.1 kHz: no resampling).
    clipSamples: speech ? 16000 : 80000,
    spectrogram: { ...PAPER_SPECTROGRAM, sampleRate: speech ? 16000 : 44100 },
    normalization: { mean: 0, variance: 1 },
    classNames: [],
    seed: 0,
  };
  const config = { ...defaults, ...options } as ModelConfig;
  for (const key of NESTED) {
    const given = options[key] as Record<string, unknown> | undefined;
    if (given === undefined) continue;
    if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new ModelConfigError(`${name}: model option '${key}' must be an object, got ${JSON.stringify(given)}`);
    const known = Object.keys(defaults[key]);
    const unknown = Object.keys(given).find((k) => !known.includes(k));
    if (unknown !== undefined) throw new ModelConfigError(`${name}: unknown ${key} option '${unknown}'. Valid: ${known.join(', ')}`);
    (config as unknown as Record<string, unknown>)[key] = { ...defaults[key], ...given };
  }
  validate(config);
  return config;
}

function validate(c: ModelConfig): void {
  const fail = (message: string) => {
    throw new ModelConfigError(`${c.name}: ${message}`);
  };
  const integer = (key: string, value: unknown, least: number, most: number) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < least || value > most) fail(`${key} must be an integer from ${least} to ${most}, got ${JSON.stringify(value)}`);
  };
  const boolean = (key: string, value: unknown) => {
    if (typeof value !== 'boolean') fail(`${key} must be true or false, got ${JSON.stringify(value)}`);
  };
  const fraction = (key: string, value: unknown) => {
    if (typeof value !== 'number' || !(value >= 0 && value < 1)) fail(`${key} must be a number in [0, 1), got ${JSON.stringify(value)}`);
  };
  const oneOf = (key: string, value: unknown, valid: readonly string[]) => {
    if (!valid.includes(value as string)) fail(`${key} must be one of ${valid.join(', ')}, got ${JSON.stringify(value)}`);
  };
  integer('classes', c.classes, 2, 100_000);
  if (!Array.isArray(c.classNames) || c.classNames.some((n) => typeof n !== 'string')) fail(`classNames must be a list of strings, got ${JSON.stringify(c.classNames)}`);
  if (c.classNames.length > 0 && c.classNames.length !== c.classes) fail(`${c.classNames.length} class names for ${c.classes} classes`);
  oneOf('tokenLearnerVersion', c.tokenLearnerVersion, ['v1', 'v1.1']);
  integer('tokenLearnerAt', c.tokenLearnerAt, 0, c.blocks - 1);
  boolean('tokenFuser', c.tokenFuser);
  if (c.tokenFuser && c.tokens === 0) fail('tokenFuser needs TokenLearner (a kT name)');
  integer('patch', c.patch, 1, c.imageSize);
  integer('width', c.width, 1, 4096);
  integer('keyDim', c.keyDim, 1, 4096);
  if (!Array.isArray(c.mlp) || c.mlp.length === 0 || c.mlp.length > 16) fail(`mlp must be a list of 1 to 16 layer sizes, got ${JSON.stringify(c.mlp)}`);
  c.mlp.forEach((n, i) => integer(`mlp[${i}]`, n, 1, 65_536));
  if (c.mlp.at(-1) !== c.width) fail(`the last MLP size must equal the width ${c.width}, got [${c.mlp.join(', ')}]`);
  fraction('dropout', c.dropout);
  integer('mbconvBlocks', c.mbconvBlocks, 0, 16);
  integer('mbconvExpanded', c.mbconvExpanded, 1, 4096);
  integer('mbconvChannels', c.mbconvChannels, 1, 4096);
  fraction('batchNormMomentum', c.batchNormMomentum);
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
  boolean('spectrogram.padEnd', sp.padEnd);
  integer('clipSamples', c.clipSamples, sp.frameLength, 600 * sp.sampleRate);
  const n = c.normalization;
  if (typeof n.mean !== 'number' || !Number.isFinite(n.mean)) fail(`normalization.mean must be a finite number, got ${JSON.stringify(n.mean)}`);
  if (typeof n.variance !== 'number' || !Number.isFinite(n.variance) || n.variance < 0) fail(`normalization.variance must be a finite number >= 0, got ${JSON.stringify(n.variance)}`);
}

/** The shape of a batch of the model's input: [batch, frames, bins] spectrograms. */
export function inputShape(c: ModelConfig, batch: number): [number, number, number] {
  const [frames, bins] = spectrogramShape(c.clipSamples, c.spectrogram);
  return [batch, frames, bins];
}

/** Side of the patch grid: floor((64 - P) / P) + 1 (TASR: 8, TESC: 10). */
export function gridSide(c: ModelConfig): number {
  return Math.floor((c.imageSize - c.patch) / c.patch) + 1;
}

/** Where TokenLearner (and TokenFuser) run in a configuration. */
export interface TokenPlan {
  /** TokenLearners the model has (0: NT). */
  learners: number;
  /** The (only) TokenLearner runs on the patch grid, before the positional embedding: the paper's placement. */
  onGrid: boolean;
  /** Tokens the positional embedding covers: k when TokenLearner runs on the grid, else every patch. */
  positions: number;
  /** Per transformer block: the TokenLearner that runs before it and the TokenFuser after it (their indices). */
  blocks: { learner?: number; fuser?: number }[];
}

export function tokenPlan(c: ModelConfig): TokenPlan {
  const patches = gridSide(c) ** 2;
  const blocks = Array.from({ length: c.blocks }, (): TokenPlan['blocks'][number] => ({}));
  if (c.tokens === 0) return { learners: 0, onGrid: false, positions: patches, blocks };
  if (c.tokenFuser) {
    for (let i = c.tokenLearnerAt; i < c.blocks; i++) blocks[i] = { learner: i - c.tokenLearnerAt, fuser: i - c.tokenLearnerAt };
    return { learners: c.blocks - c.tokenLearnerAt, onGrid: false, positions: patches, blocks };
  }
  if (c.tokenLearnerAt === 0) return { learners: 1, onGrid: true, positions: c.tokens, blocks };
  blocks[c.tokenLearnerAt] = { learner: 0 };
  return { learners: 1, onGrid: false, positions: patches, blocks };
}

