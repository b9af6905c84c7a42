// Timing a repeated call the same way everywhere (the dry run's and the demo's step times, latency, the benchmarks).

/** The milliseconds of `repeats` calls of `run` (awaited), sorted, after one untimed call (which compiles the kernels). */
export async function msAfterWarmUp(run: () => Promise<void>, repeats: number): Promise<number[]> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b);
}

/** The value below which a share `q` of `sorted` (ascending) lies: the nearest-rank quantile. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** The middle value of `xs` (the upper one of an even count). */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The median milliseconds of `repeats` calls of `run` (awaited), after one untimed call. */
export async function medianMsAfterWarmUp(run: () => Promise<void>, repeats: number): Promise<number> {
  const times = await msAfterWarmUp(run, repeats);
  return times[Math.floor(repeats / 2)]!;
}
