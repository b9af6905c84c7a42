// Confidence intervals for accuracies: the Wilson score interval of a proportion, and Newcombe's interval for the
// difference of two (his method 10, built from the two Wilson intervals).

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
