// Elementwise kernels: unary maps with their gradients, and broadcasting binary maps, four values per invocation
// when the sizes allow. Each op's WGSL expression (written for V, f32 or vec4f) and its primitive counts per
// element sit side by side, so a declaration is checked where it is written.
import { plusCounts, scaled, type Primitive } from '../tensor/counts.js';
import { DROPOUT_UNIFORMS, dropoutCounts, dropoutUniforms, type DropoutMask } from './dropout.js';
import { sizeOf, stridesOf, Tensor, type Shape } from '../tensor/tensor.js';
import { launch, read, write, type KernelSpec } from './launch.js';
import { coalesce } from './strides.js';
import { benchOnScratch, choose, type Family } from './tuner.js';

type PerElement = Partial<Record<Primitive, number>>;

interface UnaryDef {
  /** y = f(x); scalars `a`, `b` come from the op's parameters. */
  expr: string;
  counts: PerElement;
  /** dx from x, y, dy (and a, b). */
  grad: string;
  gradCounts: PerElement;
}

const SQRT1_2 = '0.7071067811865476';
const INV_SQRT_2PI = '0.3989422804014327';

export const UNARY = {
  neg: { expr: '-x', counts: { mul: 1 }, grad: '-dy', gradCounts: { mul: 1 } },
  exp: { expr: 'exp(x)', counts: { exp: 1 }, grad: 'dy * y', gradCounts: { mul: 1 } },
  log: { expr: 'log(x)', counts: { log: 1 }, grad: 'dy / x', gradCounts: { div: 1 } },
  sqrt: { expr: 'sqrt(x)', counts: { sqrt: 1 }, grad: 'dy / (2.0 * y)', gradCounts: { mul: 1, div: 1 } },
  rsqrt: { expr: 'inverseSqrt(x)', counts: { rsqrt: 1 }, grad: '-0.5 * dy * y * y * y', gradCounts: { mul: 4 } },
  square: { expr: 'x * x', counts: { mul: 1 }, grad: '2.0 * x * dy', gradCounts: { mul: 2 } },
  reciprocal: { expr: '1.0 / x', counts: { div: 1 }, grad: '-dy * y * y', gradCounts: { mul: 3 } },
  relu: { expr: 'max(x, V(0.0))', counts: { cmp: 1 }, grad: 'select(V(0.0), dy, x > V(0.0))', gradCounts: { cmp: 1 } },
  relu6: {
    expr: 'clamp(x, V(0.0), V(6.0))',
    counts: { cmp: 2 },
    grad: 'select(V(0.0), dy, (x > V(0.0)) & (x < V(6.0)))',
    gradCounts: { cmp: 2 },
  },
  gelu: {
    expr: `0.5 * x * (1.0 + erf_v(x * ${SQRT1_2}))`,
    counts: { mul: 3, add: 1, erf: 1 },
    // d/dx [x Phi(x)] = Phi(x) + x phi(x)
    grad: `dy * (0.5 * (1.0 + erf_v(x * ${SQRT1_2})) + x * ${INV_SQRT_2PI} * exp(-0.5 * x * x))`,
    gradCounts: { mul: 7, add: 2, erf: 1, exp: 1 },
  },
  sigmoid: {
    expr: '1.0 / (1.0 + exp(-x))',
    counts: { mul: 1, exp: 1, add: 1, div: 1 },
    grad: 'dy * y * (1.0 - y)',
    gradCounts: { mul: 2, add: 1 },
  },
  tanh: { expr: 'tanh(x)', counts: { tanh: 1 }, grad: 'dy * (1.0 - y * y)', gradCounts: { mul: 2, add: 1 } },
  addScalar: { expr: 'x + a', counts: { add: 1 }, grad: 'dy', gradCounts: {} },
  mulScalar: { expr: 'x * a', counts: { mul: 1 }, grad: 'dy * a', gradCounts: { mul: 1 } },
  /** x * a + b: a fused scale and shift (the paper's Normalization layer). */
  affine: { expr: 'fma(x, V(a), V(b))', counts: { fma: 1 }, grad: 'dy * a', gradCounts: { mul: 1 } },
  clamp: {
    expr: 'clamp(x, V(a), V(b))',
    counts: { cmp: 2 },
    grad: 'select(V(0.0), dy, (x >= V(a)) & (x <= V(b)))',
    gradCounts: { cmp: 2 },
  },
} satisfies Record<string, UnaryDef>;

export type UnaryOp = keyof typeof UNARY;

/** Values per invocation: four (vec4) when the count allows. */
const widthFor = (n: number) => (n % 4 === 0 ? 4 : 1);
const vType = (width: number) => (width === 4 ? 'vec4f' : 'f32');

/** Invocations per workgroup of an elementwise kernel, by candidate: the rule's 64, or 128 or 256. */
const ELEMENTWISE_WORKGROUPS: Record<string, number> = { wg64: 64, wg128: 128, wg256: 256 };

/** The workgroup size of an elementwise kernel: keyed by the kernel (name) and its invocations. */
const ELEMENTWISE_FAMILY: Family<{ kernel: string; invocations: number }> = {
  name: 'elementwise',
  key: (p) => `${p.kernel} ${p.invocations}`,
  candidates: () => Object.keys(ELEMENTWISE_WORKGROUPS),
  rule: () => 'wg64',
};

/** `spec` with the tuner's workgroup size for `invocations` of it; `rerun` runs the op again on the scratch
 * tensors given (in the order of `tensors`), for the tuner to time. */
function sized(spec: KernelSpec, invocations: number, tensors: Tensor[], rerun: (scratch: Tensor[]) => void): KernelSpec {
  const workgroupSize = ELEMENTWISE_WORKGROUPS[choose(ELEMENTWISE_FAMILY, { kernel: spec.name, invocations }, () => benchOnScratch(tensors, rerun))]!;
  if (workgroupSize === 64) return spec;
  const bySize = resized.get(spec) ?? new Map<number, KernelSpec>();
  resized.set(spec, bySize);
  let sizedSpec = bySize.get(workgroupSize);
  // the name says the variant, as profiles list kernels by name
  if (!sizedSpec) bySize.set(workgroupSize, (sizedSpec = { ...spec, name: `${spec.name}-wg${workgroupSize}`, workgroupSize }));
  return sizedSpec;
}

/** Declarations with another workgroup size, kept so that a kernel's runs share one object (the runtime's cache). */
const resized = new WeakMap<KernelSpec, Map<number, KernelSpec>>();

function unarySpec(op: UnaryOp, grad: boolean, width: number, dropout: boolean): KernelSpec {
  const def: UnaryDef = UNARY[op];
  const type = vType(width);
  return {
    name: `${grad ? 'unary-grad' : 'unary'}:${op}${dropout ? '+dropout' : ''}`,
    file: 'unary.wgsl',
    constants: { GRAD: grad, EXPR: grad ? def.grad : def.expr, TYPE: type, VEC: width === 4, DROPOUT: dropout },
    bindings: grad ? [read('xs', type), read('ys', type), read('dys', type), write('dxs', type)] : [read('xs', type), write('ys', type)],
    uniforms: dropout ? { a: 'f32', b: 'f32', ...DROPOUT_UNIFORMS } : { a: 'f32', b: 'f32' },
  };
}

const unarySpecs = new Map<string, KernelSpec>();

function runUnary(op: UnaryOp, grad: boolean, tensors: Record<string, Tensor>, a: number, b: number, dropout?: DropoutMask): Tensor {
  const def: UnaryDef = UNARY[op];
  const x = tensors.xs!;
  const width = widthFor(x.size);
  const key = `${op}:${grad}:${width}:${!!dropout}`;
  let kernel = unarySpecs.get(key);
  if (!kernel) unarySpecs.set(key, (kernel = unarySpec(op, grad, width, !!dropout)));
  const out = Tensor.empty(x.shape);
  const drop = dropout && dropoutUniforms(dropout);
  const inputs = Object.values(tensors);
  launch({
    kernel: sized(kernel, x.size / width, inputs, (scratch) => {
      const named = Object.fromEntries(Object.keys(tensors).map((name, i) => [name, scratch[i]!]));
      runUnary(op, grad, named, a, b, dropout);
    }),
    op: grad ? `${op}-grad` : op,
    uniforms: { a, b, ...drop?.fixed },
    ...(drop ? { replayUniforms: drop.changing } : {}),
    tensors: { ...tensors, [grad ? 'dxs' : 'ys']: out },
    invocations: x.size / width,
    // a dropout's gradient first: a compare and a multiply per element, as the dropout kernel declares
    counts: plusCounts(scaled(grad ? def.gradCounts : def.counts, x.size), dropout ? dropoutCounts(x.size) : {}),
  });
  return out;
}

export function unaryForward(op: UnaryOp, x: Tensor, a = 0, b = 0): Tensor {
  return runUnary(op, false, { xs: x }, a, b);
}

/**
 * dx from the input x, the output y and the output's gradient dy; with `dropout`, dy is the gradient of a dropout
 * that followed the op (fused into the kernel that applied it), masked here first.
 */
export function unaryBackward(op: UnaryOp, x: Tensor, y: Tensor, dy: Tensor, a = 0, b = 0, dropout?: DropoutMask): Tensor {
  return runUnary(op, true, { xs: x, ys: y, dys: dy }, a, b, dropout);
}

export const BINARY = {
  add: { expr: 'x + y', counts: { add: 1 } },
  sub: { expr: 'x - y', counts: { add: 1 } },
  mul: { expr: 'x * y', counts: { mul: 1 } },
  div: { expr: 'x / y', counts: { div: 1 } },
} satisfies Record<string, { expr: string; counts: PerElement }>;

export type BinaryOp = keyof typeof BINARY;

/** numpy broadcasting of two shapes; throws naming both shapes when they are incompatible. */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`shapes [${a.join(', ')}] and [${b.join(', ')}] cannot be broadcast together`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides that read `shape` as if broadcast to `target` (0 along broadcast axes). */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const own = stridesOf(shape);
  const offset = target.length - shape.length;
  return target.map((_, i) => {
    const j = i - offset;
    return j < 0 || shape[j] === 1 ? 0 : own[j]!;
  });
}

/** How an operand maps onto the output's flat index: itself, a block repeated along the leading axes, or one value
 * spread over a block of the trailing axes (n: the block's size). */
type OperandLayout = { kind: 'same' } | { kind: 'repeat'; n: number } | { kind: 'spread'; n: number };

function operandLayout(shape: Shape, out: Shape): OperandLayout | undefined {
  const padded = [...new Array<number>(out.length - shape.length).fill(1), ...shape];
  const size = sizeOf(shape);
  if (size === sizeOf(out)) return { kind: 'same' };
  if (size === 1) return { kind: 'spread', n: sizeOf(out) };
  const suffixFrom = padded.findIndex((d) => d !== 1);
  if (padded.slice(suffixFrom).every((d, i) => d === out[suffixFrom + i])) return { kind: 'repeat', n: size };
  let prefixTo = padded.length;
  while (prefixTo > 0 && padded[prefixTo - 1] === 1) prefixTo--;
  if (padded.slice(0, prefixTo).every((d, i) => d === out[i])) return { kind: 'spread', n: sizeOf(out) / size };
  return undefined;
}

/** The operand's WGSL read and binding type for `width` values per invocation, or undefined when it does not fit. */
function operandRead(name: string, layout: OperandLayout, width: number): { expr: string; type: 'f32' | 'vec4f'; n: number } | undefined {
  const type = vType(width);
  switch (layout.kind) {
    case 'same':
      return { expr: `${name}[i]`, type, n: 0 };
    case 'repeat':
      return layout.n % width === 0 ? { expr: `${name}[i % u.${name}_n]`, type, n: layout.n / width } : undefined;
    case 'spread':
      return layout.n % width === 0 ? { expr: `V(${name}[i / u.${name}_n])`, type: 'f32', n: layout.n / width } : undefined;
  }
}

export function binaryForward(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(a.shape, b.shape);
  const out = Tensor.empty(shape);
  const layouts = [operandLayout(a.shape, shape), operandLayout(b.shape, shape)];
  const direct = (width: number) => {
    if (!layouts[0] || !layouts[1] || out.size % width !== 0) return undefined;
    const [l, r] = [operandRead('lhs', layouts[0], width), operandRead('rhs', layouts[1], width)];
    return l && r ? { l, r, width } : undefined;
  };
  const fast = direct(4) ?? direct(1);
  const counts = scaled(BINARY[op].counts, out.size);
  if (fast) {
    const { l, r, width } = fast;
    const kernel: KernelSpec = {
      name: `binary:${op}`,
      file: 'binary.wgsl',
      constants: { STRIDED: false, RANK: 0, LHS: l.expr, RHS: r.expr, EXPR: BINARY[op].expr, TYPE: vType(width) },
      bindings: [read('lhs', l.type), read('rhs', r.type), write('out', vType(width))],
      uniforms: { lhs_n: 'u32', rhs_n: 'u32' },
    };
    launch({
      kernel: sized(kernel, out.size / width, [a, b], ([sa, sb]) => void binaryForward(op, sa!, sb!)),
      op,
      uniforms: { lhs_n: l.n, rhs_n: r.n },
      tensors: { lhs: a, rhs: b, out },
      invocations: out.size / width,
      counts,
    });
    return out;
  }
  const m = coalesce(shape, [broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)]);
  launch({
    kernel: {
      name: `binary:${op}`,
      file: 'binary.wgsl',
      constants: { STRIDED: true, RANK: m.shape.length, LHS: '', RHS: '', EXPR: BINARY[op].expr, TYPE: 'f32' },
      bindings: [read('lhs'), read('rhs'), write('out')],
      uniforms: { shape: 'vec8u', a_stride: 'vec8u', b_stride: 'vec8u' },
    },
    op,
    uniforms: { shape: m.shape, a_stride: m.strides[0]!, b_stride: m.strides[1]! },
    tensors: { lhs: a, rhs: b, out },
    invocations: out.size,
    counts,
  });
  return out;
}
