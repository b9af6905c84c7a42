// Confidence intervals against published values.
import { describe, expect, it } from 'vitest';
import { differenceInterval, wilson } from '../src/util/stats.js';

describe('confidence intervals', () => {
  it('Wilson intervals match Newcombe (1998), Table I', () => {
    // 81/263: 0.2553 to 0.3662; 15/148: 0.0624 to 0.1605; 0/20: 0 to 0.1611; 1/29: 0.0061 to 0.1718
    const cases: [number, number, number, number][] = [[81, 263, 0.2553, 0.3662], [15, 148, 0.0624, 0.1605], [0, 20, 0, 0.1611], [1, 29, 0.0061, 0.1718]];
    for (const [k, n, lo, hi] of cases) {
      const [l, h] = wilson(k, n);
      expect(l).toBeCloseTo(lo, 4);
      expect(h).toBeCloseTo(hi, 4);
    }
  });

  it("the difference interval matches Newcombe's method 10 (1998, Table II)", () => {
    // 56/70 - 48/80: 0.0524 to 0.3339; 9/10 - 3/10: 0.1705 to 0.8090
    const [l1, h1] = differenceInterval(56, 70, 48, 80);
    expect(l1).toBeCloseTo(0.0524, 4);
    expect(h1).toBeCloseTo(0.3339, 4);
    const [l2, h2] = differenceInterval(9, 10, 3, 10);
    expect(l2).toBeCloseTo(0.1705, 4);
    expect(h2).toBeCloseTo(0.809, 3);
  });
});
