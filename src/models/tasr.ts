// The paper's model families by name: TASR_{L}L_{k}T-{H}H / TASR_{L}L_NT-{H}H (Mini Speech Commands: 8 classes,
// MBConv stem, patch 8) and TESC_... (ESC-50: 50 classes, patch 6, no MBConv), with options beyond the paper.
import { normalize, resizeSpectrograms, PAPER_SPECTROGRAM, type SpectrogramConfig } from '../audio/spectrogram.js';
import { recordTf } from '../flops/tf-ops.js';
import { reshape } from '../ops/layout.js';
import { ClassifierHead, MBConv, PositionalEmbedding, TokenFuser, TokenLearnerV1, TokenLearnerV11, TransformerBlock } from '../nn/blocks.js';
import { Conv2d, dropoutLayer } from '../nn/layers.js';
import { Module, type ForwardContext } from '../nn/module.js';
import { withPath } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { seededRandom } from '../util/random.js';

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

export class ModelConfigError extends Error {
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

function gridSide(c: ModelConfig): number {
  return Math.floor((c.imageSize - c.patch) / c.patch) + 1;
}

export class AudioTransformer extends Module {
  private readonly stem: MBConv[];
  private readonly patchEmbed: Conv2d;
  private readonly tokenLearners: (TokenLearnerV1 | TokenLearnerV11)[] = [];
  private readonly fusers: TokenFuser[] = [];
  private readonly position: PositionalEmbedding;
  private readonly blocks: TransformerBlock[];
  private readonly head: ClassifierHead;
  readonly grid: number;

  constructor(readonly config: ModelConfig) {
    super();
    const c = config;
    const random = seededRandom(c.seed);
    this.stem = Array.from({ length: c.mbconvBlocks }, (_, i) =>
      this.child(`mbconv${i}`, new MBConv(i === 0 ? 1 : c.mbconvChannels, c.mbconvExpanded, c.mbconvChannels, random)),
    );
    const channels = c.mbconvBlocks > 0 ? c.mbconvChannels : 1;
    this.patchEmbed = this.child('patch_embed', new Conv2d(channels, c.width, c.patch, random, { stride: c.patch }));
    this.grid = gridSide(c);
    const learners = c.tokens === 0 ? 0 : c.tokenFuser ? c.blocks - c.tokenLearnerAt : 1;
    for (let i = 0; i < learners; i++) {
      const name = learners === 1 ? 'token_learner' : `token_learner${i}`;
      const tl = c.tokenLearnerVersion === 'v1' ? new TokenLearnerV1(c.width, c.tokens, random) : new TokenLearnerV11(c.width, c.tokens, random);
      this.tokenLearners.push(this.child(name, tl));
      if (c.tokenFuser) this.fusers.push(this.child(`token_fuser${i}`, new TokenFuser(c.width, c.tokens, random)));
    }
    const startTokens = c.tokens > 0 && c.tokenLearnerAt === 0 && !c.tokenFuser ? c.tokens : this.grid * this.grid;
    this.position = this.child('position', new PositionalEmbedding(startTokens, c.width, random));
    const block = { width: c.width, heads: c.heads, keyDim: c.keyDim, mlp: c.mlp, dropout: c.dropout };
    this.blocks = Array.from({ length: c.blocks }, (_, i) => this.child(`blocks.${i}`, new TransformerBlock(block, random)));
    this.head = this.child('head', new ClassifierHead(c.width, c.classes, random));
  }

  /** Spectrograms [B, frames, bins] -> resized, normalised images [B, S, S, 1] (the model's first layers). */
  preprocess(spectrograms: Tensor): Tensor {
    return withPath('preprocess', () => {
      const [B] = spectrograms.shape as [number];
      const size = this.config.imageSize;
      recordTf('ZeroCost', 'resize', B * size * size);
      const resized = resizeSpectrograms(spectrograms, size, size);
      // Keras' Normalization: Sub and RealDiv per pixel, Maximum on the scalar standard deviation.
      recordTf('Sub', 'normalize: subtract mean', resized.size);
      recordTf('Maximum', 'normalize: floor the deviation', 1);
      recordTf('RealDiv', 'normalize: divide', resized.size);
      const { mean, variance } = this.config.normalization;
      return reshape(normalize(resized, mean, variance), [B, size, size, 1]);
    });
  }

  private learn(i: number, x: Tensor, ctx: ForwardContext): Tensor {
    const tl = this.tokenLearners[i]!;
    const name = this.tokenLearners.length === 1 ? 'token_learner' : `token_learner${i}`;
    if (tl instanceof TokenLearnerV1 && x.rank === 3) {
      const [B, T, C] = x.shape as [number, number, number];
      const side = Math.round(Math.sqrt(T));
      if (side * side !== T) throw new ModelConfigError(`TokenLearner v1 needs a square grid of tokens, got ${T}: use v1.1`);
      x = reshape(x, [B, side, side, C]);
    }
    if (tl instanceof TokenLearnerV11 && x.rank === 4) {
      const [B, H, W, C] = x.shape as [number, number, number, number];
      x = reshape(x, [B, H * W, C]);
    }
    return tl.call(name, x, ctx);
  }

  /** Spectrograms [B, frames, bins] -> logits [B, classes]. */
  forward(spectrograms: Tensor, ctx: ForwardContext): Tensor {
    const c = this.config;
    let x = this.preprocess(spectrograms);
    this.stem.forEach((block, i) => (x = block.call(`mbconv${i}`, x, ctx)));
    x = this.patchEmbed.call('patch_embed', x, ctx); // [B, G, G, C]
    const [B] = x.shape as [number];
    if (c.tokens > 0 && c.tokenLearnerAt === 0 && !c.tokenFuser) x = this.learn(0, x, ctx);
    else x = reshape(x, [B, this.grid * this.grid, c.width]);
    x = dropoutLayer(this.position.call('position', x, ctx), c.dropout, ctx);
    this.blocks.forEach((block, i) => {
      const name = `blocks.${i}`;
      if (c.tokens > 0 && c.tokenFuser && i >= c.tokenLearnerAt) {
        const k = i - c.tokenLearnerAt;
        const tokens = block.call(name, this.learn(k, x, ctx), ctx);
        const original = x;
        x = withPath(`token_fuser${k}`, () => this.fusers[k]!.fuse(tokens, original, ctx));
        return;
      }
      if (c.tokens > 0 && !c.tokenFuser && i === c.tokenLearnerAt && i > 0) x = this.learn(0, x, ctx);
      x = block.call(name, x, ctx);
    });
    return this.head.call('head', x, ctx);
  }
}
