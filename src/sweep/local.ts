// A sweep on this machine: the unfinished runs one after another (or N at a time), each resumed from its last
// checkpoint if an earlier sweep was interrupted, with a line per run and an overall ETA.
import { runId, type RunSpec } from './grid.js';
import { executeRun, runSummary } from './run.js';

/** How often a local sweep starts a run again that a fault outside it stopped (a lost GPU device), and after how long. */
const RETRIES = 2;
const RETRY_DELAY_MS = 3000;

export interface LocalOptions {
  parallel: number;
  backend?: string;
  /** Aborting stops the runs in flight at a checkpoint; the next sweep resumes them. */
  signal?: AbortSignal;
  say: (line: string) => void;
}

/** Runs what is unfinished; returns the ids of runs that failed (with why) or were stopped. */
export async function runLocal(out: string, runs: readonly RunSpec[], o: LocalOptions): Promise<{ failed: string[]; stopped: number }> {
  const todo: RunSpec[] = [];
  for (const r of runs) if (!(await runSummary(out, r))) todo.push(r);
  o.say(`${runs.length} run${runs.length === 1 ? '' : 's'}: ${runs.length - todo.length} finished before, ${todo.length} to run${o.parallel > 1 ? `, ${o.parallel} at a time` : ''}`);
  const eta = new Eta(todo.length, o.parallel);
  const failed: string[] = [];
  let stopped = 0;
  let next = 0;
  const lane = async () => {
    while (next < todo.length && !o.signal?.aborted) {
      const r = todo[next++]!;
      const started = performance.now();
      o.say(`[${next}/${todo.length}] ${runId(r)}: started`);
      let outcome = await executeRun(out, r, { signal: o.signal, backend: o.backend });
      for (let retry = 1; outcome.status === 'retry' && retry <= RETRIES && !o.signal?.aborted; retry++) {
        o.say(`${runId(r)}: ${outcome.reason}; resuming it in ${RETRY_DELAY_MS / 1000} s (retry ${retry} of ${RETRIES})`);
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
        outcome = await executeRun(out, r, { signal: o.signal, backend: o.backend });
      }
      const minutes = (performance.now() - started) / 60_000;
      if (outcome.status === 'done') {
        eta.finished(minutes);
        o.say(`${runId(r)}: test top-1 ${(100 * outcome.summary.test.top1).toFixed(1)}% in ${minutes.toFixed(1)} min; ${eta.describe()}`);
      } else if (outcome.status === 'stopped') {
        stopped++;
        o.say(`${runId(r)}: stopped at a checkpoint; the next sweep resumes it`);
      } else {
        eta.finished(minutes);
        failed.push(`${runId(r)}: ${outcome.reason}`);
        o.say(`${runId(r)}: failed: ${outcome.reason}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.parallel, todo.length)) }, lane));
  return { failed, stopped };
}

/** Time left, from the mean duration of the runs finished so far. */
export class Eta {
  private done = 0;
  private minutes = 0;
  constructor(private readonly total: number, private readonly lanes = 1) {}
  finished(minutes: number): void {
    this.done++;
    this.minutes += minutes;
  }
  describe(): string {
    const left = this.total - this.done;
    if (left <= 0) return `${this.done}/${this.total} done`;
    const minutes = ((this.minutes / this.done) * left) / this.lanes;
    return `${this.done}/${this.total} done, about ${minutes >= 90 ? `${(minutes / 60).toFixed(1)} h` : `${Math.ceil(minutes)} min`} left`;
  }
}
