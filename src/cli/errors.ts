/** A command-line mistake: printed as one line, exit code 1. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parses an integer option (undefined stays undefined), refusing anything below `min`. */
export function integerOption(name: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}
