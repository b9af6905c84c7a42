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
  const contiguous = m.shape.length === 1 && m.strides[0]![0] === 1 && m.strides[1]![0] === 1 && plain(m.origin[0]!);
  if (contiguous && n % 4 === 0 && offset % 4 === 0) {
    // A plain block copy (an identity permute, a concat along the first axis): vec4 loads, no index arithmetic.
    launch({
      kernel: { name: 'copy-vec4', file: 'copy_vec4.wgsl', bindings: [read('src', 'vec4f'), write('dst', 'vec4f')], uniforms: { offset4: 'u32' } },
      op: c.op,
      uniforms: { offset4: offset / 4 },
      tensors: { src: c.src, dst: c.dst },
      invocations: n / 4,
      counts: {},
      bytesRead: n * 4,
      bytesWritten: n * 4,
    });
    return;
  }
  launch({
    kernel: {
      name: 'copy',
      file: 'copy.wgsl',
      constants: { RANK: m.shape.length },
      bindings: [read('src'), write('dst')],
      uniforms: { out_offset: 'u32', shape: 'vec8u', in_stride: 'vec8u', out_stride: 'vec8u', lo: 'vec8u', in_dims: 'vec8u' },
    },
    op: c.op,
    uniforms: {
      out_offset: offset,
      shape: m.shape,
      in_stride: m.strides[0]!,
      out_stride: m.strides[1]!,
      lo: m.origin.map((d) => lo[d] ?? 0),
      in_dims: m.origin.map((d, i) => (plain(d) ? m.shape[i]! : inDims[d]!)),
    },
    tensors: { src: c.src, dst: c.dst },
    invocations: n,
    counts: {},
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

export function broadcastKernel(x: Tensor, shape: Shape, strides: readonly number[]): Tensor {
  const out = Tensor.empty(shape);
  stridedCopy({ op: 'broadcast', src: x, dst: out, domain: shape, inStride: strides, outStride: stridesOf(shape) });
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
