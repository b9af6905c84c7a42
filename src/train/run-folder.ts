// A training run's folder, kept safe from crashes and from a second trainer:
//   run.lock      the owner's PID and host: one trainer per folder; a dead owner's lock is taken over
//   last/         the resumable checkpoint (model, AdamW's moments, the loop's position)
//   best/         the best-validation weights
//   log.jsonl     one line per finished epoch, consistent with last/ (cut back to it on resume)
// Checkpoint folders are filled under a temporary name, sealed with a manifest of their files' SHA-256 checksums
// written last, and swapped in by two renames. A crash at any point leaves a complete folder under one of three
// names (last, last.tmp-PID, last.old-PID); opening the run keeps the newest complete one and removes the rest.
// Loading verifies the checksums and the state's fields, so a corrupt file is named instead of trusted.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, open, readdir, readFile, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
import type { AudioModel } from '../models/model.js';
import { assignTensors, CheckpointError, CONFIG_FILE, modelTensors, tensorsToArrays, WEIGHTS_FILE } from '../models/checkpoint.js';
import { readCheckpointConfig, saveModel } from '../models/checkpoint-folder.js';
import type { AdamW } from '../optim/adamw.js';
import type { Tensor } from '../tensor/tensor.js';
import { TokenwaveError } from '../util/errors.js';
import type { Evaluation } from './evaluate.js';
import { makeFolder, writeFileAtomic } from '../util/files.js';
import type { KernelChoices } from '../kernels/tuner.js';

/** Training that cannot go on: divergence, a run folder in use or in an unusable state. */
export class TrainingError extends TokenwaveError {
  override name = 'TrainingError';
}

/** One finished epoch, as log.jsonl and the run's history hold it. */
export interface EpochLog {
  epoch: number;
  steps: number;
  lr: number;
  trainLoss: number;
  trainAccuracy: number;
  validationAccuracy: number;
  gap: number;
  stepsPerSecond: number;
  clipsPerSecond: number;
  msPerStep: number;
  seconds: number;
}

/** A finished run's record, written last (its presence marks the run done): `tokenwave train` writes it. */
export const SUMMARY_FILE = 'summary.json';
export interface RunSummary {
  model: string;
  adapter: string;
  parameters: number;
  /** Forward FLOPs per clip: the paper's count and the exact one. */
  flops: { paper: number; exact: number };
  batchSize: number;
  msPerStep: number;
  /** Inference, measured on the test set with pipelines compiled. */
  msPerClip: number;
  bestEpoch: number;
  bestValidation: number;
  test: Evaluation;
  history: EpochLog[];
  /** The kernel variants the run used, by family and shape class, and what chose each (TOKENWAVE_TUNE); absent
   * from summaries written before the tuner. */
  kernels?: KernelChoices;
}

/** Where the training loop stands: saved in last/state.json. */
export interface TrainState {
  epoch: number;
  stepInEpoch: number;
  globalStep: number;
  bestValidation: number;
  bestEpoch: number;
  epochLoss: number;
  epochCorrect: number;
  epochClips: number;
  epochSeconds: number;
  history: EpochLog[];
  /** The run's shape, checked on resume. */
  stepsPerEpoch: number;
  batchSize: number;
}

const MANIFEST = 'manifest.json';
const STATE_FILE = 'state.json';
const OPTIMIZER_FILE = 'optimizer.safetensors';

interface Manifest {
  format: 'tokenwave-run-checkpoint';
  globalStep: number;
  files: Record<string, string>;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Fault injection for the crash tests: TOKENWAVE_CRASH_AT=<point>[:<n>] kills the process with SIGKILL at the n-th
 * time (default first) it reaches that point of a checkpoint swap ('filled', 'moved-old', 'moved-new').
 */
const crashes = new Map<string, number>();
function crashPoint(point: string): void {
  const [wanted, nth = '1'] = (process.env.TOKENWAVE_CRASH_AT ?? '').split(':');
  if (wanted !== point) return;
  const seen = (crashes.get(point) ?? 0) + 1;
  crashes.set(point, seen);
  if (seen === Number(nth)) process.kill(process.pid, 'SIGKILL');
}

/** Whether `dir` is a sealed checkpoint folder whose files all match their checksums; its manifest if so. */
async function sealed(dir: string): Promise<Manifest | undefined> {
  try {
    const manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as Manifest;
    if (manifest.format !== 'tokenwave-run-checkpoint') return undefined;
    for (const [file, sum] of Object.entries(manifest.files)) if (sha256(await readFile(join(dir, file))) !== sum) return undefined;
    return manifest;
  } catch {
    return undefined;
  }
}

/** Fills a temporary folder, seals it with a manifest, then swaps it in. */
async function writeSealedFolder(dir: string, globalStep: number, fill: (temporary: string) => Promise<void>): Promise<void> {
  const temporary = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old-${process.pid}`;
  await rm(temporary, { recursive: true, force: true });
  try {
    await fill(temporary);
    const files: Record<string, string> = {};
    for (const file of (await readdir(temporary)).sort()) files[file] = sha256(await readFile(join(temporary, file)));
    await writeFileAtomic(join(temporary, MANIFEST), JSON.stringify({ format: 'tokenwave-run-checkpoint', globalStep, files } satisfies Manifest, null, 2));
  } catch (err) {
    await rm(temporary, { recursive: true, force: true });
    throw err;
  }
  crashPoint('filled');
  if (existsSync(dir)) await rename(dir, old);
  crashPoint('moved-old');
  await rename(temporary, dir);
  crashPoint('moved-new');
  await rm(old, { recursive: true, force: true });
}

/** AdamW's moments by parameter name, as saved in optimizer.safetensors. */
function momentTensors(model: AudioModel, opt: AdamW): [string, Tensor][] {
  return model.namedParameters().flatMap(([name, p]): [string, Tensor][] => {
    const { m, v } = opt.moments.get(p)!;
    return [[`${name}.m`, m], [`${name}.v`, v]];
  });
}

function validateState(s: unknown, file: string, expected: { stepsPerEpoch: number; batchSize: number; epochs: number }): TrainState {
  const fail = (what: string): never => {
    throw new CheckpointError(`${file}: ${what}: the checkpoint is damaged; drop --resume to start over, or use another --out`);
  };
  if (typeof s !== 'object' || s === null || Array.isArray(s)) fail('not a training state');
  const state = s as Record<string, unknown>;
  const integer = (key: string, least: number, most: number) => {
    const v = state[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < least || v > most) fail(`'${key}' must be an integer from ${least} to ${most}, got ${JSON.stringify(v)}`);
  };
  const finite = (key: string, least: number, most = Infinity) => {
    const v = state[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < least || v > most) fail(`'${key}' must be a number from ${least} to ${most}, got ${JSON.stringify(v)}`);
  };
  integer('stepsPerEpoch', 1, Number.MAX_SAFE_INTEGER);
  integer('batchSize', 1, Number.MAX_SAFE_INTEGER);
  if (state.stepsPerEpoch !== expected.stepsPerEpoch || state.batchSize !== expected.batchSize) {
    throw new CheckpointError(
      `${file}: the run was saved with batch size ${state.batchSize} and ${state.stepsPerEpoch} steps per epoch, this one has ${expected.batchSize} and ${expected.stepsPerEpoch}: resume with the same data and --batch-size`,
    );
  }
  integer('epoch', 0, Number.MAX_SAFE_INTEGER);
  integer('stepInEpoch', 0, expected.stepsPerEpoch - 1);
  integer('globalStep', 0, Number.MAX_SAFE_INTEGER);
  finite('bestValidation', -1, 1);
  integer('bestEpoch', -1, Number.MAX_SAFE_INTEGER);
  finite('epochLoss', 0);
  finite('epochCorrect', 0);
  integer('epochClips', 0, Number.MAX_SAFE_INTEGER);
  finite('epochSeconds', 0);
  if (!Array.isArray(state.history) || state.history.length !== state.epoch) fail(`'history' must list the ${state.epoch} finished epochs`);
  return state as unknown as TrainState;
}

export class RunFolder {
  readonly lastDir: string;
  readonly bestDir: string;
  readonly logFile: string;
  private readonly lockFile: string;

  /** made: this opener made the folder, so it removes it on close if nothing was written there. */
  private constructor(
    readonly dir: string,
    private readonly made: boolean,
  ) {
    this.lastDir = join(dir, 'last');
    this.bestDir = join(dir, 'best');
    this.logFile = join(dir, 'log.jsonl');
    this.lockFile = join(dir, 'run.lock');
  }

  /**
   * Opens (creating) a run folder: takes its lock, finishes or undoes any checkpoint swap a crash interrupted, and
   * removes stale temporary folders. `notice` hears what was recovered.
   */
  static async open(dir: string, notice: (message: string) => void = () => {}): Promise<RunFolder> {
    const run = new RunFolder(dir, await makeFolder(dir));
    await run.lock(notice);
    try {
      for (const target of [run.lastDir, run.bestDir]) await recover(target, notice);
    } catch (err) {
      await run.close();
      throw err;
    }
    return run;
  }

  private async lock(notice: (message: string) => void): Promise<void> {
    const owner = JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() });
    // The lock appears whole or not at all: written beside it, then hard-linked into place (a link fails where the
    // lock exists). A lock opened and then written would be empty for a moment, and a second trainer starting just
    // then would take it for a crashed one's and run too.
    const mine = `${this.lockFile}.${process.pid}-${randomUUID()}`;
    await writeFile(mine, owner);
    try {
      // a few rounds: a lock may vanish between a failed link and its read (an owner closing, a takeover checking)
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          await link(mine, this.lockFile);
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        const text = await readFile(this.lockFile, 'utf8').catch(() => undefined);
        if (text === undefined) continue;
        let held: { pid?: number; host?: string; started?: string } = {};
        try {
          held = JSON.parse(text);
        } catch {
          // a lock file damaged by hand or by the disk: no owner can be named
        }
        const alive = held.host === hostname() && typeof held.pid === 'number' && processAlive(held.pid);
        const inUse = (live: boolean) =>
          new TrainingError(
            `${this.dir} is in use by another training run (process ${held.pid} on ${held.host}, since ${held.started}): ` +
              `wait for it, or use another --out${live ? '' : ` (if that run is gone, delete ${this.lockFile})`}`,
            { retryable: true },
          );
        if (alive || (held.host !== undefined && held.host !== hostname())) throw inUse(alive);
        // The owner is dead. One opener at a time may remove its lock (holding the takeover file, made as the lock
        // is), and only while it is still the dead owner's: another may have taken over and locked anew meanwhile.
        const outcome = await this.takeOver(mine, text);
        if (outcome === 'busy') await new Promise((resolve) => setTimeout(resolve, 10));
        if (outcome === 'removed') notice(`taking over the lock of ${this.dir} from process ${held.pid ?? '?'}, which is no longer running`);
      }
      throw new TrainingError(`could not lock ${this.dir}: another process keeps taking it`);
    } finally {
      await rm(mine, { force: true });
    }
  }

  /**
   * Removes the lock when it still reads `deadOwner`, holding the takeover file meanwhile: 'removed', 'changed' (it
   * no longer does), or 'busy' (another opener holds the takeover file; one whose holder died is cleared for the
   * next try).
   */
  private async takeOver(mine: string, deadOwner: string): Promise<'removed' | 'changed' | 'busy'> {
    const takeover = `${this.lockFile}.takeover`;
    try {
      await link(mine, takeover);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = await readFile(takeover, 'utf8').then((t) => JSON.parse(t) as { pid?: number; host?: string }, () => undefined);
      if (holder && holder.host === hostname() && typeof holder.pid === 'number' && !processAlive(holder.pid)) await rm(takeover, { force: true });
      return 'busy';
    }
    try {
      if ((await readFile(this.lockFile, 'utf8').catch(() => undefined)) !== deadOwner) return 'changed';
      await rm(this.lockFile, { force: true });
      return 'removed';
    } finally {
      await rm(takeover, { force: true });
    }
  }

  /** Releases the lock. A folder this opener made and left empty (its run refused or failed first) goes too. */
  async close(): Promise<void> {
    await unlink(this.lockFile).catch(() => undefined);
    // rmdir removes an empty folder only: another opener's files keep it
    if (this.made) await rmdir(this.dir).catch(() => undefined);
  }

  /** Whether the run has a resumable checkpoint. */
  get resumable(): boolean {
    return existsSync(join(this.lastDir, MANIFEST));
  }

  /** The saved model configuration of the resumable checkpoint. */
  async lastConfig() {
    return readCheckpointConfig(this.lastDir);
  }

  async saveLast(model: AudioModel, opt: AdamW, state: TrainState): Promise<void> {
    await writeSealedFolder(this.lastDir, state.globalStep, async (temporary) => {
      await saveModel(temporary, model);
      const moments = await tensorsToArrays(momentTensors(model, opt), 'optimizer moment');
      await writeFileAtomic(join(temporary, OPTIMIZER_FILE), encodeSafetensors(moments, { step: String(opt.step) }));
      await writeFileAtomic(join(temporary, STATE_FILE), JSON.stringify(state, null, 2));
    });
  }

  async saveBest(model: AudioModel, globalStep: number): Promise<void> {
    await writeSealedFolder(this.bestDir, globalStep, (temporary) => saveModel(temporary, model));
  }

  /** Loads the resumable checkpoint into the model and optimizer, checking every file and field. */
  async restore(model: AudioModel, opt: AdamW, expected: { stepsPerEpoch: number; batchSize: number; epochs: number }): Promise<TrainState> {
    const dir = this.lastDir;
    if (!(await sealed(dir))) {
      throw new CheckpointError(`${dir}: its files do not match the checksums recorded when it was saved (a damaged or edited checkpoint); drop --resume to start over`);
    }
    const saved = await readCheckpointConfig(dir);
    if (saved.name !== model.config.name) {
      throw new CheckpointError(`${join(dir, CONFIG_FILE)}: the run was training ${saved.name}, not ${model.config.name}; use another --out or the same --model`);
    }
    const weightsFile = join(dir, WEIGHTS_FILE);
    assignTensors(modelTensors(model), decodeSafetensors(await readFile(weightsFile), weightsFile).tensors, weightsFile);
    const optimizerFile = join(dir, OPTIMIZER_FILE);
    const { tensors, metadata } = decodeSafetensors(await readFile(optimizerFile), optimizerFile);
    assignTensors(momentTensors(model, opt), tensors, optimizerFile);
    const stateFile = join(dir, STATE_FILE);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(stateFile, 'utf8'));
    } catch {
      throw new CheckpointError(`${stateFile}: not valid JSON: the checkpoint is damaged; drop --resume to start over`);
    }
    const state = validateState(parsed, stateFile, expected);
    opt.step = Number(metadata.step ?? 0);
    if (!Number.isInteger(opt.step) || opt.step !== state.globalStep) {
      throw new CheckpointError(`${optimizerFile}: the optimizer is at step ${metadata.step}, the state at ${state.globalStep}: the checkpoint is damaged`);
    }
    return state;
  }

  /** Appends one epoch's line to log.jsonl. */
  async appendLog(entry: EpochLog): Promise<void> {
    const handle = await open(this.logFile, 'a');
    try {
      await handle.writeFile(JSON.stringify(entry) + '\n');
    } finally {
      await handle.close();
    }
  }

  /** Rewrites log.jsonl as `history`: the epochs a checkpoint holds (a crash may have logged one more). */
  async writeLog(history: readonly EpochLog[]): Promise<void> {
    await writeFileAtomic(this.logFile, history.map((e) => JSON.stringify(e) + '\n').join(''));
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** After a crash: keeps the newest sealed one of `target`, its temporary and its old copy; removes the rest. */
async function recover(target: string, notice: (message: string) => void): Promise<void> {
  const parent = dirname(target);
  const name = basename(target);
  const siblings = (await readdir(parent)).filter((f) => f === name || f.startsWith(`${name}.tmp-`) || f.startsWith(`${name}.old-`));
  if (siblings.length === 0 || (siblings.length === 1 && siblings[0] === name)) return;
  let best: { path: string; step: number } | undefined;
  for (const f of siblings) {
    const manifest = await sealed(join(parent, f));
    if (manifest && (!best || manifest.globalStep > best.step || (manifest.globalStep === best.step && f === name))) best = { path: join(parent, f), step: manifest.globalStep };
  }
  for (const f of siblings) if (join(parent, f) !== best?.path) await rm(join(parent, f), { recursive: true, force: true });
  if (best && best.path !== target) {
    await rename(best.path, target);
    notice(`recovered ${target} from ${basename(best.path)} (step ${best.step}), left by an interrupted save`);
  }
}
