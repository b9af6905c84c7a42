// Dimension coalescing for strided kernels: adjacent axes that every operand walks contiguously become one axis,
// so a per-channel broadcast over [B, H, W, C] is indexed as [B*H*W, C] (fewer divisions per element).

export interface Coalesced {
  shape: number[];
  strides: number[][];
  /** For each coalesced axis, the original axis it starts at (its outermost member). */
  origin: number[];
}

/**
 * Merges axis d into the axes after it when, for every stride list, stride[d] = stride of the merged run times
 * its size, and `mergeable(d)` allows it (e.g. no padding or slicing on that axis). Axes of size 1 vanish.
 */
export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[], mergeable: (axis: number) => boolean = () => true): Coalesced {
  const out: Coalesced = { shape: [], strides: strides.map(() => []), origin: [] };
  let size = 0;
  let run: number[] = [];
  let runMergeable = true;
  let origin = -1;
  const flush = () => {
    if (size === 0) return;
    out.shape.unshift(size);
    run.forEach((s, k) => out.strides[k]!.unshift(s));
    out.origin.unshift(origin);
  };
  for (let d = shape.length - 1; d >= 0; d--) {
    const dim = shape[d]!;
    if (dim === 1 && mergeable(d)) continue;
    const own = strides.map((s) => s[d]!);
    if (size > 0 && runMergeable && mergeable(d) && own.every((s, k) => s === run[k]! * size)) {
      size *= dim;
      origin = d;
      continue;
    }
    flush();
    size = dim;
    run = own;
    runMergeable = mergeable(d);
    origin = d;
  }
  flush();
  if (out.shape.length === 0) return { shape: [1], strides: strides.map(() => [0]), origin: [0] };
  return out;
}
