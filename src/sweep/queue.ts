// A sweep across machines on BullMQ (Redis): one job per run, its id the run's id (so a run is queued once);
// workers take jobs and train them in the run's folder under their --out, which must be storage every worker
// shares (a network filesystem), so that a worker that dies leaves a checkpoint the next one resumes. BullMQ's
// stalled-job check hands a dead worker's job to another once its lock expires.
import { DelayedError, Queue, WaitingError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { TokenwaveError } from '../util/errors.js';
import { runId, type RunSpec } from './grid.js';
import { Eta } from './local.js';
import { executeRun, runSummary } from './run.js';

export const QUEUE_NAME = 'tokenwave-sweep';

/** Redis out of reach, or a queue in a state that cannot go on. */
export class QueueError extends TokenwaveError {
  override name = 'QueueError';
}

interface JobData {
  spec: RunSpec;
  /** The tokenwave version that queued the run: a worker of another version refuses it. */
  version: string;
}

/** `url` as it may be shown: its password, if any, replaced by ***. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/** A connection to `url` (redis://[user:password@]host:port[/db]) that fails in seconds, with one clear line, when Redis is out of reach. */
export async function connect(url: string): Promise<ConnectionOptions> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new QueueError(`--queue ${redactedUrl(url)}: not a URL; give redis://HOST:PORT`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new QueueError(`--queue ${redactedUrl(url)}: not a redis:// URL`);
  const options = {
    host: parsed.hostname || '127.0.0.1',
    port: Number(parsed.port || 6379),
    db: Number(parsed.pathname.slice(1) || 0),
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
  const probe = new Redis({ ...options, lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    throw new QueueError(`cannot reach Redis at ${redactedUrl(url)}: ${(err as Error).message || (err as NodeJS.ErrnoException).code}; is redis-server running there?`);
  } finally {
    probe.disconnect();
  }
  return { ...options, maxRetriesPerRequest: null };
}

/** How long a worker leaves a run it handed back (a lost GPU device, its folder in use) before taking it again. */
const HAND_BACK_SECONDS = 5;

const CONNECTION_FAULTS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** Whether `err` is Redis being out of reach (which `watchConnection` reports), not a fault of a job. */
const isConnectionFault = (err: Error) => CONNECTION_FAULTS.has((err as NodeJS.ErrnoException).code ?? '') || /Connection is closed|connect ECONNREFUSED|Stream isn't writeable/.test(err.message);

/**
 * Says once when Redis goes out of reach and once when it is back. BullMQ's own connections retry with ioredis's
 * backoff (50 ms more per try, at most 2 s apart) and hold their commands meanwhile; this one only listens.
 */
function watchConnection(connection: ConnectionOptions, where: string, say: (line: string) => void, whileDown: string): () => void {
  const watch = new Redis({ ...(connection as object), maxRetriesPerRequest: null });
  let down = false;
  watch.on('error', (err: NodeJS.ErrnoException) => {
    if (down) return;
    down = true;
    say(`queue: lost Redis at ${where} (${err.code ?? err.message}); ${whileDown}; reconnecting`);
  });
  watch.on('ready', () => {
    if (!down) return;
    down = false;
    say(`queue: Redis at ${where} is back`);
  });
  return () => watch.disconnect();
}

/**
 * Whether `closing` (a BullMQ close) ended within `ms`. BullMQ's close waits for Redis, which may be gone for good
 * (taskforcesh/bullmq#4656); the process is ending, and what matters is already on disk, so it waits no longer.
 */
async function closedWithin(closing: Promise<unknown>, ms = 10_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([closing.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Queues one run: its job id is the run's id, so it is queued once. */
async function addRun(queue: Queue<JobData>, spec: RunSpec, version: string): Promise<void> {
  const id = runId(spec);
  await queue.add(id, { spec, version }, { jobId: id, attempts: 5, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: false, removeOnFail: false });
}

/** Queues the unfinished runs (a run already queued and not finished stays as it is); returns how many were added. */
export async function enqueue(connection: ConnectionOptions, out: string, runs: readonly RunSpec[], version: string): Promise<{ added: number; queued: number; finished: number }> {
  const queue = new Queue<JobData>(QUEUE_NAME, { connection });
  queue.on('error', () => {});
  let [added, queued, finished] = [0, 0, 0];
  try {
    for (const spec of runs) {
      if (await runSummary(out, spec)) {
        finished++;
        continue;
      }
      const id = runId(spec);
      const existing = await queue.getJob(id);
      if (existing) {
        const state = await existing.getState();
        // A job left from an earlier sweep whose run is not in `out` any more (or gave up): queue it afresh.
        if (state !== 'completed' && state !== 'failed') {
          queued++;
          continue;
        }
        await existing.remove();
      }
      await addRun(queue, spec, version);
      added++;
    }
  } finally {
    await queue.close();
  }
  return { added, queued, finished };
}

/**
 * Waits until every run of `runs` has finished in `out`; stops at the first run whose job gave up. A run that is
 * neither finished nor queued (a Redis restarted without persistence lost the queue) is queued again: if a worker
 * still trains it, whoever takes the new job finds its folder locked and hands the job back until it is done.
 */
export async function waitForRuns(connection: ConnectionOptions, where: string, out: string, runs: readonly RunSpec[], version: string, say: (line: string) => void, pollMs = 2000): Promise<void> {
  const queue = new Queue<JobData>(QUEUE_NAME, { connection });
  queue.on('error', () => {});
  const unwatch = watchConnection(connection, where, say, 'waiting for it (runs go on training)');
  const pending = new Set<RunSpec>();
  for (const r of runs) if (!(await runSummary(out, r))) pending.add(r);
  const eta = new Eta(pending.size);
  let last = performance.now();
  try {
    while (pending.size) {
      for (const r of [...pending]) {
        const summary = await runSummary(out, r);
        if (summary) {
          pending.delete(r);
          eta.finished((performance.now() - last) / 60_000);
          last = performance.now();
          say(`${runId(r)}: test top-1 ${(100 * summary.test.top1).toFixed(1)}% (${summary.adapter}); ${eta.describe()}`);
          continue;
        }
        const job = await queue.getJob(runId(r));
        if (!job) {
          say(`${runId(r)}: neither finished in ${out} nor queued on ${where} (a Redis restarted without persistence loses its queue): queued again`);
          await addRun(queue, r, version);
          continue;
        }
        if ((await job.getState()) === 'failed') throw new QueueError(`${runId(r)} failed ${job.attemptsMade} times: ${job.failedReason}`);
      }
      if (pending.size) await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  } finally {
    unwatch();
    await closedWithin(queue.close());
  }
}

export interface WorkerOptions {
  /** The queue's URL as it may be shown (redactedUrl). */
  where: string;
  out: string;
  version: string;
  concurrency: number;
  backend?: string;
  /** How long a job's lock lasts without renewal: a dead worker's job goes to another this long after it died. */
  lockSeconds: number;
  say: (line: string) => void;
}

/** Takes jobs until stopped; `stop()` checkpoints the runs in flight, hands their jobs back and closes. */
export function startWorker(connection: ConnectionOptions, o: WorkerOptions): { stop: () => Promise<void>; closed: Promise<void> } {
  const stopping = new AbortController();
  const inFlight = new Set<Promise<unknown>>();
  const handle = async (job: Job<JobData>, token?: string) => {
    const { spec, version } = job.data;
    if (version !== o.version) {
      o.say(`${job.id}: queued by tokenwave ${version}, this worker is ${o.version}: left for a worker of that version (upgrade this one, or queue the sweep again with ${o.version})`);
      await job.moveToDelayed(Date.now() + 10_000, token);
      throw new DelayedError();
    }
    if (await runSummary(o.out, spec)) {
      // finished while Redis was away, or by a worker that died before it could say so
      o.say(`${job.id}: finished before; recorded as finished now`);
      return {};
    }
    o.say(`${job.id}: ${job.attemptsMade > 0 ? `attempt ${job.attemptsMade + 1}` : 'started'}`);
    const run = executeRun(o.out, spec, { signal: stopping.signal, backend: o.backend });
    inFlight.add(run);
    const outcome = await run.finally(() => inFlight.delete(run));
    if (outcome.status === 'done') {
      o.say(`${job.id}: test top-1 ${(100 * outcome.summary.test.top1).toFixed(1)}%`);
      return { top1: outcome.summary.test.top1 };
    }
    if (outcome.status === 'stopped') {
      o.say(`${job.id}: checkpointed and handed back`);
      await job.moveToWait(token);
      throw new WaitingError();
    }
    if (outcome.status === 'retry') {
      // not the run's fault: no attempt is used up, and the checkpoint it left is resumed
      o.say(`${job.id}: ${outcome.reason}; handed back, to be taken again in ${HAND_BACK_SECONDS} s`);
      await job.moveToDelayed(Date.now() + HAND_BACK_SECONDS * 1000, token);
      throw new DelayedError();
    }
    o.say(`${job.id}: ${outcome.reason}`);
    throw new Error(outcome.reason);
  };
  const lockDuration = o.lockSeconds * 1000;
  const worker = new Worker<JobData>(QUEUE_NAME, handle, {
    connection,
    concurrency: o.concurrency,
    lockDuration,
    stalledInterval: Math.max(1000, lockDuration / 2),
    // a run killed with its worker is resumed, not failed, however often that happens
    maxStalledCount: 1000,
  });
  const unwatch = watchConnection(connection, o.where, o.say, 'the runs in flight train on');
  worker.on('error', (err) => {
    if (isConnectionFault(err)) return;
    const lost = err.message.match(/^(?:Missing (?:lock|key) for job|could not renew lock for job) (\S+?)\.?(?: |$)/);
    // a lock that expired while Redis was away: the queue hands the job out again, and a worker finds the run
    // finished (or resumes it, once this one has let its folder go)
    if (lost) o.say(`queue: ${lost[1]}: its lock expired while Redis was out of reach; the queue hands it out again`);
    else o.say(`queue: ${err.message}`);
  });
  let markClosed = () => {};
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  worker.on('closed', markClosed);
  return {
    closed,
    stop: async () => {
      stopping.abort();
      await Promise.allSettled([...inFlight]);
      if (!(await closedWithin(worker.close()))) {
        o.say('queue: Redis did not answer while the worker closed; stopping anyway (the runs are checkpointed; their jobs go back to the queue when their locks expire)');
      }
      unwatch();
      markClosed();
    },
  };
}
