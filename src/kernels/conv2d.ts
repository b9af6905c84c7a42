// Direct 2-D convolution kernels (channels-last, HWIO weights), with TensorFlow's 'same'/'valid' padding.
import { Tensor } from '../tensor/tensor.js';
import { groups, launch, Uniforms, WG } from './launch.js';
import { reduceAxis } from './reduce.js';

export type Padding = 'same' | 'valid';

export interface ConvGeometry {
  N: number; H: number; W: number; Cin: number;
  OH: number; OW: number; Cout: number;
  KH: number; KW: number; stride: number;
  padTop: number; padLeft: number;
  groups: number; cinG: number; coutG: number;
}

function outputSize(size: number, kernel: number, stride: number, padding: Padding): { out: number; before: number } {
  if (padding === 'valid') return { out: Math.floor((size - kernel) / stride) + 1, before: 0 };
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  return { out, before: Math.floor(total / 2) };
}

export function convGeometry(x: readonly number[], w: readonly number[], stride: number, padding: Padding, groupCount: number): ConvGeometry {
  const [N, H, W, Cin] = x as [number, number, number, number];
  const [KH, KW, cinG, Cout] = w as [number, number, number, number];
  if (x.length !== 4 || w.length !== 4) {
    throw new Error(`conv2d takes x [N, H, W, C] and w [KH, KW, C/groups, Cout]; got [${x.join(', ')}] and [${w.join(', ')}]`);
  }
  if (Cin % groupCount !== 0 || Cout % groupCount !== 0 || cinG !== Cin / groupCount) {
    throw new Error(`conv2d: ${Cin} input and ${Cout} output channels do not fit ${groupCount} groups with weights [${w.join(', ')}]`);
  }
  const rows = outputSize(H, KH, stride, padding);
  const cols = outputSize(W, KW, stride, padding);
  if (rows.out <= 0 || cols.out <= 0) throw new Error(`conv2d: a ${KH}x${KW} kernel does not fit a ${H}x${W} input with 'valid' padding`);
  return { N, H, W, Cin, OH: rows.out, OW: cols.out, Cout, KH, KW, stride, padTop: rows.before, padLeft: cols.before, groups: groupCount, cinG, coutG: Cout / groupCount };
}

/** Number of (output position, kernel tap) pairs that land inside the input along one axis. */
function validTaps(out: number, kernel: number, stride: number, before: number, size: number): number {
  let count = 0;
  for (let o = 0; o < out; o++) {
    for (let k = 0; k < kernel; k++) {
      const i = o * stride - before + k;
      if (i >= 0 && i < size) count++;
    }
  }
  return count;
}

/** Multiply-adds of the forward pass (equal to those of each gradient): padding taps are skipped. */
export function convMacs(g: ConvGeometry): number {
  return g.N * g.Cout * g.cinG * validTaps(g.OH, g.KH, g.stride, g.padTop, g.H) * validTaps(g.OW, g.KW, g.stride, g.padLeft, g.W);
}

/** Iterations one weight-gradient invocation may loop through (llvmpipe allows 65,535 in all). */
const GRAD_WEIGHT_BUDGET = 8192;

function convUniforms(g: ConvGeometry, rowsPerSplit = 0, splits = 1): Uniforms {
  return new Uniforms(64)
    .u32(g.N).u32(g.H).u32(g.W).u32(g.Cin)
    .u32(g.OH).u32(g.OW).u32(g.Cout).u32(g.KH)
    .u32(g.KW).u32(g.stride).u32(g.padTop).u32(g.padLeft)
    .u32(g.cinG).u32(g.coutG).u32(rowsPerSplit).u32(splits);
}

const spec = (name: string, entry: 'FORWARD' | 'GRAD_INPUT' | 'GRAD_WEIGHT', buffers: ('read' | 'write')[], hasBias = false) => ({
  name,
  file: 'conv2d.wgsl',
  constants: { WG, FORWARD: entry === 'FORWARD', GRAD_INPUT: entry === 'GRAD_INPUT', GRAD_WEIGHT: entry === 'GRAD_WEIGHT', HAS_BIAS: hasBias },
  buffers,
  uniformBytes: 64,
});

/** Depthwise convolutions over a multiple of 4 channels run four channels per invocation (depthwise.wgsl). */
function vectorDepthwise(g: ConvGeometry): boolean {
  return g.groups === g.Cin && g.cinG === 1 && g.coutG === 1 && g.Cin % 4 === 0;
}

function depthwiseLaunch(entry: 'FORWARD' | 'GRAD_INPUT', inputs: Tensor[], out: Tensor, g: ConvGeometry, hasBias: boolean): void {
  launch({
    spec: {
      name: entry === 'FORWARD' ? 'depthwise-conv2d' : 'depthwise-conv2d-grad-input',
      file: 'depthwise.wgsl',
      constants: { WG, FORWARD: entry === 'FORWARD', GRAD_INPUT: entry === 'GRAD_INPUT', HAS_BIAS: hasBias },
      buffers: [...inputs.map(() => 'read' as const), 'write'],
      uniformBytes: 48,
    },
    op: entry === 'FORWARD' ? 'depthwise-conv2d' : 'conv2d-grad-input',
    uniforms: new Uniforms(48).u32(g.N).u32(g.H).u32(g.W).u32(g.Cin / 4).u32(g.OH).u32(g.OW).u32(g.KH).u32(g.KW).u32(g.stride).u32(g.padTop).u32(g.padLeft).u32(0),
    inputs,
    outputs: [out],
    workgroups: groups(out.size / 4),
    counts: { fma: convMacs(g), add: hasBias ? out.size : 0 },
  });
}

export function conv2dForward(x: Tensor, w: Tensor, g: ConvGeometry, bias?: Tensor): Tensor {
  const y = Tensor.empty([g.N, g.OH, g.OW, g.Cout]);
  if (vectorDepthwise(g)) {
    depthwiseLaunch('FORWARD', bias ? [x, w, bias] : [x, w], y, g, !!bias);
    return y;
  }
  launch({
    spec: spec('conv2d', 'FORWARD', bias ? ['read', 'read', 'read', 'write'] : ['read', 'read', 'write'], !!bias),
    op: g.groups === g.Cin && g.cinG === 1 ? 'depthwise-conv2d' : 'conv2d',
    uniforms: convUniforms(g),
    inputs: bias ? [x, w, bias] : [x, w],
    outputs: [y],
    workgroups: groups(y.size),
    counts: { fma: convMacs(g), add: bias ? y.size : 0 },
  });
  return y;
}

export function conv2dGradInput(dy: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const dx = Tensor.empty([g.N, g.H, g.W, g.Cin]);
  if (vectorDepthwise(g)) {
    depthwiseLaunch('GRAD_INPUT', [dy, w], dx, g, false);
    return dx;
  }
  launch({
    spec: spec('conv2d-grad-input', 'GRAD_INPUT', ['read', 'read', 'write']),
    op: 'conv2d-grad-input',
    uniforms: convUniforms(g),
    inputs: [dy, w],
    outputs: [dx],
    workgroups: groups(dx.size),
    counts: { fma: convMacs(g) },
  });
  return dx;
}

export function conv2dGradWeight(x: Tensor, dy: Tensor, g: ConvGeometry): Tensor {
  const rows = g.N * g.OH;
  const rowsPerSplit = Math.max(1, Math.min(rows, Math.floor(GRAD_WEIGHT_BUDGET / (g.OW + 1))));
  const splits = Math.ceil(rows / rowsPerSplit);
  const weights = g.KH * g.KW * g.cinG * g.Cout;
  const partial = Tensor.empty([splits, g.KH, g.KW, g.cinG, g.Cout]);
  launch({
    spec: spec('conv2d-grad-weight', 'GRAD_WEIGHT', ['read', 'read', 'write']),
    op: 'conv2d-grad-weight',
    uniforms: convUniforms(g, rowsPerSplit, splits),
    inputs: [x, dy],
    outputs: [partial],
    workgroups: groups(weights * splits),
    counts: { fma: convMacs(g) },
  });
  const summed = reduceAxis('sum', partial, 0);
  partial.dispose();
  const dw = summed.view([g.KH, g.KW, g.cinG, g.Cout]);
  summed.dispose();
  return dw;
}
