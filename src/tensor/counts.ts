// Primitive operation counts that every kernel declares for the shapes it runs on. Conventions (exact FLOPs,
// MACs, the paper's profiler rules) are pure functions of these records.

export const PRIMITIVES = ['fma', 'add', 'mul', 'div', 'cmp', 'exp', 'log', 'sqrt', 'rsqrt', 'erf', 'tanh', 'sin', 'cos'] as const;
export type Primitive = (typeof PRIMITIVES)[number];

export type OpCounts = Record<Primitive, number> & { bytesRead: number; bytesWritten: number };

export function counts(partial: Partial<OpCounts> = {}): OpCounts {
  const zero = Object.fromEntries(PRIMITIVES.map((p) => [p, 0])) as Record<Primitive, number>;
  return { ...zero, bytesRead: 0, bytesWritten: 0, ...partial };
}

/** Per-element counts times the number of elements. */
export function scaled(perElement: Partial<Record<Primitive, number>>, elements: number): Partial<OpCounts> {
  const out: Partial<OpCounts> = {};
  for (const [key, value] of Object.entries(perElement)) out[key as Primitive] = value * elements;
  return out;
}

/** Partial counts added key by key (a kernel that fuses several ops declares the sum of theirs). */
export function plusCounts(...parts: Partial<OpCounts>[]): Partial<OpCounts> {
  const out: Partial<OpCounts> = {};
  for (const part of parts) for (const [key, value] of Object.entries(part)) out[key as keyof OpCounts] = (out[key as keyof OpCounts] ?? 0) + value;
  return out;
}

export function addCounts(into: OpCounts, other: OpCounts): OpCounts {
  for (const key of Object.keys(into) as (keyof OpCounts)[]) into[key] += other[key];
  return into;
}

/** Arithmetic FLOPs under the exact convention: a fused multiply-add counts 2, every other primitive 1. */
export function exactFlops(c: OpCounts): number {
  let total = 0;
  for (const p of PRIMITIVES) total += p === 'fma' ? 2 * c[p] : c[p];
  return total;
}
