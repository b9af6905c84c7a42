// Layout kernels: one strided-copy kernel serves permute, slice, pad, broadcast and concat.
import { stridesOf, Tensor, type Shape } from '../tensor/tensor.js';
import { launch, read, write } from './launch.js';
import { coalesce } from './strides.js';

interface StridedCopy {
  op: string;
  src: Tensor;
  dst: Tensor;
  /** The coordinates iterated over. */
  domain: Shape;
  inStride: readonly number[];
  outStride: readonly number[];
  /** Input coordinate = domain coordinate - lo. */
  lo?: readonly number[];
  /** Bounds of the input coordinates (outside them the copy writes 0). */
  inDims?: readonly number[];
  outOffset?: number;
  /** Each value multiplied by this on its way (a mean's gradient spread over what it averaged). */
  scale?: number;
}

function stridedCopy(c: StridedCopy): void {
  const n = c.domain.reduce((p, d) => p * d, 1);
  const lo = c.lo ?? new Array<number>(c.domain.length).fill(0);
  const inDims = c.inDims ?? c.domain;
  // Axes with padding or slicing keep their own bounds check; the others may merge.
  // (A rank-0 domain coalesces to one synthetic axis of size 1, which has no padding either.)
  const plain = (d: number) => (lo[d] ?? 0) === 0 && (inDims[d] ?? c.domain[d]) === c.domain[d];
  const m = coalesce(c.domain, [c.inStride, c.outStride], plain);
  const offset = c.outOffset ?? 0;
  // Four values per invocation when the innermost axis runs contiguously on both sides (a block copy, a permute
  // that keeps the last axis, a concat of rows): everything else then counts in vec4s.
  const last = m.shape.length - 1;
  const innermost = (k: number) => m.strides[k]![last] === 1;
  const vec4 =
    innermost(0) && innermost(1) && plain(m.origin[last]!) && m.shape[last]! % 4 === 0 && offset % 4 === 0 &&
    m.strides.every((strides) => strides.every((s, d) => d === last || s % 4 === 0));
  const w = vec4 ? 4 : 1;
  const type = vec4 ? 'vec4f' : 'f32';
  const scaling = c.scale !== undefined;
  const scaled = (strides: readonly number[]) => strides.map((s, d) => (d === last ? s : s / w));
  launch({
    kernel: {
      name: `${vec4 ? 'copy-vec4' : 'copy'}${scaling ? '+scale' : ''}`,
      file: 'copy.wgsl',
      constants: { RANK: m.shape.length, TYPE: type, SCALE: scaling },
      bindings: [read('src', type), write('dst', type)],
      uniforms: { out_offset: 'u32', shape: 'vec8u', in_stride: 'vec8u', out_stride: 'vec8u', lo: 'vec8u', in_dims: 'vec8u', ...(scaling ? { scale: 'f32' } : {}) },
    },
    op: c.op,
    uniforms: {
      out_offset: offset / w,
      shape: m.shape.map((d, i) => (i === last ? d / w : d)),
      in_stride: scaled(m.strides[0]!),
      out_stride: scaled(m.strides[1]!),
      lo: m.origin.map((d) => lo[d] ?? 0),
      in_dims: m.origin.map((d, i) => (plain(d) ? m.shape[i]! / (i === last ? w : 1) : inDims[d]!)),
      ...(scaling ? { scale: c.scale! } : {}),
    },
    tensors: { src: c.src, dst: c.dst },
    invocations: n / w,
    counts: scaling ? { mul: n } : {},
    bytesRead: n * 4,
    bytesWritten: n * 4,
  });
}

export function permuteKernel(x: Tensor, perm: readonly number[]): Tensor {
  const shape = perm.map((p) => x.shape[p]!);
  const out = Tensor.empty(shape);
  const strides = stridesOf(x.shape);
  stridedCopy({ op: 'permute', src: x, dst: out, domain: shape, inStride: perm.map((p) => strides[p]!), outStride: stridesOf(shape) });
  return out;
}

/** Copies x[start : start + shape] (per axis). */
export function sliceKernel(x: Tensor, start: readonly number[], shape: Shape): Tensor {
  const out = Tensor.empty(shape);
  stridedCopy({
    op: 'slice',
    src: x,
    dst: out,
    domain: shape,
    inStride: stridesOf(x.shape),
    outStride: stridesOf(shape),
    lo: start.map((s) => -s),
    inDims: x.shape,
  });
  return out;
}

/** Zero-pads x with `before[i]` and `after[i]` elements on axis i. */
export function padKernel(x: Tensor, before: readonly number[], after: readonly number[]): Tensor {
  const shape = x.shape.map((d, i) => d + before[i]! + after[i]!);
  const out = Tensor.empty(shape);
  stridedCopy({ op: 'pad', src: x, dst: out, domain: shape, inStride: stridesOf(x.shape), outStride: stridesOf(shape), lo: before, inDims: x.shape });
  return out;
}

/** x read with `strides` (0 along broadcast axes) into a tensor of `shape`; each value times `scale` where given. */
export function broadcastKernel(x: Tensor, shape: Shape, strides: readonly number[], scale?: number): Tensor {
  const out = Tensor.empty(shape);
  stridedCopy({ op: 'broadcast', src: x, dst: out, domain: shape, inStride: strides, outStride: stridesOf(shape), ...(scale === undefined ? {} : { scale }) });
  return out;
}

export function concatKernel(parts: readonly Tensor[], axis: number): Tensor {
  const shape = [...parts[0]!.shape];
  shape[axis] = parts.reduce((s, p) => s + p.shape[axis]!, 0);
  const out = Tensor.empty(shape);
  const outStride = stridesOf(shape);
  let offset = 0;
  for (const part of parts) {
    stridedCopy({
      op: 'concat',
      src: part,
      dst: out,
      domain: part.shape,
      inStride: stridesOf(part.shape),
      outStride,
      outOffset: offset * outStride[axis]!,
    });
    offset += part.shape[axis]!;
  }
  return out;
}
