// Differentiable layout ops. reshape is a view (no copy); the others run the strided-copy kernel.
import { broadcastShapes, broadcastStrides } from '../kernels/elementwise.js';
import { broadcastKernel, concatKernel, padKernel, permuteKernel, sliceKernel } from '../kernels/layout.js';
import { sizeOf, type Shape, type Tensor } from '../tensor/tensor.js';
import { record, unbroadcast } from './autograd.js';

export function reshape(x: Tensor, shape: Shape): Tensor {
  const resolved = [...shape];
  const free = resolved.indexOf(-1);
  if (free >= 0) resolved[free] = x.size / sizeOf(resolved.filter((_, i) => i !== free));
  if (sizeOf(resolved) !== x.size) {
    throw new Error(`cannot reshape [${x.shape.join(', ')}] (${x.size} values) to [${shape.join(', ')}]`);
  }
  const out = x.view(resolved);
  return record(out, 'reshape', [x], (g) => [g.view(x.shape)]);
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort().some((p, i) => p !== i)) {
    throw new Error(`permute order [${perm.join(', ')}] is not a permutation of ${x.rank} axes`);
  }
  const out = permuteKernel(x, perm);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return record(out, 'permute', [x], (g) => [permuteKernel(g, inverse)]);
}

/** Swaps the last two axes. */
export function transpose(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 1] = x.rank - 2;
  perm[x.rank - 2] = x.rank - 1;
  return permute(x, perm);
}

export function slice(x: Tensor, start: readonly number[], size: readonly number[]): Tensor {
  const shape = size.map((s, i) => (s < 0 ? x.shape[i]! - start[i]! : s));
  shape.forEach((s, i) => {
    if (start[i]! < 0 || start[i]! + s > x.shape[i]!) {
      throw new Error(`slice [${start.join(', ')}] + [${shape.join(', ')}] is outside [${x.shape.join(', ')}]`);
    }
  });
  const out = sliceKernel(x, start, shape);
  const after = x.shape.map((d, i) => d - start[i]! - shape[i]!);
  return record(out, 'slice', [x], (g) => [padKernel(g, start, after)]);
}

export function pad(x: Tensor, before: readonly number[], after: readonly number[]): Tensor {
  const out = padKernel(x, before, after);
  return record(out, 'pad', [x], (g) => [sliceKernel(g, before, x.shape)]);
}

export function concat(parts: readonly Tensor[], axis: number): Tensor {
  const first = parts[0];
  if (!first) throw new Error('concat needs at least one tensor');
  for (const p of parts) {
    if (p.rank !== first.rank || p.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
      throw new Error(`concat on axis ${axis}: shapes ${parts.map((q) => `[${q.shape.join(', ')}]`).join(', ')} do not match`);
    }
  }
  const out = concatKernel(parts, axis);
  return record(out, 'concat', parts, (g) => {
    let offset = 0;
    return parts.map((p) => {
      const start = p.shape.map((_, i) => (i === axis ? offset : 0));
      offset += p.shape[axis]!;
      return sliceKernel(g, start, p.shape);
    });
  });
}

export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  const target = broadcastShapes(x.shape, shape);
  const out = broadcastKernel(x, target, broadcastStrides(x.shape, target));
  return record(out, 'broadcast', [x], (g) => [unbroadcast(g, x.shape)]);
}
