// The autotuner, one mechanism for every kernel family that has more than one way to compute a problem. A family
// declares its candidate variants, the key (a shape class) that decides between them, and today's hand-written
// rule. The tuner times the candidates on this adapter (wall clock around submits of many calls each, less an empty
// submit's cost, medians, interleaved, a bounded budget per key) and keeps the fastest per adapter, backend, tokenwave version and key in
// ~/.cache/tokenwave/tune.json. Choosing is synchronous (a kernel decides as it is dispatched), so tuning happens
// ahead of the work: tuneFor() encodes the work once without running it to find its keys, then times what is not
// cached. A run uses only what was cached before it started, so it stays bit-reproducible for a seed.
//
// TOKENWAVE_TUNE (one of TUNE_MODES): 'on' (default) tunes what a command is about to run, 'cached' uses cached
// choices and measures nothing, 'off' uses the rules alone.
import { adapterKey, engine, tidy, type Engine } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../util/errors.js';
import { seededRandom } from '../util/random.js';
import { platform } from '../runtime/platform.js';
import { median } from '../util/timing.js';

export const TUNE_MODES = ['on', 'cached', 'off'] as const;
export type TuneMode = (typeof TUNE_MODES)[number];

/** Bumped whenever a family's candidates or their meaning change, so cached choices are measured again. */
const TUNING = 6;
const CACHE = 'tune.json';

/** Timing budget per key, and the time one sample of a candidate aims at (many calls per submit when calls are short). */
const BUDGET_MS = 600;
const SAMPLE_MS = 4;
const MAX_CALLS_PER_SAMPLE = 64;
const MIN_ROUNDS = 3;
const MAX_ROUNDS = 9;
/** Candidates slower than this many times the best on their first call are not timed further. */
const PRUNE = 2;
/** The rule keeps its key unless the fastest candidate beats it by more than this factor: the same kernel timed
 * twice on a 2-core VM differs by up to 6-10%, and a choice made on noise can lose to the rule when timed again. */
const RULE_MARGIN = 1.1;
/** Encodings of the work per tune: a fused family's 'apart' choice reveals its parts' keys one level down, and
 * families nest one level deep (layernorm-linear over layernorm and matmul), so the third round finds nothing. */
const MAX_TUNE_ROUNDS = 4;

export interface Family<P> {
  readonly name: string;
  /** The shape class a choice is kept for (the same candidates, a similar cost). */
  key(problem: P): string;
  /** The variants that can compute this problem (never empty). */
  candidates(problem: P): readonly string[];
  /** The hand-written rule: the choice when untuned, and the baseline the benchmark compares with. */
  rule(problem: P): string;
}

/** A family's problem made runnable on scratch inputs of the same shapes, to time its candidates. */
export interface Bench {
  run(): void;
  dispose(): void;
}

/**
 * How candidates are timed: GPU timestamps (each call's kernel time) on hardware adapters that have them, whose
 * kernels of microseconds a clock around submits cannot resolve; else the wall clock around submits of many calls
 * (software adapters, where the JavaScript and the submits are part of what a variant costs).
 */
export type TuneClock = 'timestamps' | 'wall';

/** A cached choice: the winner and every candidate's median milliseconds per call. */
export interface TunedChoice {
  variant: string;
  ms: Record<string, number>;
  /** What timed them (choices cached before the clock was recorded were timed by the wall clock). */
  clock?: TuneClock;
  /** Where the first timing's winner was not the rule: the two timed again side by side, which decided. */
  recheck?: Record<string, number>;
  measuredAt: string;
}

/** What decided a family's variant for a key in this process (forced variants, the tuner's own, are not recorded). */
export interface ChoiceMade {
  variant: string;
  by: 'tuned' | 'rule';
}

interface Pending {
  family: string;
  key: string;
  candidates: readonly string[];
  rule: string;
  prepare: () => Bench;
}

interface TunerState {
  mode: TuneMode;
  prefix: string;
  /** Cached choices of this adapter, by `family key`. */
  tuned: Map<string, TunedChoice>;
  forced: Map<string, string>;
  made: Map<string, ChoiceMade>;
  collecting: Map<string, Pending> | undefined;
  /** Collect tuned keys too (to compare them with the rules), not only those still to tune. */
  collectingAll: boolean;
  clock: TuneClock;
}

const states = new WeakMap<Engine, TunerState>();

function modeFromEnv(): TuneMode {
  const value = (platform.setting('TOKENWAVE_TUNE') || 'on').toLowerCase();
  if ((TUNE_MODES as readonly string[]).includes(value)) return value as TuneMode;
  throw new ArgumentError(`TOKENWAVE_TUNE=${value}: use ${TUNE_MODES.join(', ')}`);
}

function state(): TunerState {
  const eng = engine();
  let s = states.get(eng);
  if (!s) {
    const prefix = `${adapterKey()} | tune v${TUNING} | `;
    const tuned = new Map<string, TunedChoice>();
    for (const [key, choice] of Object.entries(platform.readCacheSync<TunedChoice>(CACHE))) {
      if (key.startsWith(prefix)) tuned.set(key.slice(prefix.length), choice);
    }
    const runtime = eng.runtime;
    const clock: TuneClock = !runtime.software && runtime.features.includes('timestamp-query') ? 'timestamps' : 'wall';
    s = { mode: modeFromEnv(), prefix, tuned, forced: new Map(), made: new Map(), collecting: undefined, collectingAll: false, clock };
    states.set(eng, s);
  }
  return s;
}

export function tuneMode(): TuneMode {
  return state().mode;
}

/** The clock the tuner times candidates with on this engine's adapter. */
export function tuneClock(): TuneClock {
  return state().clock;
}

/** Sets the clock (tests time the timestamp path on a software adapter that has timestamps). */
export function setTuneClock(clock: TuneClock): void {
  state().clock = clock;
}

/** Sets the mode for the current engine (the library's equivalent of TOKENWAVE_TUNE). */
export function setTuneMode(mode: TuneMode): void {
  if (!(TUNE_MODES as readonly string[]).includes(mode)) throw new ArgumentError(`tune mode '${mode}': use ${TUNE_MODES.join(', ')}`);
  state().mode = mode;
}

/**
 * The variant of `family` for `problem`: a forced one where it can compute the problem, else the cached choice
 * (unless tuning is off), else the rule. `prepare` makes the problem runnable on scratch inputs; it is called
 * only while tuneFor() collects keys.
 */
export function choose<P>(family: Family<P>, problem: P, prepare: () => Bench): string {
  const s = state();
  const candidates = family.candidates(problem);
  const forced = s.forced.get(family.name);
  if (forced !== undefined && candidates.includes(forced)) return forced;
  const key = `${family.name} ${family.key(problem)}`;
  const tuned = s.mode === 'off' ? undefined : s.tuned.get(key);
  const rule = family.rule(problem);
  const choice: ChoiceMade = tuned && candidates.includes(tuned.variant) ? { variant: tuned.variant, by: 'tuned' } : { variant: rule, by: 'rule' };
  if (s.collecting) {
    if (candidates.length > 1 && (!tuned || s.collectingAll) && !s.collecting.has(key)) s.collecting.set(key, { family: family.name, key, candidates, rule, prepare });
  } else {
    s.made.set(key, choice);
  }
  return choice.variant;
}

/** Runs `fn` with `family` forced to `variant` wherever that variant can compute the problem (tests, the tuner). */
export function withVariant<T>(family: string, variant: string, fn: () => T): T {
  const forced = state().forced;
  const previous = forced.get(family);
  forced.set(family, variant);
  try {
    return fn();
  } finally {
    if (previous === undefined) forced.delete(family);
    else forced.set(family, previous);
  }
}

export interface KernelChoices {
  tuning: TuneMode;
  /** By `family key`. */
  choices: Record<string, ChoiceMade>;
}

/** The choices made in this process so far (for profiles and run summaries). */
export function choicesMade(): KernelChoices {
  const s = state();
  return { tuning: s.mode, choices: Object.fromEntries([...s.made].sort(([a], [b]) => a.localeCompare(b))) };
}

/** This adapter's cached choices, by `family key`, and the file they live in. */
export function tunedChoices(): { file: string; adapter: string; choices: Record<string, TunedChoice> } {
  const s = state();
  return { file: platform.cacheLocation(CACHE), adapter: s.prefix.slice(0, -3), choices: Object.fromEntries([...s.tuned].sort(([a], [b]) => a.localeCompare(b))) };
}

export interface TuneProgress {
  done: number;
  total: number;
  key: string;
}

/** One key tuned: the winner, the rule's choice and every candidate's median ms per call. */
export interface TuneResult extends TunedChoice {
  key: string;
  rule: string;
}

/** A kept tensor of `shape` holding seeded values in [-1, 1): an operand for timing a kernel (the tuner, the peaks). */
export function scratchTensor(shape: readonly number[], seed: number): Tensor {
  const random = seededRandom(seed);
  return Tensor.from(Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => random() * 2 - 1), [...shape]).keep();
}

/** A scratch operand of `t`'s shape and type (zeros for integers). */
export function scratchLike(t: Tensor): Tensor {
  return t.dtype === 'i32' ? Tensor.from(new Int32Array(t.size), [...t.shape], 'i32').keep() : scratchTensor(t.shape, t.size);
}

/** The tuner's bench for an op: `rerun` on kept scratch copies of `tensors` (their shapes and types), whatever it
 * makes freed after each call. */
export function benchOnScratch(tensors: readonly Tensor[], rerun: (scratch: Tensor[]) => void): Bench {
  const scratch = tensors.map(scratchLike);
  return { run: () => tidy(() => rerun(scratch)), dispose: () => scratch.forEach((t) => t.dispose()) };
}

/**
 * Milliseconds per call of `bench` under `variant`: one sample of `calls` calls, submitted together. By the wall
 * clock, less `overheadMs` (what submitting and waiting cost with no work), so that short kernels are not read as
 * the wait; by timestamps, the median call's kernel times summed, after one call more that is not counted (the
 * first dispatch after the GPU idled reads long: 4-7 ms against 0.45 for the same product on lavapipe).
 */
async function sample(familyName: string, variant: string, bench: Bench, calls: number, overheadMs: number): Promise<number> {
  const eng = engine();
  const calling = (count: number) =>
    withVariant(familyName, variant, () => {
      for (let i = 0; i < count; i++) tidy(() => bench.run());
    });
  if (state().clock === 'timestamps') {
    const { records } = await eng.profile(() => calling(calls + 1), { method: 'timestamps' });
    // every call of a variant dispatches the same kernels; the median call, robust to a dispatch stretched by
    // another process taking the CPU that a software adapter runs on
    const perCall = records.length / (calls + 1);
    const callMs = Array.from({ length: calls }, (_, c) => records.slice((c + 1) * perCall, (c + 2) * perCall).reduce((sum, r) => sum + r.ms, 0));
    return median(callMs);
  }
  const start = performance.now();
  calling(calls);
  await eng.runtime.sync();
  return Math.max(0, performance.now() - start - overheadMs) / calls;
}

/** The median milliseconds of a submit and wait with nothing in it. */
async function syncOverheadMs(): Promise<number> {
  const runtime = engine().runtime;
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    await runtime.sync();
    times.push(performance.now() - start);
  }
  return median(times);
}

/**
 * Times the candidates of one key, interleaved round by round, and returns their median ms per call. When
 * `prune`, a candidate whose first timed call took more than PRUNE times the best's is not timed further (its one
 * call is its figure): enough to choose, not to quote.
 */
function timeCandidates(p: Pending, prune: boolean): Promise<Record<string, number>> {
  return engine().keepingSeeds(() => timeEach(p, prune));
}

async function timeEach(p: Pending, prune: boolean): Promise<Record<string, number>> {
  const bench = p.prepare();
  try {
    const overhead = await syncOverheadMs();
    const first: Record<string, number> = {};
    // a first call compiles the variant's pipeline; the second is its first figure
    for (const v of p.candidates) {
      await sample(p.family, v, bench, 1, overhead);
      first[v] = await sample(p.family, v, bench, 1, overhead);
    }
    const best = Math.min(...Object.values(first));
    const contenders = p.candidates.filter((v) => !prune || first[v]! <= PRUNE * best);
    const times: Record<string, number[]> = Object.fromEntries(contenders.map((v) => [v, []]));
    const calls = (v: string) => Math.max(1, Math.min(MAX_CALLS_PER_SAMPLE, Math.ceil(SAMPLE_MS / Math.max(first[v]!, 1e-3))));
    const start = performance.now();
    for (let round = 0; round < MAX_ROUNDS && (round < MIN_ROUNDS || performance.now() - start < BUDGET_MS); round++) {
      for (const v of contenders) times[v]!.push(await sample(p.family, v, bench, calls(v), overhead));
    }
    return Object.fromEntries(p.candidates.map((v) => [v, times[v] ? median(times[v]) : first[v]!]));
  } finally {
    bench.dispose();
  }
}

/** The keys `work` meets (all with more than one candidate, or only those not tuned yet), found by encoding it without running. */
async function keysOf(work: () => void, all: boolean): Promise<Pending[]> {
  const s = state();
  s.collecting = new Map();
  s.collectingAll = all;
  try {
    await engine().runtime.withoutRunning(work);
    return [...s.collecting.values()];
  } finally {
    s.collecting = undefined;
    s.collectingAll = false;
  }
}

/** A tuned choice that differs from the rule, timed against it afresh (interleaved): the benchmark's check. */
export interface RuleComparison {
  key: string;
  rule: string;
  tuned: string;
  ruleMs: number;
  tunedMs: number;
}

/** Every cached choice `work` uses that differs from the rule, timed against the rule again. */
export async function compareWithRules(work: () => void): Promise<RuleComparison[]> {
  const s = state();
  const comparisons: RuleComparison[] = [];
  for (const p of await keysOf(work, true)) {
    const tuned = s.tuned.get(p.key)?.variant;
    if (tuned === undefined || tuned === p.rule || !p.candidates.includes(tuned)) continue;
    const ms = await timeCandidates({ ...p, candidates: [p.rule, tuned] }, false);
    comparisons.push({ key: p.key, rule: p.rule, tuned, ruleMs: ms[p.rule]!, tunedMs: ms[tuned]! });
  }
  return comparisons;
}

/**
 * The choice for a key whose candidates took `ms`: their winner if it is the rule, else the winner of the rule
 * and it timed afresh side by side (`recheck`). On a busy machine one timing can crown a variant that the next
 * finds slower than the rule (measured on llvmpipe: such choices lost to the rule by up to 0.87x when re-timed).
 */
async function decide(p: Pending, ms: Record<string, number>): Promise<Pick<TunedChoice, 'variant' | 'recheck'>> {
  const first = winner(ms, p.rule);
  if (first === p.rule) return { variant: first };
  const recheck = await timeCandidates({ ...p, candidates: [p.rule, first] }, false);
  return { variant: winner(recheck, p.rule), recheck };
}

/** The fastest candidate, unless the rule's is within RULE_MARGIN of it: a change must be worth more than noise. */
export function winner(ms: Readonly<Record<string, number>>, rule: string): string {
  const fastest = Object.keys(ms).reduce((best, v) => (ms[v]! < ms[best]! ? v : best));
  return ms[rule] !== undefined && ms[rule] <= ms[fastest]! * RULE_MARGIN ? rule : fastest;
}

/**
 * Tunes every key that `work` meets and that is not cached yet (in mode 'on'; nothing otherwise): `work` is
 * encoded once without running to find them, then each key's candidates are timed and the fastest cached.
 */
export async function tuneFor(work: () => void, onProgress?: (p: TuneProgress) => void): Promise<TuneResult[]> {
  const s = state();
  if (s.mode !== 'on') return [];
  const results: TuneResult[] = [];
  const entries: Record<string, TunedChoice> = {};
  // A fused family's 'apart' choice runs kernels of other families (a LayerNorm, then a product) that the first
  // encoding, under the fused rule, never met: encode again until no untuned key is left.
  for (let round = 0; round < MAX_TUNE_ROUNDS; round++) {
    // the seed stream advances as for one encoding of the work, however many it took
    const pending = round === 0 ? await keysOf(work, false) : await engine().keepingSeeds(() => keysOf(work, false));
    if (pending.length === 0) break;
    for (const p of pending) {
      onProgress?.({ done: results.length, total: results.length + pending.length, key: p.key });
      const ms = await timeCandidates(p, true);
      const choice: TunedChoice = { ...(await decide(p, ms)), ms, clock: s.clock, measuredAt: new Date().toISOString() };
      s.tuned.set(p.key, choice);
      entries[s.prefix + p.key] = choice;
      results.push({ key: p.key, rule: p.rule, ...choice });
    }
  }
  if (results.length > 0) {
    onProgress?.({ done: results.length, total: results.length, key: '' });
    await platform.updateCache(CACHE, entries, 'the tuned kernel choices');
  }
  return results;
}
