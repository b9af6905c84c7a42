// The engine context: the runtime, memory scopes, gradient mode, the FLOP ledger and the module path under
// which kernels run. One engine is current at a time (like a framework's default device).
import { Runtime, type RuntimeOptions } from '../runtime/runtime.js';
import type { TimingMethod } from '../runtime/timer.js';
import { Ledger, type Capture, type KernelRecord, type Phase, type TfOp, type TfOpType } from './ledger.js';
import { TOKENWAVE_VERSION } from '../util/version.js';
import { Tensor } from './tensor.js';

export class Engine {
  readonly ledger = new Ledger();
  /** Set while anomaly detection is on: hears each float output a kernel wrote, with the kernel's description. */
  nonFiniteWatch: ((output: Tensor, binding: string, label: string) => void) | undefined;
  gradEnabled = true;
  phase: Phase = 'forward';
  modulePath: string[] = [];
  /** Tensors created in each open `tidy` scope, innermost last. */
  readonly scopes: Set<Tensor>[] = [];
  /** Live tensors (not disposed), for leak checks. */
  liveTensors = 0;
  /** Counts tensors moved into another storage (Tensor.moveTo): plans recorded before a move are stale. */
  storageMoves = 0;
  /** Set by shutdown(): the device is gone. */
  closed = false;
  private seedCounter = 0;
  private baseSeed = 0;
  private readonly constants = new Map<string, Tensor>();
  /** Where a parameter's gradient goes: its place in its optimizer's gradient arena (set by the optimizer). */
  readonly gradientSlots = new WeakMap<Tensor, Tensor>();

  constructor(readonly runtime: Runtime) {}

  /**
   * A constant tensor (an analysis window, a filterbank) uploaded once for this engine's life and never to be
   * disposed by its users: an upload in the middle of a pass would keep the pass from being planned.
   */
  constant(key: string, shape: readonly number[], values: () => ArrayLike<number>): Tensor {
    let t = this.constants.get(key);
    if (!t) {
      // a pooled buffer could still be written by work encoded before it was freed, after this upload
      t = Tensor.empty([...shape], 'f32', true).keep();
      this.runtime.writeFresh(t.buffer, Float32Array.from(values()));
      this.constants.set(key, t);
    }
    return t;
  }

  get path(): string {
    return this.modulePath.join('/');
  }

  /** Runs `fn` with the module path set to `path` (e.g. a gradient computed under the layer of its forward op). */
  atPath<T>(path: string, fn: () => T): T {
    const saved = this.modulePath;
    this.modulePath = path ? path.split('/') : [];
    try {
      return fn();
    } finally {
      this.modulePath = saved;
    }
  }

  track(tensor: Tensor): void {
    this.liveTensors++;
    this.scopes[this.scopes.length - 1]?.add(tensor);
  }

  /** Restarts the stream of per-op random seeds (dropout masks): same seed, same masks. */
  setSeed(seed: number): void {
    this.baseSeed = seed >>> 0;
    this.seedCounter = 0;
  }

  /** Runs `fn` and puts the seed stream back as it was, so that work outside a run (the tuner timing candidates
   * that draw dropout masks) leaves the run's masks as they would have been. */
  async keepingSeeds<T>(fn: () => Promise<T>): Promise<T> {
    const [base, counter] = [this.baseSeed, this.seedCounter];
    try {
      return await fn();
    } finally {
      this.baseSeed = base;
      this.seedCounter = counter;
    }
  }

  /** The next seed for a random op, derived from the base seed and a counter. */
  nextSeed(): number {
    return (Math.imul(this.baseSeed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(++this.seedCounter, 0xc2b2ae35)) >>> 0;
  }

  untrack(tensor: Tensor): void {
    for (const scope of this.scopes) scope.delete(tensor);
  }

  /**
   * Runs `fn` with every dispatch timed and returns the ledger's records of it, each with its kernel time, beside
   * the wall time of the whole call (from the start of `fn` until its GPU work is done). `method`: GPU timestamps
   * where the adapter has them, else each dispatch replayed alone afterwards (see runtime/timer.ts).
   */
  async profile<T>(fn: () => T | Promise<T>, options: { method?: TimingMethod } = {}): Promise<Profile<T>> {
    const runtime = this.runtime;
    await runtime.sync();
    const method = runtime.startTiming(options.method);
    let captured: Capture<T>;
    let wallMs: number;
    try {
      const start = performance.now();
      captured = await this.ledger.capture(fn);
      await runtime.sync();
      wallMs = performance.now() - start;
    } catch (err) {
      await runtime.stopTiming().catch(() => undefined);
      throw err;
    }
    const { timings, resolutionNs } = await runtime.stopTiming();
    const records: ProfiledRecord[] = [];
    for (const r of captured.records) {
      const t = r.dispatch === undefined ? undefined : timings[r.dispatch];
      if (t) records.push({ ...r, dispatch: t.index, ms: t.ms, startMs: t.startMs, workgroups: t.workgroups });
    }
    return {
      result: captured.result,
      records,
      tfOps: captured.tfOps,
      method,
      ...(resolutionNs !== undefined ? { resolutionNs } : {}),
      wallMs,
      kernelMs: records.reduce((s, r) => s + r.ms, 0),
    };
  }
}

/** A ledger record with the time its dispatch took. */
export interface ProfiledRecord extends KernelRecord {
  dispatch: number;
  /** Kernel time in milliseconds. */
  ms: number;
  /** Start on the timeline of the profiled call, in milliseconds. */
  startMs: number;
  workgroups: number;
}

export interface Profile<T> {
  result: T;
  records: ProfiledRecord[];
  tfOps: TfOp[];
  method: TimingMethod;
  /** The timestamps' effective resolution in nanoseconds (see runtime/timer.ts), where they were used. */
  resolutionNs?: number;
  /** Wall time of the profiled call (JavaScript, encoding, submits and GPU work), ms. */
  wallMs: number;
  /** Sum of the kernel times, ms. */
  kernelMs: number;
}

let current: Engine | undefined;

/** Opens the GPU and makes a new engine current. */
export async function init(options: RuntimeOptions = {}): Promise<Engine> {
  current = new Engine(await Runtime.create(options));
  return current;
}

export function engine(): Engine {
  if (!current) throw new Error('tokenwave: no engine; call `await init()` first');
  return current;
}

/** What a measurement on this engine depends on: adapter, backend, kernel variants, tokenwave version (a cache key). */
export function adapterKey(): string {
  const r = engine().runtime;
  return `${r.adapterName} | ${r.backend} ${r.featureLevel} | ${r.kernelVariants} kernels | tokenwave ${TOKENWAVE_VERSION}`;
}

/** Destroys the current engine's device. */
export function shutdown(): void {
  if (current) {
    current.closed = true;
    current.runtime.destroy();
  }
  current = undefined;
}

type Kept = Tensor | readonly Kept[] | { readonly [key: string]: Kept } | void | undefined | number | string | boolean;

/** Every tensor in a returned value (arrays and plain objects searched; a tensor's own fields are not). */
function collect(value: unknown, into: Set<unknown>): void {
  if (value === null || typeof value !== 'object') return;
  if (into.has(value)) return;
  into.add(value);
  if (value instanceof Tensor) return;
  for (const item of Array.isArray(value) ? value : Object.values(value)) collect(item, into);
}

/**
 * Runs `fn` and disposes every tensor it created except those it returns (anywhere in the returned value) and
 * those marked with `keep()`. Training steps run inside one so GPU memory stays flat.
 */
export function tidy<T extends Kept>(fn: () => T): T {
  const eng = engine();
  const scope = new Set<Tensor>();
  eng.scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    // what the scope made so far is freed: a caller that recovers (a batch that does not fit) leaks nothing
    for (const tensor of scope) tensor.dispose();
    throw err;
  } finally {
    eng.scopes.pop();
  }
  const returned = new Set<unknown>();
  collect(result, returned);
  const parent = eng.scopes[eng.scopes.length - 1];
  for (const tensor of scope) {
    if (returned.has(tensor)) parent?.add(tensor);
    else tensor.dispose();
  }
  return result;
}

/** Runs `fn` without recording gradients (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const eng = engine();
  const previous = eng.gradEnabled;
  eng.gradEnabled = false;
  try {
    return fn();
  } finally {
    eng.gradEnabled = previous;
  }
}

/** Runs `fn` with `name` appended to the module path that the FLOP ledger records. */
export function withPath<T>(name: string, fn: () => T): T {
  const eng = engine();
  eng.modulePath.push(name);
  try {
    return fn();
  } finally {
    eng.modulePath.pop();
  }
}

/** Records a TensorFlow op that Keras would have run here (the paper's FLOP convention), when the ledger records. */
export function recordTf(type: TfOpType, label: string, elements: number, extra: { reduce?: number; groups?: number } = {}): void {
  const eng = engine();
  if (eng.ledger.recording) eng.ledger.addTf({ type, label, path: eng.path, elements, ...extra });
}
