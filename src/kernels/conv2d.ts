// Direct 2-D convolution kernels (channels-last, HWIO weights), with TensorFlow's 'same'/'valid' padding.
import { plusCounts, scaled } from '../tensor/counts.js';
import { Tensor } from '../tensor/tensor.js';
import { UNARY } from './elementwise.js';
import type { EpilogueActivation } from './matmul.js';
import { launch, read, write, WORKGROUP_MEMORY_FLOATS, type Binding, type KernelSpec } from './launch.js';
import { slabs, sumSlabs } from './reduce.js';
import { benchOnScratch, choose, type Bench, type Family } from './tuner.js';

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

/** Multiply-adds with every kernel tap, those in the zero padding too: what fvcore and thop count. */
export function convFullMacs(g: ConvGeometry): number {
  return g.N * g.OH * g.OW * g.Cout * g.KH * g.KW * g.cinG;
}

/** Iterations one weight-gradient invocation may loop through (llvmpipe allows 65,535 in all). */
const GRAD_WEIGHT_BUDGET = 8192;

const CONV_UNIFORMS = {
  N: 'u32', H: 'u32', W: 'u32', Cin: 'u32', OH: 'u32', OW: 'u32', Cout: 'u32', KH: 'u32',
  KW: 'u32', stride: 'u32', pad_top: 'u32', pad_left: 'u32', cin_g: 'u32', cout_g: 'u32', rows_per_split: 'u32',
} as const;

function convUniforms(g: ConvGeometry, rowsPerSplit = 0) {
  return {
    N: g.N, H: g.H, W: g.W, Cin: g.Cin, OH: g.OH, OW: g.OW, Cout: g.Cout, KH: g.KH,
    KW: g.KW, stride: g.stride, pad_top: g.padTop, pad_left: g.padLeft, cin_g: g.cinG, cout_g: g.coutG, rows_per_split: rowsPerSplit,
  };
}

type Entry = 'FORWARD' | 'GRAD_INPUT' | 'GRAD_WEIGHT';

/** Ungrouped convolutions over multiples of 4 channels in and out can run four channels at a time (conv2d.wgsl's VEC4). */
const vectorConv = (g: ConvGeometry) => g.groups === 1 && g.Cin % 4 === 0 && g.Cout % 4 === 0;

/** The direct convolution's passes: four channels at a time where they can (the rule: a quarter of the loads, on
 * CPU adapters each a gather) or one. */
const CONV_FAMILY: Family<{ entry: Entry; g: ConvGeometry }> = {
  name: 'conv2d',
  key: ({ entry, g }) => `${entry.toLowerCase().replace('_', '-')} ${g.N}x${g.H}x${g.W}x${g.Cin} to ${g.Cout} ${g.KH}x${g.KW}${g.stride > 1 ? ` stride ${g.stride}` : ''}${g.groups > 1 ? ` ${g.groups} groups` : ''}`,
  candidates: ({ g }) => (vectorConv(g) ? ['vec4', 'scalar'] : ['scalar']),
  rule: ({ g }) => (vectorConv(g) ? 'vec4' : 'scalar'),
};

/** Whether a pass runs four channels at a time (the tuner's choice); `tensors` and `rerun`: the pass again on
 * scratch tensors, for the tuner to time. */
function convVec4(entry: Entry, g: ConvGeometry, tensors: Record<string, Tensor>, rerun: (scratch: Record<string, Tensor>) => void): boolean {
  return choose(CONV_FAMILY, { entry, g }, () => scratchPass(tensors, rerun)) === 'vec4';
}

/** The direct convolution kernel for a pass, its storage bindings read and written as vec4s where `vec4`. */
function convSpec(name: string, entry: Entry, inputs: string[], output: string, g: ConvGeometry, vec4: boolean, hasBias = false, activation: ConvActivation = 'none', keepPre = false): KernelSpec {
  const type = vec4 ? 'vec4f' : 'f32';
  return {
    name: vec4 ? `${name}-vec4` : name,
    file: 'conv2d.wgsl',
    constants: { FORWARD: entry === 'FORWARD', GRAD_INPUT: entry === 'GRAD_INPUT', GRAD_WEIGHT: entry === 'GRAD_WEIGHT', HAS_BIAS: hasBias, STRIDE1: g.stride === 1, VEC4: vec4,
      ACTIVATION: activation !== 'none', ACT_EXPR: activation === 'none' ? '' : UNARY[activation].expr, KEEP_PRE: keepPre,
    },
    bindings: [...inputs.map((n) => read(n, type)), ...(keepPre ? [write('z', type)] : []), write(output, type)],
    uniforms: CONV_UNIFORMS,
  };
}

/** Depthwise convolutions over a multiple of 4 channels run four channels per invocation (depthwise.wgsl). */
function vectorDepthwise(g: ConvGeometry): boolean {
  return g.groups === g.Cin && g.cinG === 1 && g.coutG === 1 && g.Cin % 4 === 0;
}

const DEPTHWISE_UNIFORMS = {
  N: 'u32', H: 'u32', W: 'u32', C4: 'u32', OH: 'u32', OW: 'u32', stride: 'u32', pad_top: 'u32', pad_left: 'u32',
  rows_per_split: 'u32',
} as const;

const depthwiseUniforms = (g: ConvGeometry, rowsPerSplit = 0) => ({
  N: g.N, H: g.H, W: g.W, C4: g.Cin / 4, OH: g.OH, OW: g.OW, stride: g.stride, pad_top: g.padTop, pad_left: g.padLeft,
  rows_per_split: rowsPerSplit,
});

type DepthwiseEntry = 'FORWARD' | 'GRAD_INPUT' | 'GRAD_WEIGHT';

const depthwiseSpec = (name: string, entry: DepthwiseEntry, bindings: Binding[], g: ConvGeometry, extra: { tileX?: number; bias?: boolean; relu6?: boolean } = {}): KernelSpec => ({
  name,
  file: 'depthwise.wgsl',
  constants: {
    FORWARD: entry === 'FORWARD',
    GRAD_INPUT: entry === 'GRAD_INPUT',
    GRAD_WEIGHT: entry === 'GRAD_WEIGHT',
    HAS_BIAS: !!extra.bias,
    STRIDE1: g.stride === 1,
    TILED: extra.tileX !== undefined,
    RELU6: !!extra.relu6,
    KH: g.KH,
    KW: g.KW,
    TILE_X: extra.tileX ?? 1,
  },
  bindings,
  uniforms: DEPTHWISE_UNIFORMS,
});

/**
 * Stride-1 depthwise passes may work on neighbouring positions of a row per invocation (depthwise.wgsl's row
 * tiles), each holding KW + TX - 1 input vec4s in registers; kernels wider than 13 keep the direct passes (an
 * output vec4 per invocation), which hold no such array.
 */
const tiledDepthwise = (g: ConvGeometry) => g.stride === 1 && g.KW <= 13;

interface DepthwiseProblem {
  pass: 'forward' | 'grad-input';
  g: ConvGeometry;
}

/** Positions per invocation of each depthwise candidate: a row tile of 4, 8 or 16, or one ('direct'). */
const DEPTHWISE_TILES: Record<string, number | undefined> = { tiled8: 8, tiled4: 4, tiled16: 16, direct: undefined };

const DEPTHWISE_FAMILY: Family<DepthwiseProblem> = {
  name: 'depthwise',
  key: ({ pass, g }) => `${pass} ${g.N}x${g.H}x${g.W}x${g.Cin} ${g.KH}x${g.KW}${g.stride > 1 ? ` stride ${g.stride}` : ''}`,
  candidates: ({ g }) => (tiledDepthwise(g) ? Object.keys(DEPTHWISE_TILES) : ['direct']),
  // measured on llvmpipe: 8 neighbours loaded once for all their taps, 1.3-1.6x the direct passes on the paper stem
  rule: ({ g }) => (tiledDepthwise(g) ? 'tiled8' : 'direct'),
};

/** The depthwise weight gradient's loop budget per invocation: the rule's, a quarter of it (four times the
 * splits: more invocations, more partial sums) or four times it (still under llvmpipe's 65,535). */
const GRAD_WEIGHT_BUDGETS: Record<string, number> = Object.fromEntries([1, 1 / 4, 4].map((f) => [`budget${GRAD_WEIGHT_BUDGET * f}`, GRAD_WEIGHT_BUDGET * f]));

const DEPTHWISE_GRAD_WEIGHT_FAMILY: Family<ConvGeometry> = {
  name: 'depthwise-grad-weight',
  key: (g) => `${g.N}x${g.H}x${g.W}x${g.Cin} ${g.KH}x${g.KW}`,
  candidates: () => Object.keys(GRAD_WEIGHT_BUDGETS),
  rule: () => `budget${GRAD_WEIGHT_BUDGET}`,
};

/** A convolution pass again on scratch tensors of the same shapes and names: what the tuner times. */
function scratchPass(tensors: Record<string, Tensor>, rerun: (scratch: Record<string, Tensor>) => void): Bench {
  const names = Object.keys(tensors);
  return benchOnScratch(Object.values(tensors), (scratch) => rerun(Object.fromEntries(names.map((name, i) => [name, scratch[i]!]))));
}

/** Epilogue activation of a forward convolution (ReLU6 after a folded BatchNorm, inference only; GELU and sigmoid in
 * TokenLearner, in training too: ops/conv.ts). The depthwise kernels fuse ReLU6 only. */
export type ConvActivation = 'none' | EpilogueActivation;

function depthwiseLaunch(entry: 'FORWARD' | 'GRAD_INPUT', tensors: Record<string, Tensor>, out: Tensor, g: ConvGeometry, activation: 'none' | 'relu6' = 'none'): void {
  const forward = entry === 'FORWARD';
  const hasBias = tensors.bias !== undefined;
  const outName = forward ? 'y' : 'dx';
  const variant = choose(DEPTHWISE_FAMILY, { pass: forward ? 'forward' : 'grad-input', g }, () =>
    scratchPass({ ...tensors, [outName]: out }, (scratch) => {
      const { [outName]: scratchOut, ...inputs } = scratch;
      depthwiseLaunch(entry, inputs, scratchOut!, g, activation);
    }),
  );
  const tileX = DEPTHWISE_TILES[variant];
  const relu6 = activation === 'relu6';
  const [rows, cols] = forward ? [g.OH, g.OW] : [g.H, g.W];
  launch({
    kernel: depthwiseSpec(
      `${forward ? 'depthwise-conv2d' : 'depthwise-conv2d-grad-input'}${tileX ? `-tiled${tileX === 8 ? '' : tileX}` : ''}${relu6 ? '+relu6' : ''}`,
      entry,
      forward
        ? [read('x', 'vec4f'), read('w', 'vec4f'), ...(hasBias ? [read('bias', 'vec4f')] : []), write('y', 'vec4f')]
        : [read('dy', 'vec4f'), read('w', 'vec4f'), write('dx', 'vec4f')],
      g,
      { ...(tileX ? { tileX } : {}), bias: hasBias, relu6 },
    ),
    op: forward ? 'depthwise-conv2d' : 'conv2d-grad-input',
    uniforms: depthwiseUniforms(g),
    tensors: { ...tensors, [outName]: out },
    invocations: tileX ? g.N * rows * Math.ceil(cols / tileX) * (g.Cin / 4) : out.size / 4,
    counts: { fma: convMacs(g), add: hasBias ? out.size : 0, cmp: relu6 ? 2 * out.size : 0 },
    macs: convFullMacs(g),
  });
}

/** `preActivation`: where to keep the values before the activation (for its gradient), a tensor of y's size. */
export function conv2dForward(x: Tensor, w: Tensor, g: ConvGeometry, bias?: Tensor, activation: ConvActivation = 'none', preActivation?: Tensor): Tensor {
  const y = Tensor.empty([g.N, g.OH, g.OW, g.Cout]);
  const inputs: Record<string, Tensor> = bias ? { x, w, bias } : { x, w };
  if (vectorDepthwise(g)) {
    if ((activation !== 'none' && activation !== 'relu6') || preActivation) throw new Error(`depthwise convolutions fuse ReLU6 only (keeping nothing); apply the ${activation} as its own op`);
    depthwiseLaunch('FORWARD', inputs, y, g, activation);
    return y;
  }
  if (preActivation && (activation === 'none' || preActivation.size !== y.size)) throw new Error('conv2d: a pre-activation is kept for an activation, in a tensor of the output\'s size');
  const fused = activation === 'none' ? '' : `+${activation}`;
  const vec4 = convVec4('FORWARD', g, { ...inputs, ...(preActivation ? { preActivation } : {}) }, (s) => void conv2dForward(s.x!, s.w!, g, s.bias, activation, s.preActivation));
  launch({
    kernel: convSpec(`conv2d${fused}`, 'FORWARD', bias ? ['x', 'w', 'bias'] : ['x', 'w'], 'y', g, vec4, !!bias, activation, !!preActivation),
    op: g.groups === g.Cin && g.cinG === 1 ? 'depthwise-conv2d' : 'conv2d',
    uniforms: convUniforms(g),
    tensors: { ...inputs, ...(preActivation ? { z: preActivation } : {}), y },
    invocations: vec4 ? y.size / 4 : y.size,
    counts: plusCounts({ fma: convMacs(g), add: bias ? y.size : 0 }, activation === 'none' ? {} : scaled(UNARY[activation].counts, y.size)),
    macs: convFullMacs(g),
  });
  return y;
}

export function conv2dGradInput(dy: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const dx = Tensor.empty([g.N, g.H, g.W, g.Cin]);
  if (vectorDepthwise(g)) {
    depthwiseLaunch('GRAD_INPUT', { dy, w }, dx, g);
    return dx;
  }
  const vec4 = convVec4('GRAD_INPUT', g, { dy, w }, (s) => void conv2dGradInput(s.dy!, s.w!, g));
  launch({
    kernel: convSpec('conv2d-grad-input', 'GRAD_INPUT', ['dy', 'w'], 'dx', g, vec4),
    op: 'conv2d-grad-input',
    uniforms: convUniforms(g),
    tensors: { dy, w, dx },
    invocations: vec4 ? dx.size / 4 : dx.size,
    counts: { fma: convMacs(g) },
    macs: convFullMacs(g),
  });
  return dx;
}

/** The weights' gradient [KH, KW, Cin/groups, Cout]; `into`: the tensor to write it into (returned as it is). */
export function conv2dGradWeight(x: Tensor, dy: Tensor, g: ConvGeometry, into?: Tensor): Tensor {
  const rows = g.N * g.OH;
  if (vectorDepthwise(g) && g.stride === 1 && g.KH * g.KW <= 25) {
    // Every tap of four channels per invocation, over a split of the output rows: one vec4 sum per tap held in
    // registers, so at most 25 taps (5x5); larger kernels take the general weight-gradient kernel below.
    const taps = g.KH * g.KW;
    const budget = GRAD_WEIGHT_BUDGETS[choose(DEPTHWISE_GRAD_WEIGHT_FAMILY, g, () => scratchPass({ x, dy }, (s) => void conv2dGradWeight(s.x!, s.dy!, g)))]!;
    const rowsPerSplit = Math.max(1, Math.min(rows, Math.floor(budget / (g.OW * (taps + 1)))));
    const splits = Math.ceil(rows / rowsPerSplit);
    const partial = slabs(splits, [g.KH, g.KW, 1, g.Cout], into);
    launch({
      kernel: depthwiseSpec('depthwise-conv2d-grad-weight', 'GRAD_WEIGHT', [read('x', 'vec4f'), read('dy', 'vec4f'), write('dw', 'vec4f')], g),
      op: 'conv2d-grad-weight',
      uniforms: depthwiseUniforms(g, rowsPerSplit),
      tensors: { x, dy, dw: partial },
      invocations: splits * (g.Cin / 4),
      counts: { fma: convMacs(g) },
      macs: convFullMacs(g),
    });
    return sumSlabs(partial, [g.KH, g.KW, 1, g.Cout], into);
  }
  const rowsPerSplit = Math.max(1, Math.min(rows, Math.floor(GRAD_WEIGHT_BUDGET / (g.OW + 1))));
  const splits = Math.ceil(rows / rowsPerSplit);
  const weights = g.KH * g.KW * g.cinG * g.Cout;
  const vec4 = convVec4('GRAD_WEIGHT', g, { x, dy }, (s) => void conv2dGradWeight(s.x!, s.dy!, g));
  const partial = slabs(splits, [g.KH, g.KW, g.cinG, g.Cout], into);
  launch({
    kernel: convSpec('conv2d-grad-weight', 'GRAD_WEIGHT', ['x', 'dy'], 'dw', g, vec4),
    op: 'conv2d-grad-weight',
    uniforms: convUniforms(g, rowsPerSplit),
    tensors: { x, dy, dw: partial },
    invocations: (vec4 ? weights / 16 : weights) * splits,
    counts: { fma: convMacs(g) },
    macs: convFullMacs(g),
  });
  return sumSlabs(partial, [g.KH, g.KW, g.cinG, g.Cout], into);
}

/** A convolution of a chain: its weights [KH, KW, C, C] and the activation after it. */
export interface ChainLayer {
  w: Tensor;
  activation: 'none' | 'gelu' | 'sigmoid';
}

/** Layers a chain kernel runs at most, and the invocations of its workgroup (the kernel's default). */
const CHAIN_LAYERS = 3;
const CHAIN_WORKGROUP = 64;

/**
 * Whether one workgroup per image can run these convolutions (stride 1, 'same', no bias) of x [N, H, W, C]: C in
 * and out a multiple of 4, weights of one shape evenly spaced in one storage (`step` elements apart), two images in
 * workgroup memory, and each invocation's loop work within llvmpipe's bound.
 */
export function convChainFits(x: Tensor, layers: readonly ChainLayer[], step: number | undefined): boolean {
  const [, H, W, C] = x.shape as [number, number, number, number];
  const [KH, KW, cin, cout] = layers[0]!.w.shape as [number, number, number, number];
  const perInvocation = Math.ceil((H * W * C) / 4 / CHAIN_WORKGROUP) * KH * KW * C * layers.length;
  return (
    layers.length >= 2 && layers.length <= CHAIN_LAYERS && x.rank === 4 && C % 4 === 0 && cin === C && cout === C && KH % 2 === 1 && KW % 2 === 1 &&
    layers.every((l) => l.w.shape.join() === layers[0]!.w.shape.join()) && step !== undefined && step % 4 === 0 &&
    2 * H * W * C <= WORKGROUP_MEMORY_FLOATS && perInvocation <= 32_768
  );
}

/** The chain's convolutions in one dispatch (convChainFits must hold): [N, H, W, C]. */
export function convChainForward(x: Tensor, layers: readonly ChainLayer[], weights: Tensor, step: number): Tensor {
  const [N, H, W, C] = x.shape as [number, number, number, number];
  const [KH, KW] = layers[0]!.w.shape as [number, number];
  const g = convGeometry(x.shape, layers[0]!.w.shape, 1, 'same', 1);
  const y = Tensor.empty(x.shape);
  const act = (l: number) => {
    const a = layers[l]?.activation ?? 'none';
    return a === 'none' ? 'x' : UNARY[a].expr;
  };
  launch({
    kernel: {
      name: 'conv2d-chain',
      file: 'conv_chain.wgsl',
      constants: { H, W, C, KH, KW, ACT_0: act(0), ACT_1: act(1), ACT_2: act(2) },
      bindings: [read('X'), read('Wt', 'vec4f'), write('Y', 'vec4f')],
      uniforms: { layers: 'u32', w_step: 'u32', pad_top: 'u32', pad_left: 'u32' },
      workgroupSize: CHAIN_WORKGROUP,
      entry: 'workgroup',
    },
    op: 'conv2d-chain',
    uniforms: { layers: layers.length, w_step: step, pad_top: g.padTop, pad_left: g.padLeft },
    tensors: { X: x, Wt: weights, Y: y },
    workgroups: N,
    counts: plusCounts(...layers.map((l) => plusCounts({ fma: convMacs(g) }, l.activation === 'none' ? {} : scaled(UNARY[l.activation].counts, y.size)))),
    macs: layers.length * convFullMacs(g),
  });
  return y;
}
