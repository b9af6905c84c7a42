// The paper's building blocks: MBConv stem, positional embedding, multi-head attention with a per-head width
// independent of the model width, the pre-LN transformer block (and KWT's post-LN one), TokenLearner v1 (the
// paper's, also in 1-D), v1.1 and TokenFuser (Google's), and the classification head.
import { multiHeadAttention, packedMultiHeadAttention, tokenPool } from '../ops/attention.js';
import { add } from '../ops/elementwise.js';
import { permute, reshape } from '../ops/layout.js';
import { layerNormThen, linearStack, matmul, stackable } from '../ops/matmul.js';
import { normalizedTensor, type PendingLayerNorm } from '../ops/norm.js';
import { uniformParameter } from './init.js';
import { Tensor } from '../tensor/tensor.js';
import { BatchNorm, Conv2d, convolutionChain, convolutionsWithBatchNorm, Dense, LayerNorm } from './layers.js';
import { Module, type ForwardContext } from './module.js';
import { recordTf } from '../tensor/engine.js';

function residual(x: Tensor, y: Tensor, label = 'residual'): Tensor {
  recordTf('AddV2', label, Math.max(x.size, y.size));
  return add(x, y);
}

/** Inverted residual without squeeze-excite: 1x1 expand + BN + ReLU6, 3x3 depthwise + BN + ReLU6, 1x1 project + BN, + input
 * (each ReLU6 fused into its BatchNorm). */
export class MBConv extends Module {
  private readonly expand: Conv2d;
  private readonly expandNorm: BatchNorm;
  private readonly depthwise: Conv2d;
  private readonly depthwiseNorm: BatchNorm;
  private readonly project: Conv2d;
  private readonly projectNorm: BatchNorm;
  constructor(inChannels: number, expanded: number, outChannels: number, random: () => number, batchNormMomentum = 0.99) {
    super();
    this.expand = this.child('expand', new Conv2d(inChannels, expanded, 1, random));
    this.expandNorm = this.child('expand_bn', new BatchNorm(expanded, 'relu6', batchNormMomentum));
    this.depthwise = this.child('depthwise', new Conv2d(expanded, expanded, 3, random, { depthwise: true, padding: 'same' }));
    this.depthwiseNorm = this.child('depthwise_bn', new BatchNorm(expanded, 'relu6', batchNormMomentum));
    this.project = this.child('project', new Conv2d(expanded, outChannels, 1, random));
    this.projectNorm = this.child('project_bn', new BatchNorm(outChannels, 'none', batchNormMomentum));
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const layers = [[this.expand, this.expandNorm], [this.depthwise, this.depthwiseNorm], [this.project, this.projectNorm]] as const;
    // a 1-channel input broadcasts over the projected channels (added in the projection's epilogue in inference)
    const h = convolutionsWithBatchNorm(layers, x, ctx, x);
    recordTf('AddV2', 'residual', h.size);
    return h;
  }
}

/**
 * A (tokens, width) table added to the tokens. The paper's Keras code most likely used a frozen random constant;
 * here it is a trainable parameter, initialised uniform in [-0.05, 0.05] (Keras' Embedding default).
 */
export class PositionalEmbedding extends Module {
  readonly table: Tensor;
  constructor(tokens: number, width: number, random: () => number) {
    super();
    this.table = this.param('table', uniformParameter([tokens, width], 0.05, random));
  }
  forward(x: Tensor): Tensor {
    recordTf('AddV2', 'positional embedding', x.size);
    return add(x, this.table);
  }

  /**
   * The table, for the kernel that makes the `tokens` (an element count) to add in its epilogue in place of
   * forward's add; counted here, as forward counts it.
   */
  addedTo(tokens: number): Tensor {
    this.within(() => recordTf('AddV2', 'positional embedding', tokens));
    return this.table;
  }
}

/**
 * Keras MultiHeadAttention(num_heads=H, key_dim=D): Q, K, V project C -> H*D with bias, scores scaled by
 * 1/sqrt(D), dropout on the probabilities, output projects H*D -> C with bias. D does not shrink as H grows.
 */
export class MultiHeadAttention extends Module {
  private readonly query: Dense;
  private readonly key: Dense;
  private readonly value: Dense;
  private readonly output: Dense;
  /** `qkvBias: false`: Q, K and V without biases (KWT's). */
  constructor(readonly width: number, readonly heads: number, readonly keyDim: number, readonly dropoutRate: number, random: () => number, qkvBias = true) {
    super();
    const inner = heads * keyDim;
    // Keras runs these as EinsumDense: the profiler counted the einsums as 0 and only the bias adds.
    const einsum = { einsum: true };
    const projection = { einsum: true, bias: qkvBias };
    this.query = this.child('query', new Dense(width, inner, random, projection));
    this.key = this.child('key', new Dense(width, inner, random, projection));
    this.value = this.child('value', new Dense(width, inner, random, projection));
    this.output = this.child('output', new Dense(inner, width, random, einsum));
  }

  /**
   * Attention over x [B, T, width]; `residual` (shaped as the output) is added in the output projection's epilogue.
   * Q, K and V are one stacked product where their weights lie packed alike (a packed model's), read in place by
   * the attention.
   */
  forward(input: Tensor | PendingLayerNorm, ctx: ForwardContext, residual?: Tensor): Tensor {
    const pending = input instanceof Tensor ? undefined : input;
    const x = input instanceof Tensor ? input : input.x;
    const T = x.shape[1]!;
    const inner = this.heads * this.keyDim;
    const projections = [this.query, this.key, this.value];
    const options = { dropoutRate: this.dropoutRate, training: ctx.training };
    const [weights, biases] = [projections.map((d) => d.kernel), projections.flatMap((d) => (d.bias ? [d.bias] : []))];
    let attend: () => Tensor;
    if (stackable(weights, biases)) {
      for (const d of projections) d.within(() => d.recordOps(x.size / this.width));
      // a LayerNorm before the attention runs in the product's kernel where it can
      const qkv = pending ? layerNormThen(pending, { kind: 'stack', weights, biases }) : linearStack(x, weights, biases);
      attend = () => packedMultiHeadAttention(qkv, this.heads, options);
    } else {
      const normed = pending ? normalizedTensor(pending) : x;
      const [q, k, v] = projections.map((d) => d.call(normed)) as [Tensor, Tensor, Tensor];
      attend = () => multiHeadAttention(q, k, v, this.heads, options);
    }
    recordTf('Mul', 'query scaling', T * inner);
    recordTf('Einsum', 'attention scores', this.heads * T * T, { reduce: this.keyDim });
    recordTf('Softmax', 'attention softmax', this.heads * T * T);
    recordTf('Einsum', 'attention values', T * inner, { reduce: T });
    return this.output.call(attend(), residual);
  }
}

export interface TransformerOptions {
  width: number;
  heads: number;
  keyDim: number;
  mlp: readonly number[];
  dropout: number;
}

/** Pre-LN block: x + MHA(LN(x)); then + MLP(LN(.)) with GELU after every Dense and dropout after each. */
export class TransformerBlock extends Module {
  private readonly norm1: LayerNorm;
  private readonly attention: MultiHeadAttention;
  private readonly norm2: LayerNorm;
  private readonly mlp: Dense[];
  constructor(readonly o: TransformerOptions, random: () => number) {
    super();
    this.norm1 = this.child('norm1', new LayerNorm(o.width));
    this.attention = this.child('attention', new MultiHeadAttention(o.width, o.heads, o.keyDim, o.dropout, random));
    this.norm2 = this.child('norm2', new LayerNorm(o.width));
    let features = o.width;
    this.mlp = o.mlp.map((size, i) => {
      const layer = this.child(`mlp${i}`, new Dense(features, size, random, { activation: 'gelu' }));
      features = size;
      return layer;
    });
    if (features !== o.width) throw new Error(`the last MLP size (${features}) must equal the width (${o.width}) for the residual`);
  }

  // The residual adds run in the epilogues of the attention's output projection and of the last MLP layer, and each
  // MLP layer's dropout (training) in its own epilogue.
  forward(x: Tensor, ctx: ForwardContext): Tensor {
    // each LayerNorm runs in the product after it where it can (Q/K/V's, the first MLP layer's)
    const h = this.attention.call(this.norm1.pending(x), ctx, x);
    recordTf('AddV2', 'residual', h.size);
    const rate = ctx.training ? this.o.dropout : 0;
    const last = this.mlp.length - 1;
    let m: Tensor | undefined;
    for (const [i, layer] of this.mlp.entries()) m = layer.call(m ?? this.norm2.pending(h), i === last ? h : undefined, rate);
    recordTf('AddV2', 'residual', m!.size);
    return m!;
  }
}

/**
 * Post-LN block (KWT's, the original transformer's): LN(x + MHA(x)), then LN(. + MLP(.)) with one hidden Dense +
 * GELU and a Dense back to the width; dropout after the attention's output and each Dense.
 */
export class PostNormTransformerBlock extends Module {
  private readonly attention: MultiHeadAttention;
  private readonly norm1: LayerNorm;
  private readonly hidden: Dense;
  private readonly out: Dense;
  private readonly norm2: LayerNorm;
  constructor(readonly o: { width: number; heads: number; headDim: number; mlp: number; dropout: number }, random: () => number) {
    super();
    this.attention = this.child('attention', new MultiHeadAttention(o.width, o.heads, o.headDim, o.dropout, random, false));
    this.norm1 = this.child('norm1', new LayerNorm(o.width));
    this.hidden = this.child('mlp0', new Dense(o.width, o.mlp, random, { activation: 'gelu' }));
    this.out = this.child('mlp1', new Dense(o.mlp, o.width, random));
    this.norm2 = this.child('norm2', new LayerNorm(o.width));
  }

  // The residual adds run in the epilogues of the attention's output projection and of the MLP's last Dense.
  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const rate = ctx.training ? this.o.dropout : 0;
    const a = this.attention.call(x, ctx, x);
    recordTf('AddV2', 'residual', a.size);
    const h = this.norm1.call(a);
    const m = this.out.call(this.hidden.call(h, undefined, rate), h, rate);
    recordTf('AddV2', 'residual', m.size);
    return this.norm2.call(m);
  }
}

/**
 * TokenLearner v1, as the paper used it: LayerNorm over channels, three 3x3 convolutions (no bias) each with
 * GELU, a fourth 3x3 convolution and a sigmoid give k maps; token t is the mean over positions of map t times the
 * un-normalised features. Input [B, H, W, C] -> tokens [B, k, C].
 */
export class TokenLearnerV1 extends Module {
  private readonly norm: LayerNorm;
  private readonly convs: Conv2d[];
  /** `kernel`: the convolutions' [height, width]; [3, 1] is the 1-D form over a sequence laid out [B, T, 1, C]. */
  constructor(readonly width: number, readonly tokens: number, random: () => number, kernel: readonly [number, number] = [3, 3]) {
    super();
    this.norm = this.child('norm', new LayerNorm(width));
    this.convs = [0, 1, 2, 3].map((i) =>
      this.child(`conv${i}`, new Conv2d(i === 0 ? width : tokens, tokens, kernel, random, { padding: 'same', bias: false, activation: i < 3 ? 'gelu' : 'sigmoid' })),
    );
  }

  /** Each position's weight for each token, [B, H * W, k]: the sigmoid maps each token averages over (x / (H W)). */
  weightMaps(x: Tensor, _ctx?: ForwardContext): Tensor {
    const [B, H, W, C] = x.shape as [number, number, number, number];
    return this.mapsOf(reshape(x, [B, H * W, C]), H, W);
  }

  /** The maps from the features as positions [B, H * W, C] (the tensor the pool reads too: its gradient and the
   * LayerNorm's then meet in the LayerNorm's backward kernel, with no add of their own). */
  private mapsOf(positions: Tensor, H: number, W: number): Tensor {
    const [B, P, C] = positions.shape as [number, number, number];
    const [first, ...rest] = this.convs;
    const maps = first!.call(reshape(this.norm.call(positions), [B, H, W, C]));
    // the convolutions after the first (tokens to tokens) in one dispatch where they can
    return reshape(convolutionChain(rest, maps), [B, P, this.tokens]);
  }

  /** `addend`: added to the tokens in the pool's epilogue (a positional embedding [k, C]). */
  forward(x: Tensor, ctx: ForwardContext, maps?: Tensor, addend?: Tensor): Tensor {
    const [B, H, W, C] = x.shape as [number, number, number, number];
    const positions = H * W;
    const features = reshape(x, [B, positions, C]);
    // Keras: (B, k, S, 1) * (B, 1, S, C) then a mean over S.
    recordTf('Mul', 'attend', this.tokens * positions * C);
    recordTf('Mean', 'pool', this.tokens * positions * C);
    return tokenPool(maps ?? this.mapsOf(features, H, W), features, 'mean', addend);
  }
}

/** LayerNorm, then a per-position MLP (Dense `hidden` + GELU, Dense k + activation): one weight per token and position. */
class PositionWeights extends Module {
  private readonly norm: LayerNorm;
  private readonly hidden: Dense;
  private readonly out: Dense;
  constructor(width: number, tokens: number, random: () => number, hidden: number, activation: 'none' | 'sigmoid') {
    super();
    this.norm = this.child('norm', new LayerNorm(width));
    this.hidden = this.child('mlp0', new Dense(width, hidden, random, { activation: 'gelu' }));
    this.out = this.child('mlp1', new Dense(hidden, tokens, random, { activation }));
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    return this.out.call(this.hidden.call(this.norm.call(x)));
  }
}

/**
 * TokenLearner v1.1 (Google's): per-position weights from a LayerNorm'd 64-wide GELU MLP, a softmax over positions
 * (each token's weights sum to 1) and the weighted sum of the raw features. Works on any grid: [B, S, C] input.
 */
export class TokenLearnerV11 extends Module {
  private readonly weights: PositionWeights;
  constructor(readonly width: number, readonly tokens: number, random: () => number, hidden = 64) {
    super();
    this.weights = this.child('weights', new PositionWeights(width, tokens, random, hidden, 'none'));
  }

  /** Each position's score for each token, [B, S, k]: the pool takes their softmax over positions as weights. */
  weightMaps(x: Tensor, ctx: ForwardContext): Tensor {
    const [B, S] = x.shape as [number, number, number];
    return reshape(this.weights.call(x, ctx), [B, S, this.tokens]);
  }

  /** `addend`: added to the tokens in the pool's epilogue (a positional embedding [k, C]). */
  forward(x: Tensor, ctx: ForwardContext, maps = this.weightMaps(x, ctx), addend?: Tensor): Tensor {
    const [, S, C] = x.shape as [number, number, number];
    recordTf('Softmax', 'softmax over positions', S * this.tokens);
    recordTf('Einsum', 'pool', this.tokens * C, { reduce: S });
    return tokenPool(maps, x, 'softmax', addend);
  }
}

/**
 * TokenFuser (Google's): mixes the k tokens with a Dense over the token axis (kernel initialised to zero), then maps
 * them back to every position with per-position sigmoid weights computed from the original features (the same
 * LayerNorm + 64-wide GELU MLP as v1.1), and adds the original features. tokens [B, k, C], original [B, S, C].
 */
export class TokenFuser extends Module {
  private readonly tokenNorm: LayerNorm;
  private readonly mix: Dense;
  private readonly mixNorm: LayerNorm;
  private readonly weights: PositionWeights;
  constructor(readonly width: number, readonly tokens: number, random: () => number, hidden = 64) {
    super();
    this.tokenNorm = this.child('token_norm', new LayerNorm(width));
    this.mix = this.child('mix', new Dense(tokens, tokens, random, { zeroInit: true }));
    this.mixNorm = this.child('mix_norm', new LayerNorm(width));
    this.weights = this.child('weights', new PositionWeights(width, tokens, random, hidden, 'sigmoid'));
  }

  forward(tokens: Tensor, original: Tensor, ctx: ForwardContext): Tensor {
    const normed = this.tokenNorm.call(tokens);
    const mixed = permute(this.mix.call(permute(normed, [0, 2, 1])), [0, 2, 1]);
    const fused = this.mixNorm.call(mixed);
    const weights = this.weights.call(original, ctx);
    const [, S, C] = original.shape as [number, number, number];
    recordTf('Einsum', 'unpool', S * C, { reduce: this.tokens });
    return residual(original, matmul(weights, fused, { op: 'token-unpool' }));
  }
}

/** LayerNorm, the mean over tokens, Dense to the classes (logits; the softmax is part of the loss / predict). */
export class ClassifierHead extends Module {
  private readonly norm: LayerNorm;
  private readonly dense: Dense;
  constructor(readonly width: number, readonly classes: number, random: () => number) {
    super();
    this.norm = this.child('norm', new LayerNorm(width));
    this.dense = this.child('dense', new Dense(width, classes, random));
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    recordTf('Mean', 'mean over tokens', x.size);
    // the LayerNorm and the mean over tokens run in the dense layer's kernel where no gradient is recorded
    const normed = this.norm.pending(x);
    const logits = this.dense.within(() => this.dense.forwardMean(normed));
    recordTf('Softmax', 'class softmax', logits.size);
    return logits;
  }
}
