// Differentiable 2-D convolution. 1x1 convolutions and non-overlapping patch convolutions (kernel = stride,
// 'valid') are matrix products over channels, so they run on the matmul kernel; everything else runs the direct
// convolution kernels.
import { conv2dForward, conv2dGradInput, conv2dGradWeight, convChainFits, convChainForward, convGeometry, type ChainLayer, type ConvActivation, type Padding } from '../kernels/conv2d.js';
import { benchOnScratch, choose, type Family } from '../kernels/tuner.js';
import { unaryBackward } from '../kernels/elementwise.js';
import { Tensor } from '../tensor/tensor.js';
import { noGradient, record, recordsGradient, takeGradientPlace } from './autograd.js';
import { permute, reshape, slice } from './layout.js';
import { add, sigmoid } from './elementwise.js';
import { linear, spacingOf, sumRows } from './matmul.js';

export interface Conv2dOptions {
  stride?: number;
  padding?: Padding;
  groups?: number;
  bias?: Tensor;
  /**
   * An activation fused into the kernel's epilogue. Under a recorded gradient: GELU (its input kept by the same
   * dispatch) and sigmoid (whose gradient needs only its output; applied after the product where the convolution
   * is one); ReLU6 only without one.
   */
  activation?: ConvActivation;
  /** Added last (numpy broadcasting): in the product's epilogue where the convolution is one, else by an add. */
  residual?: Tensor;
}

/** x [N, H, W, Cin], w [KH, KW, Cin/groups, Cout] -> [N, OH, OW, Cout]. */
export function conv2d(x: Tensor, w: Tensor, options: Conv2dOptions = {}): Tensor {
  const { stride = 1, padding = 'valid', groups = 1, bias, activation = 'none', residual } = options;
  const g = convGeometry(x.shape, w.shape, stride, padding, groups);
  const inputs = bias ? [x, w, bias] : [x, w];
  const grad = recordsGradient(inputs);
  const matmulPath = groups === 1 && g.padTop === 0 && g.padLeft === 0 && g.KH === g.KW && g.KH === stride;
  if (activation === 'relu6') noGradient(`conv2d with a fused ${activation}`, inputs);
  const productEpilogue = matmulPath && (activation !== 'sigmoid' || !grad);
  if (residual && !productEpilogue) return add(conv2d(x, w, { ...options, residual: undefined }), residual);
  if (productEpilogue) return patchConv(x, w, g.OH, g.OW, bias, activation, residual);
  if (matmulPath) return sigmoid(patchConv(x, w, g.OH, g.OW, bias, 'none'));

  const preActivation = grad && activation === 'gelu' ? Tensor.empty([g.N, g.OH, g.OW, g.Cout]) : undefined;
  const y = conv2dForward(x, w, g, bias, activation, preActivation);
  return record(y, 'conv2d', inputs, (dy, _prior, offers) => {
    // through the activation first: GELU from its kept input, sigmoid from its output
    const dz = preActivation ? unaryBackward('gelu', preActivation, preActivation, dy) : activation === 'sigmoid' ? unaryBackward('sigmoid', y, y, dy) : dy;
    // the parameters' gradients straight into their places in the gradient arena where offered
    const grads: (Tensor | null)[] = [
      x.requiresGrad ? conv2dGradInput(dz, w, g) : null,
      w.requiresGrad ? conv2dGradWeight(x, dz, g, takeGradientPlace(offers, 1)) : null,
    ];
    if (bias?.requiresGrad) grads.push(sumRows(dz, bias, takeGradientPlace(offers, 2)));
    if (dz !== dy) dz.dispose();
    return grads;
  });
}

/** A convolution whose kernel tiles the input without overlap: regroup patches, then one matrix product. */
function patchConv(x: Tensor, w: Tensor, OH: number, OW: number, bias: Tensor | undefined, activation: ConvActivation, residual?: Tensor): Tensor {
  const [N, H, W, C] = x.shape as [number, number, number, number];
  const [P, , , Cout] = w.shape as [number, number, number, number];
  const weights = reshape(w, [P * P * C, Cout]);
  const epilogue = { activation, ...(residual ? { residual } : {}) };
  if (P === 1) return reshape(linear(x, weights, bias, epilogue), [N, OH, OW, Cout]);
  const cropped = OH * P === H && OW * P === W ? x : slice(x, [0, 0, 0, 0], [N, OH * P, OW * P, C]);
  const grid = reshape(cropped, [N, OH, P, OW, P, C]);
  const patches = reshape(permute(grid, [0, 1, 3, 2, 4, 5]), [N, OH, OW, P * P * C]);
  return linear(patches, weights, bias, epilogue);
}

interface ConvChainProblem {
  N: number;
  H: number;
  W: number;
  C: number;
  layers: number;
  fits: boolean;
}

/** Small convolutions one after another: one workgroup per image through all of them (chained), or each its own
 * dispatch (apart). */
const CONV_CHAIN_FAMILY: Family<ConvChainProblem> = {
  name: 'conv-chain',
  key: (p) => `${p.N}x${p.H}x${p.W}x${p.C} ${p.layers} layers`,
  candidates: (p) => ['apart', ...(p.fits ? ['chained'] : [])],
  rule: (p) => (p.fits ? 'chained' : 'apart'),
};

/**
 * The convolutions (stride 1, 'same', no bias) one after another, each followed by its activation. Where no
 * gradient is recorded and the image fits one workgroup's memory (ops.convChainFits), one dispatch; else conv2d
 * after conv2d.
 */
export function convChain(x: Tensor, layers: readonly ChainLayer[]): Tensor {
  const apart = (input: Tensor) => layers.reduce((y, l) => conv2d(y, l.w, { padding: 'same', activation: l.activation }), input);
  const weights = layers.map((l) => l.w);
  const step = spacingOf(weights);
  if (recordsGradient([x, ...weights])) return apart(x);
  const [N, H, W, C] = x.shape as [number, number, number, number];
  const problem: ConvChainProblem = { N, H, W, C, layers: layers.length, fits: convChainFits(x, layers, step) };
  if (choose(CONV_CHAIN_FAMILY, problem, () => benchOnScratch([x], ([s]) => void convChain(s!, layers))) !== 'chained') return apart(x);
  const span = Tensor.span(weights);
  const y = convChainForward(x, layers, span, step!);
  span.dispose();
  return y;
}
