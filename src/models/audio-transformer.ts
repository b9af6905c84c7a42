// The paper's audio transformer, both families (TASR, TESC): spectrogram -> resize -> normalise -> MBConv stem
// (TASR) -> patch embedding -> TokenLearner (kT) or all patches (NT) -> positional embedding -> L transformer
// blocks (TokenLearner / TokenFuser where the plan puts them) -> classifier head.
import { resizeSpectrograms } from '../audio/spectrogram.js';
import { reshape } from '../ops/layout.js';
import { ClassifierHead, MBConv, PositionalEmbedding, TokenFuser, TokenLearnerV1, TokenLearnerV11, TransformerBlock } from '../nn/blocks.js';
import { Conv2d, dropoutLayer } from '../nn/layers.js';
import type { ForwardContext } from '../nn/module.js';
import { recordTf, withPath } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { seededRandom } from '../util/random.js';
import { gridSide, tokenPlan, type TransformerConfig, type TokenPlan } from './audio-transformer-config.js';
import { ModelConfigError } from './config-common.js';
import { AudioModel } from './model.js';

export class AudioTransformer extends AudioModel {
  private readonly stem: MBConv[];
  private readonly patchEmbed: Conv2d;
  private readonly tokenLearners: (TokenLearnerV1 | TokenLearnerV11)[] = [];
  private readonly fusers: TokenFuser[] = [];
  private readonly position: PositionalEmbedding;
  private readonly blocks: TransformerBlock[];
  private readonly head: ClassifierHead;
  readonly grid: number;
  readonly plan: TokenPlan;

  constructor(readonly config: TransformerConfig) {
    super();
    const c = config;
    const random = seededRandom(c.seed);
    this.stem = Array.from({ length: c.mbconvBlocks }, (_, i) =>
      this.child(`mbconv${i}`, new MBConv(i === 0 ? 1 : c.mbconvChannels, c.mbconvExpanded, c.mbconvChannels, random, c.batchNormMomentum)),
    );
    const channels = c.mbconvBlocks > 0 ? c.mbconvChannels : 1;
    this.patchEmbed = this.child('patch_embed', new Conv2d(channels, c.width, c.patch, random, { stride: c.patch }));
    this.grid = gridSide(c);
    this.plan = tokenPlan(c);
    for (let i = 0; i < this.plan.learners; i++) {
      const name = this.plan.learners === 1 ? 'token_learner' : `token_learner${i}`;
      const tl = c.tokenLearnerVersion === 'v1' ? new TokenLearnerV1(c.width, c.tokens, random) : new TokenLearnerV11(c.width, c.tokens, random);
      this.tokenLearners.push(this.child(name, tl));
      if (c.tokenFuser) this.fusers.push(this.child(`token_fuser${i}`, new TokenFuser(c.width, c.tokens, random)));
    }
    this.position = this.child('position', new PositionalEmbedding(this.plan.positions, c.width, random));
    const block = { width: c.width, heads: c.heads, keyDim: c.keyDim, mlp: c.mlp, dropout: c.dropout };
    this.blocks = Array.from({ length: c.blocks }, (_, i) => this.child(`blocks.${i}`, new TransformerBlock(block, random)));
    this.head = this.child('head', new ClassifierHead(c.width, c.classes, random));
    this.packParameters();
  }

  /** Spectrograms [B, frames, bins] -> resized, normalised images [B, S, S, 1] (the model's first layers). */
  preprocess(spectrograms: Tensor): Tensor {
    return withPath('preprocess', () => {
      const [B] = spectrograms.shape as [number];
      const size = this.config.imageSize;
      recordTf('ZeroCost', 'resize', B * size * size);
      // the Normalization layer runs in the resize's epilogue
      return reshape(resizeSpectrograms(spectrograms, size, size, this.normalization(B * size * size)), [B, size, size, 1]);
    });
  }

  /** Runs TokenLearner i on tokens [B, T, C] or a grid [B, G, G, C], in the layout its version takes. */
  private learn(i: number, x: Tensor, ctx: ForwardContext, addend?: Tensor): Tensor {
    const tl = this.tokenLearners[i]!;
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
    const beforeBlock = this.plan.onGrid ? 0 : this.plan.blocks.findIndex((b) => b.learner === i);
    const layout = { kind: 'grid', rows: this.grid, columns: this.grid, patch: this.config.patch, imageSize: this.config.imageSize } as const;
    return this.learnTokens(tl, x, ctx, layout, beforeBlock, addend);
  }

  /** Spectrograms [B, frames, bins] -> logits [B, classes]. */
  forward(spectrograms: Tensor, ctx: ForwardContext): Tensor {
    const c = this.config;
    let x = this.preprocess(spectrograms);
    this.stem.forEach((block) => (x = block.call(x, ctx)));
    const [B] = x.shape as [number];
    // Where no dropout follows the positional embedding, the kernel that makes the tokens adds it in its epilogue:
    // the TokenLearner's pool, or the patch embedding's product
    const fused = !ctx.training || c.dropout === 0 ? this.position.addedTo(B * this.plan.positions * c.width) : undefined;
    if (this.plan.onGrid) {
      x = this.patchEmbed.call(x); // [B, G, G, C]
      x = fused ? this.learn(0, x, ctx, fused) : this.learn(0, x, ctx);
    } else {
      x = this.patchEmbed.call(x, fused && reshape(fused, [this.grid, this.grid, c.width]));
      x = reshape(x, [B, this.grid * this.grid, c.width]);
    }
    if (!fused) x = dropoutLayer(this.position.call(x), c.dropout, ctx);
    this.blocks.forEach((block, i) => {
      const { learner, fuser } = this.plan.blocks[i]!;
      const input = learner === undefined ? x : this.learn(learner, x, ctx);
      const out = block.call(input, ctx);
      x = fuser === undefined ? out : this.fusers[fuser]!.call(out, x, ctx);
    });
    return this.head.call(x, ctx);
  }
}
