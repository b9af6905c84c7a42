// The paper's model families by name: TASR_{L}L_{k}T-{H}H / TASR_{L}L_NT-{H}H (Mini Speech Commands: 8 classes,
// MBConv stem, patch 8) and TESC_... (ESC-50: 50 classes, patch 6, no MBConv), with options beyond the paper, and
// where TokenLearner and TokenFuser run in a configuration (decided once, as a plan).
import { PAPER_SPECTROGRAM, type SpectrogramConfig } from '../audio/spectrogram.js';
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

const NAME = /^(TASR|TESC)_(\d+)L_(\d+T|NT)-(\d+)H$/;

export const EXAMPLE_NAMES = ['TASR_4L_NT-8H', 'TASR_4L_8T-8H', 'TASR_8L_8T-12H', 'TESC_4L_NT-8H', 'TESC_4L_8T-8H'];

const OPTION_KEYS = [
  'classes', 'tokenLearnerVersion', 'tokenLearnerAt', 'tokenFuser', 'patch', 'width', 'keyDim', 'mlp', 'dropout',
  'mbconvBlocks', 'mbconvExpanded', 'mbconvChannels', 'clipSamples', 'spectrogram', 'normalization', 'classNames', 'seed',
] as const;
export type ModelOptions = Partial<Pick<ModelConfig, (typeof OPTION_KEYS)[number]>>;

/** The configuration a model name (plus options) stands for; errors list what is valid. */
export function modelConfig(name: string, options: ModelOptions = {}): ModelConfig {
  const match = NAME.exec(name);
  if (!match) {
    throw new ModelConfigError(
      `unknown model name '${name}'. Names are TASR_{L}L_{k}T-{H}H or TASR_{L}L_NT-{H}H (speech) and TESC_... (ESC-50), ` +
        `e.g. ${EXAMPLE_NAMES.join(', ')}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!(OPTION_KEYS as readonly string[]).includes(key)) {
      throw new ModelConfigError(`unknown model option '${key}'. Valid options: ${OPTION_KEYS.join(', ')}`);
    }
  }
  const family = match[1] as Family;
  const speech = family === 'TASR';
  const config: ModelConfig = {
    name,
    family,
    blocks: Number(match[2]),
    tokens: match[3] === 'NT' ? 0 : Number(match[3]!.slice(0, -1)),
    heads: Number(match[4]),
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
    clipSamples: speech ? 16000 : 80000,
    spectrogram: PAPER_SPECTROGRAM,
    normalization: { mean: 0, variance: 1 },
    classNames: [],
    seed: 0,
    ...options,
  };
  validate(config);
  return config;
}

function validate(c: ModelConfig): void {
  const fail = (message: string) => {
    throw new ModelConfigError(`${c.name}: ${message}`);
  };
  if (c.blocks < 1) fail('needs at least one transformer block');
  if (c.heads < 1) fail('needs at least one attention head');
  if (!Number.isInteger(c.classes) || c.classes < 2) fail(`classes must be an integer >= 2, got ${c.classes}`);
  if (c.classNames.length > 0 && c.classNames.length !== c.classes) fail(`${c.classNames.length} class names for ${c.classes} classes`);
  if (!['v1', 'v1.1'].includes(c.tokenLearnerVersion)) fail(`tokenLearnerVersion must be 'v1' or 'v1.1', got '${c.tokenLearnerVersion}'`);
  if (c.tokens > 0 && (c.tokenLearnerAt < 0 || c.tokenLearnerAt >= c.blocks)) {
    fail(`tokenLearnerAt must be a block index from 0 to ${c.blocks - 1}, got ${c.tokenLearnerAt}`);
  }
  if (c.tokenFuser && c.tokens === 0) fail('tokenFuser needs TokenLearner (a kT name)');
  if (c.patch < 1 || c.patch > c.imageSize) fail(`patch must be between 1 and ${c.imageSize}, got ${c.patch}`);
  if (c.mlp.length === 0 || c.mlp.at(-1) !== c.width) fail(`the last MLP size must equal the width ${c.width}, got [${c.mlp.join(', ')}]`);
  if (c.dropout < 0 || c.dropout >= 1) fail(`dropout must be in [0, 1), got ${c.dropout}`);
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

