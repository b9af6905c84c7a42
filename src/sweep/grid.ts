// A sweep's runs: the paper's grids, or a grid file (a list of runs, or the cartesian product of the values given
// for each setting), each run a `tokenwave train` identified by its settings.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { modelConfig, protocolOf, type Family, type ModelOptions } from '../models/config.js';
import { SCHEDULES, type ScheduleName } from '../train/schedule.js';
import { TokenwaveError } from '../util/errors.js';

/** A grid file, a grid name or an option that cannot make runs. */
export class GridError extends TokenwaveError {
  override name = 'GridError';
}

/** One training run: the settings of `tokenwave train` that change its result. */
export interface RunSpec {
  model: string;
  data: string;
  seed: number;
  epochs: number;
  batchSize?: number;
  schedule?: ScheduleName;
  lr?: number;
  modelOptions?: ModelOptions;
  split?: 'paper' | 'proper';
  limitPerClass?: number;
  condensed?: boolean;
  esc10?: boolean;
  backgroundNoise?: string;
}

const SETTINGS: Record<keyof RunSpec, (v: unknown) => boolean> = {
  model: (v) => typeof v === 'string',
  data: (v) => typeof v === 'string',
  seed: (v) => Number.isInteger(v) && (v as number) >= 0,
  epochs: (v) => Number.isInteger(v) && (v as number) >= 1,
  batchSize: (v) => Number.isInteger(v) && (v as number) >= 1,
  schedule: (v) => SCHEDULES.includes(v as ScheduleName),
  lr: (v) => typeof v === 'number' && v > 0,
  modelOptions: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  split: (v) => v === 'paper' || v === 'proper',
  limitPerClass: (v) => Number.isInteger(v) && (v as number) >= 1,
  condensed: (v) => typeof v === 'boolean',
  esc10: (v) => typeof v === 'boolean',
  backgroundNoise: (v) => typeof v === 'string' && /^[0-9.]+,[0-9.]+$/.test(v),
};
const KEYS = Object.keys(SETTINGS) as (keyof RunSpec)[];

export const GRID_NAMES = ['paper-speech', 'paper-esc'] as const;

/** The paper's Table 2 (24 TASR models: NT, 4T, 8T) or Table 3 (16 TESC models: NT, 8T), L in {4,8,10,12}, H in {8,12}. */
export function paperModels(grid: (typeof GRID_NAMES)[number]): string[] {
  const [family, tokens] = grid === 'paper-speech' ? ['TASR', ['NT', '4T', '8T']] : ['TESC', ['NT', '8T']];
  return [4, 8, 10, 12].flatMap((l) => tokens.flatMap((t) => [8, 12].map((h) => `${family}_${l}L_${t}-${h}H`)));
}

/** A run as a dry run may plan it: without a data folder, the paper's data set is assumed. */
export type PlannedRun = Omit<RunSpec, 'data'> & { data?: string };

/** What the command line adds to every run of a grid. */
export interface GridOverrides {
  data?: string;
  seeds?: number;
  epochs?: number;
  modelOptions?: ModelOptions;
}

/** The runs of `grid` (a grid name or a JSON file), validated, each once, in the grid's order. */
export async function loadGrid(grid: string, overrides?: GridOverrides): Promise<RunSpec[]>;
/** The same, where a run may have no data folder (a dry run's plan). */
export async function loadGrid(grid: string, overrides: GridOverrides, options: { requireData: false }): Promise<PlannedRun[]>;
export async function loadGrid(grid: string, overrides: GridOverrides = {}, options: { requireData?: boolean } = {}): Promise<PlannedRun[]> {
  const requireData = options.requireData ?? true;
  let entries: Record<string, unknown>[];
  let base = process.cwd();
  if ((GRID_NAMES as readonly string[]).includes(grid)) {
    if (!overrides.data && requireData) throw new GridError(`--grid ${grid} needs --data DIR (the data set its models train on)`);
    entries = [{ model: paperModels(grid as (typeof GRID_NAMES)[number]) }];
  } else {
    let text: string;
    try {
      text = await readFile(grid, 'utf8');
    } catch (err) {
      throw new GridError(`--grid ${grid}: not one of ${GRID_NAMES.join(', ')} and not a readable file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new GridError(`${grid}: not valid JSON (${(err as Error).message})`);
    }
    entries = gridEntries(parsed, grid);
    base = dirname(resolve(grid));
  }
  const runs = entries.flatMap((entry) => product(withOverrides(entry, overrides))).map((r, i) => validRun(r, `${grid}, run ${i + 1}`, base, requireData));
  const seen = new Set<string>();
  return runs.filter((r) => !seen.has(runId(r)) && !!seen.add(runId(r)));
}

/** A grid file: {"runs": [...]} with shared settings beside it, or one object whose array values are alternatives. */
function gridEntries(parsed: unknown, file: string): Record<string, unknown>[] {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new GridError(`${file}: a grid is a JSON object (settings, or "runs": [...])`);
  const { runs, ...shared } = parsed as Record<string, unknown>;
  if (runs === undefined) return [shared];
  if (!Array.isArray(runs) || runs.some((r) => typeof r !== 'object' || r === null || Array.isArray(r))) throw new GridError(`${file}: "runs" must be a list of objects`);
  return (runs as Record<string, unknown>[]).map((r) => ({ ...shared, ...r }));
}

function withOverrides(entry: Record<string, unknown>, o: GridOverrides): Record<string, unknown> {
  const out = { ...entry };
  if (o.data !== undefined) out.data = o.data;
  if (o.epochs !== undefined) out.epochs = o.epochs;
  if (o.seeds !== undefined) out.seed = Array.from({ length: o.seeds }, (_, i) => i);
  if (o.modelOptions !== undefined) {
    const given = out.modelOptions === undefined ? [{}] : Array.isArray(out.modelOptions) ? out.modelOptions : [out.modelOptions];
    out.modelOptions = given.map((m) => ({ ...(m as object), ...o.modelOptions }));
  }
  return out;
}

/** Every combination of the alternatives (array values) of an entry. */
function product(entry: Record<string, unknown>): Record<string, unknown>[] {
  return Object.entries(entry).reduce<Record<string, unknown>[]>(
    (runs, [key, value]) => runs.flatMap((run) => (Array.isArray(value) ? value : [value]).map((v) => ({ ...run, [key]: v }))),
    [{}],
  );
}

function validRun(r: Record<string, unknown>, where: string, base: string, requireData: boolean): PlannedRun {
  for (const [key, value] of Object.entries(r)) {
    const check = SETTINGS[key as keyof RunSpec];
    if (!check) throw new GridError(`${where}: unknown setting '${key}'. Settings: ${KEYS.join(', ')}`);
    if (!check(value)) throw new GridError(`${where}: '${key}' cannot be ${JSON.stringify(value)}`);
  }
  if (r.model === undefined) throw new GridError(`${where}: no model`);
  if (r.data === undefined && requireData) throw new GridError(`${where}: no data folder ("data" in the grid, or --data)`);
  let family: Family;
  try {
    family = modelConfig(r.model as string, r.modelOptions as ModelOptions | undefined).family;
  } catch (err) {
    throw new GridError(`${where}: ${(err as Error).message}`);
  }
  return { seed: 0, epochs: protocolOf({ family }).epochs, ...r, ...(r.data === undefined ? {} : { data: resolve(base, r.data as string) }) } as PlannedRun;
}

/** JSON with keys sorted at every level, so that equal settings give equal text. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The run's folder name: readable, and a hash of all its settings (re-running a sweep finds its runs again). */
export function runId(r: PlannedRun): string {
  return `${r.model}-seed${r.seed}-${createHash('sha256').update(canonical(r)).digest('hex').slice(0, 10)}`;
}

/** The settings that tell models apart in the report: everything but the seed. */
export function groupKey(r: PlannedRun): string {
  return canonical({ ...r, seed: undefined });
}

/** `tokenwave train` arguments for a run in `runDir`, resuming it if it has a checkpoint. */
export function trainArguments(r: RunSpec, runDir: string): string[] {
  const args = ['train', '--data', r.data, '--model', r.model, '--seed', String(r.seed), '--epochs', String(r.epochs), '--out', runDir, '--resume-if-any'];
  if (r.batchSize !== undefined) args.push('--batch-size', String(r.batchSize));
  if (r.schedule !== undefined) args.push('--schedule', r.schedule);
  if (r.lr !== undefined) args.push('--lr', String(r.lr));
  if (r.modelOptions !== undefined) args.push('--model-options', JSON.stringify(r.modelOptions));
  if (r.split !== undefined) args.push('--split', r.split);
  if (r.limitPerClass !== undefined) args.push('--limit-per-class', String(r.limitPerClass));
  if (r.condensed) args.push('--condensed');
  if (r.esc10) args.push('--esc10');
  if (r.backgroundNoise !== undefined) args.push('--background-noise', r.backgroundNoise);
  return args;
}
