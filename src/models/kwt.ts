// The Keyword Transformer (Berg, O'Connor and Cruz 2021): MFCC frames -> each frame projected to the width -> a
// class token in front -> learned positional embeddings -> 12 post-LN transformer blocks -> the class token's
// output to the classifier. With TokenLearner (the paper's future work, here on a state-of-the-art keyword
// spotter): before block i the frames (the class token kept aside) become k learned tokens over time.
import { PositionalEmbedding, PostNormTransformerBlock, TokenLearnerV1, TokenLearnerV11 } from '../nn/blocks.js';
import { uniformParameter } from '../nn/init.js';
import { Dense, dropoutLayer } from '../nn/layers.js';
import type { ForwardContext } from '../nn/module.js';
import { broadcastTo, concat, reshape, slice } from '../ops/layout.js';
import { recordTf, withPath } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { seededRandom } from '../util/random.js';
import type { KwtConfig } from './kwt-config.js';
import { inputShape, ModelConfigError } from './config.js';
import { AudioModel } from './model.js';

export class KeywordTransformer extends AudioModel {
  private readonly projection: Dense;
  private readonly classToken: Tensor;
  private readonly position: PositionalEmbedding;
  private readonly blocks: PostNormTransformerBlock[];
  private readonly tokenLearner: TokenLearnerV1 | TokenLearnerV11 | undefined;
  private readonly head: Dense;
  /** Frames per clip: the tokens the projection makes. */
  readonly frames: number;

  constructor(readonly config: KwtConfig) {
    super();
    const c = config;
    const random = seededRandom(c.seed);
    const [, frames, features] = inputShape(c, 1);
    this.frames = frames;
    this.projection = this.child('projection', new Dense(features, c.width, random));
    this.classToken = this.param('class_token', uniformParameter([1, 1, c.width], 0.05, random));
    this.position = this.child('position', new PositionalEmbedding(frames + 1, c.width, random));
    if (c.tokens > 0) {
      this.tokenLearner = this.child(
        'token_learner',
        c.tokenLearnerVersion === 'v1' ? new TokenLearnerV1(c.width, c.tokens, random, [3, 1]) : new TokenLearnerV11(c.width, c.tokens, random),
      );
    }
    const block = { width: c.width, heads: c.heads, headDim: c.headDim, mlp: c.mlp, dropout: c.dropout };
    this.blocks = Array.from({ length: c.blocks }, (_, i) => this.child(`blocks.${i}`, new PostNormTransformerBlock(block, random)));
    this.head = this.child('head', new Dense(c.width, c.classes, random));
    this.packParameters();
  }

  /** The class token kept aside, the frames [B, T, C] made k tokens over time by the TokenLearner. */
  private learn(x: Tensor, ctx: ForwardContext, beforeBlock: number): Tensor {
    const tl = this.tokenLearner!;
    const [B, T1, C] = x.shape as [number, number, number];
    const classToken = slice(x, [0, 0, 0], [B, 1, C]);
    let frames = slice(x, [0, 1, 0], [B, T1 - 1, C]);
    // v1's convolutions run over time as a [T, 1] image
    if (tl instanceof TokenLearnerV1) frames = reshape(frames, [B, T1 - 1, 1, C]);
    const tokens = this.learnTokens(tl, frames, ctx, { kind: 'time', frames: T1 - 1 }, beforeBlock);
    return concat([classToken, tokens], 1);
  }

  /** MFCCs [B, frames, coefficients] -> logits [B, classes]. */
  forward(features: Tensor, ctx: ForwardContext): Tensor {
    const c = this.config;
    const [B, T] = features.shape as [number, number, number];
    if (T !== this.frames) throw new ModelConfigError(`${c.name} takes ${this.frames} frames per clip (its front end on ${c.clipSamples} samples), got ${T}`);
    const normalized = withPath('preprocess', () => this.normalized(features));
    const projected = this.projection.call(normalized); // [B, T, C]
    const classTokens = broadcastTo(this.classToken, [B, 1, c.width]);
    let x = this.position.call(concat([classTokens, projected], 1));
    x = dropoutLayer(x, c.dropout, ctx);
    this.blocks.forEach((block, i) => {
      if (this.tokenLearner && i === c.tokenLearnerAt) x = this.learn(x, ctx, i);
      x = block.call(x, ctx);
    });
    const first = reshape(slice(x, [0, 0, 0], [B, 1, c.width]), [B, c.width]);
    const logits = this.head.call(first);
    recordTf('Softmax', 'class softmax', logits.size);
    return logits;
  }
}
