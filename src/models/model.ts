// What training, evaluation, checkpoints, FLOP counting, the profiler, sweeps and the CLI need of a model, whatever
// its family: its configuration, a forward pass from front-end features to logits, named parameters and state
// (Module's), and what its TokenLearners attend to. Code outside src/models/ knows models only as this.
import { TokenLearnerV11, type TokenLearnerV1 } from '../nn/blocks.js';
import { Module, type ForwardContext } from '../nn/module.js';
import { permute } from '../ops/layout.js';
import { softmax } from '../ops/softmax.js';
import { normalization } from '../audio/spectrogram.js';
import { unaryForward } from '../kernels/elementwise.js';
import type { Affine } from '../kernels/resize.js';
import { noGrad, recordTf, tidy } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ModelConfig } from './config.js';

/**
 * Where a model's learned tokens look: for each TokenLearner, its weights over the positions it pools, and how
 * those positions lie over the input's frames and bins.
 */
export interface TokenMaps {
  /**
   * [batch, tokens, positions]: each token's weight on each position as its TokenLearner applies it (v1: the
   * sigmoid map the token averages the features under; v1.1: the softmax over positions it sums them under).
   */
  weights: Tensor;
  /**
   * 'grid': positions are a rows x columns grid of patch x patch pixels over the input resized to imageSize x
   * imageSize (rows: time, columns: frequency); 'time': positions are the input's frames.
   */
  layout: { kind: 'grid'; rows: number; columns: number; patch: number; imageSize: number } | { kind: 'time'; frames: number };
  /** The block the TokenLearner runs before. */
  beforeBlock: number;
}

export abstract class AudioModel extends Module {
  abstract readonly config: ModelConfig;
  /** Front-end features [B, frames, bins] (the config's spectrogram) -> logits [B, classes]. */
  abstract forward(features: Tensor, ctx: ForwardContext): Tensor;
  /**
   * The paper's Normalization layer with the adapted statistics, and the TensorFlow ops Keras runs for it (Sub and
   * RealDiv per value, Maximum on the scalar standard deviation).
   */
  protected normalized(x: Tensor): Tensor {
    const { scale, shift } = this.normalization(x.size);
    return unaryForward('affine', x, scale, shift);
  }

  /** The Normalization layer over `elements` values as an affine map, for a kernel to apply in its epilogue (its
   * TensorFlow ops recorded, as the layer would be). */
  protected normalization(elements: number): Affine {
    recordTf('Sub', 'normalize: subtract mean', elements);
    recordTf('Maximum', 'normalize: floor the deviation', 1);
    recordTf('RealDiv', 'normalize: divide', elements);
    return normalization(this.config.normalization.mean, this.config.normalization.variance);
  }

  /** Set while forwardWithTokenMaps runs: where the forward pass leaves each TokenLearner's weights. */
  private collected: TokenMaps[] | undefined;

  /**
   * The forward pass in inference, also returning each TokenLearner's weights in the order they ran (none for a
   * model without one). The caller disposes the logits and the maps' weights.
   */
  forwardWithTokenMaps(features: Tensor): { logits: Tensor; maps: TokenMaps[] } {
    const maps: TokenMaps[] = [];
    this.collected = maps;
    try {
      return { logits: tidy(() => noGrad(() => this.forward(features, { training: false }))), maps };
    } finally {
      this.collected = undefined;
    }
  }

  /**
   * Runs a TokenLearner on x (in the layout its version takes); under forwardWithTokenMaps, also keeps its weights
   * [B, tokens, positions] as it applies them, with where its positions lie and the block it runs before.
   * `addend` is added to the tokens in the pool's epilogue.
   */
  protected learnTokens(tl: TokenLearnerV1 | TokenLearnerV11, x: Tensor, ctx: ForwardContext, layout: TokenMaps['layout'], beforeBlock: number, addend?: Tensor): Tensor {
    if (!this.collected) return tl.call(x, ctx, undefined, addend);
    const maps = tl.within(() => tl.weightMaps(x, ctx));
    const perToken = permute(maps, [0, 2, 1]);
    const weights = tl instanceof TokenLearnerV11 ? softmax(perToken) : perToken;
    this.collected.push({ weights: weights.keep(), layout, beforeBlock });
    return tl.call(x, ctx, maps, addend);
  }
}
