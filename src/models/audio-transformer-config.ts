// The paper's model families by name: TASR_{L}L_{k}T-{H}H / TASR_{L}L_NT-{H}H (Mini Speech Commands: 8 classes,
// MBConv stem, patch 8) and TESC_... (ESC-50: 50 classes, patch 6, no MBConv), with options beyond the paper, and
// where TokenLearner and TokenFuser run in a configuration (decided once, as a plan).
import { PAPER_SPECTROGRAM } from '../audio/spectrogram.js';
import { checks, MAX_LEARNED_TOKENS, ModelConfigError, validateCommon, withOptions, type CommonConfig, type Protocol } from './config-common.js';

export type TokenLearnerVersion = 'v1' | 'v1.1';

export interface TransformerConfig extends CommonConfig {
  family: 'TASR' | 'TESC';
  blocks: number;
  heads: number;
  /** Learned tokens; 0 = no TokenLearner (NT). */
  tokens: number;
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
  mbconvBlocks: number;
  mbconvExpanded: number;
  mbconvChannels: number;
  /**
   * How much of the BatchNorms' running statistics each training step keeps (Keras' 0.99, the paper's: a time
   * constant of 100 steps, which a run of a few hundred steps leaves far from the data's statistics).
   */
  batchNormMomentum: number;
}

/** Each family's protocol in the paper (TESC's warm-up: from 1e-6 over 4 epochs). */
export const TRANSFORMER_PROTOCOL: Record<TransformerConfig['family'], Protocol> = {
  TASR: { dataSet: 'Mini Speech Commands', clips: 8000, batchSize: 64, epochs: 20, schedule: 'paper', topK: [3] },
  TESC: { dataSet: 'ESC-50', clips: 2000, batchSize: 32, epochs: 20, schedule: 'paper', warmup: { warmupStart: 1e-6, warmupEpochs: 4 }, topK: [3, 5] },
};

export const TRANSFORMER_NAME = /^(TASR|TESC)_(\d+)L_(\d+T|NT)-(\d+)H$/;

export const TRANSFORMER_EXAMPLES = ['TASR_4L_NT-8H', 'TASR_4L_8T-8H', 'TASR_8L_8T-12H', 'TESC_4L_NT-8H', 'TESC_4L_8T-8H'];

export const TRANSFORMER_OPTION_KEYS = [
  'classes', 'tokenLearnerVersion', 'tokenLearnerAt', 'tokenFuser', 'patch', 'width', 'keyDim', 'mlp', 'dropout',
  'mbconvBlocks', 'mbconvExpanded', 'mbconvChannels', 'batchNormMomentum', 'clipSamples', 'spectrogram', 'normalization', 'classNames', 'seed',
] as const;

/** The fields a TASR/TESC name stands for (not saved as options). */
export const TRANSFORMER_NAME_FIELDS = ['family', 'blocks', 'heads', 'tokens', 'imageSize'] as const;

const LIMITS = { blocks: 64, heads: 64, tokens: MAX_LEARNED_TOKENS };

/** The configuration a TASR/TESC name (plus options) stands for; errors name the option and say what is valid. */
export function transformerConfig(name: string, options: object = {}): TransformerConfig {
  const match = TRANSFORMER_NAME.exec(name);
  if (!match) throw new ModelConfigError(`'${name}' is not a TASR/TESC name`);
  const family = match[1] as TransformerConfig['family'];
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
  const defaults: TransformerConfig = {
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
  const config = withOptions(defaults, options, TRANSFORMER_OPTION_KEYS);
  validate(config);
  return config;
}

function validate(c: TransformerConfig): void {
  validateCommon(c);
  const { fail, integer, boolean, fraction, oneOf } = checks(c.name);
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
  integer('mbconvBlocks', c.mbconvBlocks, 0, 16);
  integer('mbconvExpanded', c.mbconvExpanded, 1, 4096);
  integer('mbconvChannels', c.mbconvChannels, 1, 4096);
  fraction('batchNormMomentum', c.batchNormMomentum);
}

/** Side of the patch grid: floor((64 - P) / P) + 1 (TASR: 8, TESC: 10). */
export function gridSide(c: TransformerConfig): number {
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

export function tokenPlan(c: TransformerConfig): TokenPlan {
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

