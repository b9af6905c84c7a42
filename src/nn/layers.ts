// Basic layers, Keras-style: channels-last, Glorot-uniform kernels, zero biases. Each records the TensorFlow ops
// Keras would run (for the paper's FLOP convention) next to the kernels it dispatches.
import type { ConvActivation } from '../kernels/conv2d.js';
import { conv2d, convChain } from '../ops/conv.js';
import { dropout } from '../ops/dropout.js';
import { add, gelu, relu6, sigmoid } from '../ops/elementwise.js';
import { layerNormThen, linear } from '../ops/matmul.js';
import { batchNorm, layerNorm, normalizedTensor, type BatchNormState, type PendingLayerNorm } from '../ops/norm.js';
import { foldBatchNorms } from '../kernels/bn-fold.js';
import { Tensor } from '../tensor/tensor.js';
import { glorotUniform, onesParameter, zerosParameter } from './init.js';
import { Module, type ForwardContext } from './module.js';
import { engine, recordTf } from '../tensor/engine.js';

export type Activation = 'none' | 'gelu' | 'relu6' | 'sigmoid';

/** Records an activation for the paper's convention (GELU counts 4 per element; the others 0), applied elsewhere. */
function recordActivation(activation: Activation, size: number): void {
  if (activation === 'gelu') recordTf('Gelu', 'gelu', size);
  else if (activation !== 'none') recordTf('ZeroCost', activation, size);
}

/** Applies an activation and records it. */
export function activate(x: Tensor, activation: Activation): Tensor {
  recordActivation(activation, x.size);
  return applyActivation(x, activation);
}

/** Applies an activation (recorded by the caller). */
function applyActivation(x: Tensor, activation: Activation): Tensor {
  switch (activation) {
    case 'none':
      return x;
    case 'gelu':
      return gelu(x);
    case 'relu6':
      return relu6(x);
    case 'sigmoid':
      return sigmoid(x);
  }
}

export class Dense extends Module {
  readonly kernel: Tensor;
  readonly bias: Tensor | undefined;
  private readonly activation: Activation;
  private readonly einsum: boolean;
  /** `einsum`: Keras ran this layer as EinsumDense, which the paper's profiler counted as 0 (bias adds aside). */
  constructor(readonly inFeatures: number, readonly outFeatures: number, random: () => number, options: { bias?: boolean; activation?: Activation; zeroInit?: boolean; einsum?: boolean } = {}) {
    super();
    this.kernel = this.param('kernel', options.zeroInit ? zerosParameter([inFeatures, outFeatures]) : glorotUniform([inFeatures, outFeatures], inFeatures, outFeatures, random));
    this.bias = options.bias === false ? undefined : this.param('bias', zerosParameter([outFeatures]));
    this.activation = options.activation ?? 'none';
    this.einsum = options.einsum ?? false;
  }

  /** Records the TensorFlow ops Keras runs for this layer over `rows` rows (the paper's FLOP convention). */
  recordOps(rows: number): void {
    const outputs = rows * this.outFeatures;
    recordTf(this.einsum ? 'Einsum' : 'MatMul', 'dense', outputs, { reduce: this.inFeatures });
    if (this.bias) recordTf(this.einsum ? 'AddV2' : 'BiasAdd', 'dense bias', outputs);
    recordActivation(this.activation, outputs);
  }

  /**
   * x @ kernel + bias, then the activation, then dropout at `dropoutRate` (0: none; pass it in training only); with `residual`
   * (shaped as the output) added last. The bias, a GELU, the dropout and the residual run in the product's
   * epilogue, one dispatch; the caller records the residual add.
   */
  forward(input: Tensor | PendingLayerNorm, residual?: Tensor, dropoutRate = 0): Tensor {
    const size = input instanceof Tensor ? input.size : input.x.size;
    this.recordOps(size / this.inFeatures);
    const activation = this.activation;
    if (!(input instanceof Tensor) && (activation === 'none' || activation === 'gelu') && !residual) {
      // a LayerNorm before this layer runs in its kernel (ops.layerNormThen)
      const epilogue = { ...(this.bias ? { bias: this.bias } : {}), ...(activation === 'gelu' ? { activation } : {}), ...(dropoutRate > 0 ? { dropout: dropoutRate } : {}) };
      return layerNormThen(input, { kind: 'linear', w: this.kernel, ...epilogue });
    }
    const x = input instanceof Tensor ? input : normalizedTensor(input);
    if (activation === 'none' || activation === 'gelu') {
      return linear(x, this.kernel, this.bias, { activation, dropout: dropoutRate, residual });
    }
    const y = dropout(applyActivation(linear(x, this.kernel, this.bias), activation), dropoutRate, true);
    return residual ? add(y, residual) : y;
  }

  /** This layer (with no activation) over the mean across its T tokens of x [B, T, in] once layer-normalised: in
   * one kernel where it can, else the LayerNorm and ops.meanLinear (ops.layerNormThen). */
  forwardMean(input: PendingLayerNorm): Tensor {
    if (this.activation !== 'none') throw new Error(`Dense.forwardMean: the layer has a ${this.activation} activation`);
    this.recordOps(input.x.shape[0]!);
    return layerNormThen(input, { kind: 'mean', w: this.kernel, ...(this.bias ? { bias: this.bias } : {}) });
  }
}

export interface Conv2dOptions {
  stride?: number;
  padding?: 'same' | 'valid';
  bias?: boolean;
  /** Depthwise: one filter per input channel (Keras DepthwiseConv2D, depth multiplier 1). */
  depthwise?: boolean;
  activation?: Activation;
}

export class Conv2d extends Module {
  readonly kernel: Tensor;
  readonly bias: Tensor | undefined;
  private readonly groups: number;
  private readonly taps: number;
  /** `size`: a square kernel's side, or [height, width] (a 1-D convolution over [B, T, 1, C] is [k, 1]). */
  constructor(readonly inChannels: number, readonly outChannels: number, size: number | readonly [number, number], random: () => number, readonly options: Conv2dOptions = {}) {
    super();
    this.groups = options.depthwise ? inChannels : 1;
    const cinG = inChannels / this.groups;
    const [kh, kw] = typeof size === 'number' ? [size, size] : size;
    const receptive = kh * kw;
    this.taps = receptive;
    // Keras' fans: a depthwise kernel is (kh, kw, C, 1), a regular one (kh, kw, Cin, Cout).
    const [fanIn, fanOut] = options.depthwise ? [receptive * inChannels, receptive] : [receptive * inChannels, receptive * outChannels];
    this.kernel = this.param('kernel', glorotUniform([kh, kw, cinG, outChannels], fanIn, fanOut, random));
    this.bias = options.bias === false ? undefined : this.param('bias', zerosParameter([outChannels]));
  }

  /** `residual`: added last, in the kernel's epilogue where it can be (with no activation after the kernel). */
  forward(x: Tensor, residual?: Tensor): Tensor {
    const activation = this.options.activation ?? 'none';
    // a GELU or a sigmoid runs in the convolution's epilogue
    if ((activation === 'gelu' || activation === 'sigmoid') && !this.options.depthwise) {
      const y = this.forwardWith(x, this.kernel, this.bias, activation, 'none', residual);
      recordActivation(activation, y.size);
      return y;
    }
    return this.forwardWith(x, this.kernel, this.bias, 'none', undefined, residual);
  }

  /**
   * The convolution with other weights and bias (a BatchNorm folded in), `epilogue` fused into its kernel and
   * `activation` applied after it; `residual` added last (with no activation after the kernel).
   */
  forwardWith(x: Tensor, kernel: Tensor, bias: Tensor | undefined, epilogue: ConvActivation, activation = this.options.activation ?? 'none', residual?: Tensor): Tensor {
    if (residual && activation !== 'none') throw new Error('Conv2d: a residual is added in the kernel, so no activation may follow it');
    const y = conv2d(x, kernel, { stride: this.options.stride ?? 1, padding: this.options.padding ?? 'valid', groups: this.groups, bias, activation: epilogue, ...(residual ? { residual } : {}) });
    this.recordOps(y.size);
    return activate(y, activation);
  }

  /** Records the TensorFlow ops Keras runs for this convolution's `outputs` values (its activation aside). */
  recordOps(outputs: number): void {
    if (this.options.depthwise) recordTf('DepthwiseConv2dNative', 'depthwise conv', outputs, { reduce: this.taps });
    else recordTf('Conv2D', 'conv', outputs, { reduce: this.taps * this.inChannels });
    if (this.bias) recordTf('BiasAdd', 'conv bias', outputs);
  }
}

/**
 * Convolutions of C channels in and out (stride 1, 'same', no bias) applied one after another to x: in one
 * dispatch where ops.convChain can (no gradient, a small image); each layer's paper ops under its own path.
 */
export function convolutionChain(layers: readonly Conv2d[], x: Tensor): Tensor {
  const chained = layers.map((layer) => {
    const { activation = 'none', stride = 1, padding, depthwise } = layer.options;
    if (layer.bias || stride !== 1 || padding !== 'same' || depthwise || activation === 'relu6') throw new Error('convolutionChain: takes stride-1 \'same\' convolutions with no bias and no ReLU6');
    layer.within(() => {
      layer.recordOps(x.size);
      recordActivation(activation, x.size);
    });
    return { w: layer.kernel, activation };
  });
  return convChain(x, chained);
}

export class LayerNorm extends Module {
  readonly gamma: Tensor;
  readonly beta: Tensor;
  constructor(readonly features: number, readonly eps = 1e-6) {
    super();
    this.gamma = this.param('gamma', onesParameter([features]));
    this.beta = this.param('beta', zerosParameter([features]));
  }

  forward(x: Tensor): Tensor {
    this.recordOps(x);
    return layerNorm(x, this.gamma, this.beta, this.eps);
  }

  /** This LayerNorm over x, left to the layer that reads it (a dense layer runs it in its own kernel); records
   * the paper's op here, under this layer's path. */
  pending(x: Tensor): PendingLayerNorm {
    return this.within(() => {
      this.recordOps(x);
      return { x, gamma: this.gamma, beta: this.beta, eps: this.eps, path: engine().path };
    });
  }

  private recordOps(x: Tensor): void {
    recordTf('LayerNormalization', 'layer norm', x.size, { groups: x.size / this.features });
  }
}

/** BatchNorm over channels (last axis), Keras defaults of the paper: momentum 0.99, eps 1e-3. */
export class BatchNorm extends Module {
  readonly s: BatchNormState;
  /** `activation`: a ReLU6 fused after the normalisation (the MBConv stem's). */
  constructor(readonly channels: number, readonly activation: 'none' | 'relu6' = 'none', momentum = 0.99, eps = 1e-3) {
    super();
    this.s = {
      gamma: this.param('gamma', onesParameter([channels])),
      beta: this.param('beta', zerosParameter([channels])),
      runningMean: Tensor.zeros([channels]).keep(),
      runningVar: Tensor.full([channels], 1).keep(),
      momentum,
      eps,
    };
    this.stateTensor('moving_mean', () => this.s.runningMean);
    this.stateTensor('moving_variance', () => this.s.runningVar);
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    this.recordTfOps(x.size);
    return batchNorm(x, this.s, ctx.training, this.activation);
  }

  /** Records the TensorFlow ops Keras runs for this layer over `elements` values (the paper's FLOP convention). */
  recordTfOps(elements: number): void {
    recordTf('FusedBatchNormV3', 'batch norm', elements, { groups: this.channels });
    if (this.activation === 'relu6') recordTf('ZeroCost', 'relu6', elements);
  }

  override dispose(): void {
    super.dispose();
    this.s.runningMean.dispose();
    this.s.runningVar.dispose();
  }
}

/**
 * x through each convolution and the BatchNorm after it in turn, then `residual` added. In inference without
 * gradients each BatchNorm (with its running statistics) is folded into its convolution's weights and bias (all of
 * them by one dispatch where they lie packed), and its activation and the residual run in the convolution's
 * epilogue: a kernel per convolution instead of a convolution and a normalisation pass over every pixel.
 */
export function convolutionsWithBatchNorm(layers: readonly (readonly [Conv2d, BatchNorm])[], x: Tensor, ctx: ForwardContext, residual?: Tensor): Tensor {
  if (ctx.training || engine().gradEnabled) {
    const y = layers.reduce((h, [conv, norm]) => norm.call(conv.call(h), ctx), x);
    return residual ? add(y, residual) : y;
  }
  const folded = foldBatchNorms(layers.map(([conv, norm]) => ({ w: conv.kernel, b: conv.bias, norm: norm.s })));
  const y = layers.reduce((h, [conv, norm], i) => {
    const { w, b } = folded[i]!;
    const out = conv.within(() => conv.forwardWith(h, w, b, norm.activation, 'none', i === layers.length - 1 ? residual : undefined));
    norm.within(() => norm.recordTfOps(out.size));
    return out;
  }, x);
  for (const { w, b } of folded) [w, b].forEach((t) => t.dispose());
  return y;
}

/** Dropout (nothing in inference, so nothing in the paper's forward count). */
export function dropoutLayer(x: Tensor, rate: number, ctx: ForwardContext): Tensor {
  return dropout(x, rate, ctx.training);
}
