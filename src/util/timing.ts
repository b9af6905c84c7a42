// Timing a repeated call the same way everywhere (the dry run's and the demo's step times, the benchmarks).

/** The median milliseconds of `repeats` calls of `run` (awaited), after one untimed call (which compiles the kernels). */
export async function medianMsAfterWarmUp(run: () => Promise<void>, repeats: number): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(repeats / 2)]!;
}
