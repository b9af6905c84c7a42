// The Keyword Transformer (Berg, O'Connor and Cruz 2021, "Keyword Transformer: A Self-Attention Model for Keyword
// Spotting") by name: KWT-1, KWT-2, KWT-3 as published, and with TokenLearner over the time axis:
// KWT-{n}_{k}T (k learned tokens before the first block) or KWT-{n}_{k}T@{i} (before block i).
import { PAPER_SPECTROGRAM } from '../audio/spectrogram.js';
import { checks, MAX_LEARNED_TOKENS, ModelConfigError, validateCommon, withOptions, type CommonConfig, type Protocol } from './config-common.js';
import type { TokenLearnerVersion } from './audio-transformer-config.js';

export interface KwtConfig extends CommonConfig {
  family: 'KWT';
  /** 1, 2 or 3: the published sizes. */
  size: number;
  blocks: number;
  width: number;
  heads: number;
  /** Width of each head (KWT's dim_head: 64 in every published size). */
  headDim: number;
  /** The MLP's hidden width. */
  mlp: number;
  /** Learned tokens; 0 = no TokenLearner. */
  tokens: number;
  /** Block before which TokenLearner runs (0: on the projected frames). */
  tokenLearnerAt: number;
  /** 'v1.1': weights from a per-frame MLP, a softmax over time; 'v1': TokenLearner v1's convolutions in 1-D (kernel 3 over time), a sigmoid. */
  tokenLearnerVersion: TokenLearnerVersion;
}

/** The published sizes: width, heads, MLP width (12 blocks each), and their parameter counts as published (about 607 K, 2.4 M, 5.4 M with 35 classes). */
export const KWT_SIZES: Record<number, { width: number; heads: number; mlp: number; publishedParameters: number }> = {
  1: { width: 64, heads: 1, mlp: 256, publishedParameters: 607_000 },
  2: { width: 128, heads: 2, mlp: 512, publishedParameters: 2_400_000 },
  3: { width: 192, heads: 3, mlp: 768, publishedParameters: 5_400_000 },
};

/**
 * KWT on Mini Speech Commands here: TASR's data, batch, epochs and top-k, and KWT's own cosine decay (its paper:
 * AdamW at 1e-3 for batch 512, cosine over 140 epochs on the full Speech Commands). The peak 2e-4 is that rate
 * scaled to batch 64 between the linear (1.25e-4) and square-root (3.5e-4) rules; the paper's TASR schedule
 * (9.6e-4 at batch 64) leaves the post-LN KWT-1 at chance on synthetic speech, where 2e-4 learns.
 */
export const KWT_PROTOCOL: Protocol = { dataSet: 'Mini Speech Commands', clips: 8000, batchSize: 64, epochs: 20, schedule: 'cosine', lr: 2e-4, topK: [3] };

export const KWT_NAME = /^KWT-(\d+)(?:_(\d+)T(?:@(\d+))?)?$/;

export const KWT_EXAMPLES = ['KWT-1', 'KWT-1_8T', 'KWT-1_8T@6', 'KWT-2', 'KWT-3'];

export const KWT_OPTION_KEYS = ['classes', 'tokenLearnerVersion', 'dropout', 'clipSamples', 'spectrogram', 'normalization', 'classNames', 'seed'] as const;

/** The fields a KWT name stands for (not saved as options). */
export const KWT_NAME_FIELDS = ['family', 'size', 'blocks', 'width', 'heads', 'headDim', 'mlp', 'tokens', 'tokenLearnerAt'] as const;

/**
 * KWT's front end: 40 MFCCs (of 40 mel bands) from 30 ms frames every 10 ms of a 1 s clip at 16 kHz: 98 frames,
 * each a token.
 */
export const KWT_SPECTROGRAM = { ...PAPER_SPECTROGRAM, frameLength: 480, hop: 160, fftLength: 512, window: 'hann-periodic', output: 'mfcc', melBins: 40, mfccs: 40, sampleRate: 16000 } as const;

export function kwtConfig(name: string, options: object = {}): KwtConfig {
  const match = KWT_NAME.exec(name);
  if (!match) throw new ModelConfigError(`'${name}' is not a KWT name`);
  const size = Number(match[1]);
  const dims = KWT_SIZES[size];
  if (!dims) throw new ModelConfigError(`${name}: KWT comes in sizes 1, 2 and 3 (KWT-1, KWT-2, KWT-3), got ${size}`);
  const tokens = match[2] === undefined ? 0 : Number(match[2]);
  const tokenLearnerAt = match[3] === undefined ? 0 : Number(match[3]);
  const defaults: KwtConfig = {
    name,
    family: 'KWT',
    size,
    blocks: 12,
    width: dims.width,
    heads: dims.heads,
    headDim: 64,
    mlp: dims.mlp,
    tokens,
    tokenLearnerAt,
    tokenLearnerVersion: 'v1.1',
    classes: 8,
    // KWT trained without dropout (regularised by augmentation instead).
    dropout: 0,
    clipSamples: 16000,
    spectrogram: { ...KWT_SPECTROGRAM },
    normalization: { mean: 0, variance: 1 },
    classNames: [],
    seed: 0,
  };
  const config = withOptions(defaults, options, KWT_OPTION_KEYS);
  validateCommon(config);
  const { fail, integer, oneOf } = checks(name);
  if (match[2] !== undefined) integer('the number of learned tokens (kT)', tokens, 1, MAX_LEARNED_TOKENS);
  integer('the block TokenLearner runs before (@i)', tokenLearnerAt, 0, config.blocks - 1);
  oneOf('tokenLearnerVersion', config.tokenLearnerVersion, ['v1', 'v1.1']);
  if (config.spectrogram.output === 'magnitude' || config.spectrogram.output === 'power') {
    fail(`KWT takes MFCCs or log-mel frames as tokens; spectrogram.output '${config.spectrogram.output}' would make tokens of ${config.spectrogram.fftLength / 2 + 1} linear bins (set "output": "mfcc" or "logmel")`);
  }
  return config;
}
