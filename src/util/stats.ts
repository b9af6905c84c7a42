// Confidence intervals for accuracies: the Wilson score interval of a proportion, Newcombe's interval for the
// difference of two (his method 10, built from the two Wilson intervals), and Student's t interval of a mean over
// seeds.

const Z95 = 1.959963984540054;

/** The 95% Wilson score interval [low, high] of `hits` successes in `n` trials. */
export function wilson(hits: number, n: number, z = Z95): [number, number] {
  if (n === 0) return [0, 1];
  const p = hits / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** The 95% interval of p1 - p2 for hits1 of n1 and hits2 of n2 (Newcombe 1998, method 10). */
export function differenceInterval(hits1: number, n1: number, hits2: number, n2: number): [number, number] {
  const [p1, p2] = [hits1 / n1, hits2 / n2];
  const [l1, u1] = wilson(hits1, n1);
  const [l2, u2] = wilson(hits2, n2);
  const d = p1 - p2;
  return [d - Math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + Math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)];
}

/** Student's t 0.975 quantiles for 1 to 30 degrees of freedom (beyond: the normal's). */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** The mean of `values` and the half-width of its 95% t interval (NaN for a single value: no spread to go on). */
export function meanInterval(values: readonly number[]): { mean: number; half: number } {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return { mean, half: Number.NaN };
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  return { mean, half: ((T975[n - 2] ?? Z95) * sd) / Math.sqrt(n) };
}
