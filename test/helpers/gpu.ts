// Shared test helpers: one engine per test file, seeded random data, element-wise closeness checks.
import { afterAll, beforeAll, expect } from 'vitest';
import { init, shutdown, type Engine } from '../../src/tensor/engine.js';

export function useEngine(): { readonly engine: Engine } {
  const holder: { engine: Engine } = {} as { engine: Engine };
  beforeAll(async () => {
    holder.engine = await init();
  });
  afterAll(() => shutdown());
  return holder;
}

export { seededRandom as rng } from '../../src/util/random.js';
import { seededRandom as rng } from '../../src/util/random.js';

export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** Checks |actual - expected| <= atol + rtol * |expected| element-wise, reporting the worst element. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!);
    const excess = diff - (atol + rtol * Math.abs(expected[i]!));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`element ${worst}: got ${actual[worst]}, expected ${expected[worst]} (atol ${atol}, rtol ${rtol})`);
  }
}

/** Central finite differences of a float64 function f: R^n -> R at x. */
export function finiteDifferences(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  const grad = new Float64Array(x.length);
  const probe = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    probe[i] = x[i]! + h;
    const up = f(probe);
    probe[i] = x[i]! - h;
    const down = f(probe);
    probe[i] = x[i]!;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
