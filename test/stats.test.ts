// Confidence intervals against published values.
import { describe, expect, it } from 'vitest';
import { differenceInterval, meanInterval, wilson } from '../src/util/stats.js';

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

  it('the t interval of a mean: hand-worked cases', () => {
    // 1, 2, 3: mean 2, sd 1, half-width t(0.975, 2) / sqrt(3) = 4.303 / 1.7321 = 2.4843
    const three = meanInterval([1, 2, 3]);
    expect(three.mean).toBe(2);
    expect(three.half).toBeCloseTo(2.4843, 3);
    // 10 values 0..9: sd = sqrt(82.5 / 9) = 3.0277; t(0.975, 9) = 2.262; half = 2.262 * 3.0277 / sqrt(10) = 2.1657
    expect(meanInterval(Array.from({ length: 10 }, (_, i) => i)).half).toBeCloseTo(2.1657, 3);
    expect(meanInterval([0.7]).half).toBeNaN();
  });
});
