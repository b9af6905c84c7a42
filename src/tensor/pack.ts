// Packed tensors: many tensors in one storage, each at an offset aligned to PACK_ALIGN elements, so one kernel can
// walk them all (AdamW updates a model's every parameter in a few dispatches instead of one per tensor) while each
// stays a tensor of its own for the rest of the engine (bound as its range alone, saved under its own name).
import { sizeOf, Tensor, type Shape } from './tensor.js';

/**
 * 64 floats: 256 bytes, the largest minStorageBufferOffsetAlignment WebGPU allows, so every tensor can be bound on
 * its own on every device; and one workgroup of 64 invocations never straddles two tensors.
 */
export const PACK_ALIGN = 64;

export interface PackLayout {
  /** Where each tensor starts, in elements. */
  offsets: number[];
  /** Elements of the whole storage (the last tensor's end, aligned). */
  total: number;
}

export function packLayout(sizes: readonly number[]): PackLayout {
  const offsets: number[] = [];
  let total = 0;
  for (const n of sizes) {
    offsets.push(total);
    total += Math.ceil(Math.max(n, 1) / PACK_ALIGN) * PACK_ALIGN;
  }
  return { offsets, total };
}

/**
 * Where `tensors` lie relative to the first, if they already share one storage in ascending order at aligned offsets
 * (a model's parameters, or an ordered part of them, gaps allowed).
 */
function packedLayoutOf(tensors: readonly Tensor[]): PackLayout | undefined {
  const first = tensors[0];
  if (!first) return { offsets: [], total: 0 };
  const base = first.byteOffset / 4;
  const offsets = tensors.map((t) => t.byteOffset / 4 - base);
  const aligned = tensors.every((t, i) => t.sharesStorage(first) && t.byteOffset % (PACK_ALIGN * 4) === 0 && (i === 0 || offsets[i]! >= offsets[i - 1]! + tensors[i - 1]!.size));
  const total = packLayout([offsets[offsets.length - 1]! + tensors[tensors.length - 1]!.size]).total;
  return aligned && first.storageRoom >= total * 4 ? { offsets, total } : undefined;
}

/**
 * Moves `tensors` (float32, each in a storage of its own) into one storage laid out by packLayout, keeping their
 * contents, and returns the layout; tensors already packed stay where they are (the layout then says where, relative
 * to the first). The padding is zeros.
 */
export function packTensors(tensors: readonly Tensor[]): PackLayout {
  const packed = packedLayoutOf(tensors);
  if (packed) return packed;
  const layout = packLayout(tensors.map((t) => t.size));
  const places = packedZeros(tensors.map((t) => t.shape), layout);
  tensors.forEach((t, i) => {
    t.moveTo(places[i]!);
    places[i]!.dispose();
  });
  return layout;
}

/** Zero-filled tensors of `shapes`, packed in one new storage by `layout` (keep()-ed: the caller disposes them). */
export function packedZeros(shapes: readonly Shape[], layout: PackLayout = packLayout(shapes.map(sizeOf))): Tensor[] {
  const whole = Tensor.zeros([layout.total]);
  const views = shapes.map((shape, i) => whole.viewAt(layout.offsets[i]!, shape).keep());
  whole.dispose();
  return views;
}
