// One run of a sweep: `tokenwave train` in its own process and folder, its output kept in the folder's train.log.
// The child holds an IPC channel to us: if we die (kill -9, a lost machine), it saves its checkpoint and stops, so
// that whoever takes the run next resumes it and no run is ever trained by two processes at once.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SUMMARY_FILE, type RunSummary } from '../train/run-folder.js';
import { EXIT_RETRY_LATER } from '../util/errors.js';
import { makeFolder } from '../util/files.js';
import { runId, trainArguments, type RunSpec } from './grid.js';

const CLI = fileURLToPath(new URL('../../bin/tokenwave.js', import.meta.url));
const RUN_LOG = 'train.log';

const runFolder = (out: string, r: RunSpec) => join(out, 'runs', runId(r));

/** A finished run's summary, or undefined while it is not finished. */
export async function runSummary(out: string, r: RunSpec): Promise<RunSummary | undefined> {
  const path = join(runFolder(out, r), SUMMARY_FILE);
  if (!existsSync(path)) return undefined;
  return JSON.parse(await readFile(path, 'utf8')) as RunSummary;
}

/** `retry`: stopped by a fault outside the run (its GPU device lost, its folder in use by another process); worth trying again later. */
export type RunOutcome = { status: 'done'; summary: RunSummary } | { status: 'stopped' } | { status: 'retry' | 'failed'; reason: string };

export interface RunControl {
  /** Aborting asks the run to save its checkpoint and stop (SIGINT, as Ctrl-C on `tokenwave train`). */
  signal?: AbortSignal;
  backend?: string;
}

/** Trains (or resumes) one run to its end; a finished run returns at once. */
export async function executeRun(out: string, r: RunSpec, control: RunControl = {}): Promise<RunOutcome> {
  const done = await runSummary(out, r);
  if (done) return { status: 'done', summary: done };
  const dir = runFolder(out, r);
  await makeFolder(dir);
  const log = await open(join(dir, RUN_LOG), 'a');
  try {
    const args = [CLI, ...trainArguments(r, dir), ...(control.backend ? ['--backend', control.backend] : [])];
    // its own process group: a Ctrl-C in the terminal reaches only us, and we pass on one SIGINT (two would make
    // `train` quit without its checkpoint)
    const child = spawn(process.execPath, args, { stdio: ['ignore', log.fd, log.fd, 'ipc'], detached: true });
    const stop = () => child.kill('SIGINT');
    control.signal?.addEventListener('abort', stop);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : null)));
    });
    control.signal?.removeEventListener('abort', stop);
    const summary = await runSummary(out, r);
    if (code === 0 && summary) return { status: 'done', summary };
    if (code === 130 && control.signal?.aborted) return { status: 'stopped' };
    const why = await lastLine(join(dir, RUN_LOG));
    if (code === EXIT_RETRY_LATER) return { status: 'retry', reason: why.replace(/^tokenwave: /, '') };
    return { status: 'failed', reason: `tokenwave train exited with ${code}: ${why} (log: ${join(dir, RUN_LOG)})` };
  } finally {
    await log.close();
  }
}

async function lastLine(path: string): Promise<string> {
  const lines = (await readFile(path, 'utf8')).split(/[\r\n]+/).map((l) => l.trim()).filter(Boolean);
  return lines.findLast((l) => l.startsWith('tokenwave:')) ?? lines.at(-1) ?? '(no output)';
}
