// `tokenwave sweep` (a grid of training runs, here or on a BullMQ queue) and `tokenwave worker` (takes a queue's runs).
import { Command, Option } from 'commander';
import { engine, init, shutdown } from '../tensor/engine.js';
import { ESTIMATE_METHODS, estimateRuns, type EstimateMethod, type RunEstimate } from '../sweep/estimate.js';
import { GRID_NAMES, loadGrid, type PlannedRun, type RunSpec } from '../sweep/grid.js';
import { runLocal } from '../sweep/local.js';
import { connect, enqueue, redactedUrl, startWorker, waitForRuns } from '../sweep/queue.js';
import { writeReport } from '../sweep/report.js';
import { makeFolder } from '../util/files.js';
import { TOKENWAVE_VERSION } from '../util/version.js';
import { backendOption, integerOption, parseModelOptions, UsageError } from './options.js';

interface SweepOptions {
  grid: string;
  out?: string;
  data?: string;
  seeds?: string;
  epochs?: string;
  modelOptions?: string;
  parallel: string;
  queue?: string;
  wait?: boolean;
  collect?: boolean;
  dryRun?: boolean;
  estimate: EstimateMethod;
  backend?: string;
}

const say = (line: string) => console.log(line);
const duration = (minutes: number) => (minutes >= 90 ? `${(minutes / 60).toFixed(1)} h` : minutes >= 1 ? `${minutes.toFixed(1)} min` : `${(60 * minutes).toFixed(0)} s`);

async function report(out: string, runs: readonly RunSpec[], grid: string): Promise<void> {
  const { rows, missing } = await writeReport(out, runs, `Sweep ${grid}`);
  console.log(`report: ${out}/results.md, .csv, .json${rows.length ? ', pareto.svg/.png' : ''} (${rows.length} models${missing.length ? `; ${missing.length} runs not finished` : ''})`);
}

async function dryRun(runs: readonly PlannedRun[], method: EstimateMethod, backend: string | undefined): Promise<void> {
  await init({ backend });
  try {
    console.log(
      method === 'measure'
        ? `measuring one training step per model on ${engine().runtime.adapterName}`
        : `FLOPs counted from a batch-1 forward pass; times from what is cached for ${engine().runtime.adapterName}, said below the table (--estimate measure times a step of each model)`,
    );
    console.log(`${'run'.padEnd(44)} ${'train clips'.padStart(11)} ${'batch'.padStart(5)} ${'steps'.padStart(7)} ${'paper FLOPs'.padStart(13)} ${'exact FLOPs'.padStart(13)} ${'ms/step'.padStart(8)} ${'time'.padStart(9)}  from`);
    const estimates = await estimateRuns(runs, method, (e) =>
      console.log(
        `${e.id.padEnd(44)} ${String(e.trainClips).padStart(11)} ${String(e.batch).padStart(5)} ${String(e.steps).padStart(7)} ${e.paperFlops.toLocaleString('en-US').padStart(13)} ` +
          `${e.exactFlops.toLocaleString('en-US').padStart(13)} ${e.msPerStep.toFixed(0).padStart(8)} ${duration(e.minutes).padStart(9)}  ${e.time.tag}${e.time.from ? ` (${e.time.from})` : ''}`,
      ),
    );
    for (const dataSet of new Set(estimates.map((e) => e.dataSet))) console.log(`data: ${dataSet}`);
    const sources = new Map<string, string>(estimates.map((e) => [e.time.tag, e.time.detail] as const));
    for (const [tag, detail] of sources) console.log(`${tag}: ${detail}`);
    console.log(totalLine(estimates));
  } finally {
    shutdown();
  }
}

function totalLine(estimates: readonly RunEstimate[]): string {
  const total = estimates.reduce((s, e) => s + e.minutes, 0);
  const floor = estimates.some((e) => e.time.tag === 'floor');
  return `${estimates.length} run${estimates.length === 1 ? '' : 's'}, ${floor ? 'at least' : 'about'} ${duration(total)} of training steps on this adapter, one run at a time (validation and evaluation not included)`;
}

async function sweepAction(o: SweepOptions): Promise<void> {
  const overrides = {
    data: o.data,
    seeds: integerOption('seeds', o.seeds, 1, 1000),
    epochs: integerOption('epochs', o.epochs, 1, 10_000),
    modelOptions: o.modelOptions === undefined ? undefined : parseModelOptions(o.modelOptions),
  };
  const parallel = integerOption('parallel', o.parallel, 1, 64)!;
  if (o.dryRun) return dryRun(await loadGrid(o.grid, overrides, { requireData: false }), o.estimate, o.backend);
  if (o.out === undefined) throw new UsageError('sweep: give --out <dir>, the folder its runs and report go to (only --dry-run needs none)');
  const out = o.out;
  const runs = await loadGrid(o.grid, overrides);
  await makeFolder(out);
  if (o.collect) return report(out, runs, o.grid);
  if (o.queue) {
    const connection = await connect(o.queue);
    const { added, queued, finished } = await enqueue(connection, out, runs, TOKENWAVE_VERSION);
    console.log(`${runs.length} run${runs.length === 1 ? '' : 's'}: ${finished} finished, ${queued} already queued, ${added} queued now on ${redactedUrl(o.queue)}`);
    if (!o.wait) {
      console.log(`start workers with: tokenwave worker --queue ${redactedUrl(o.queue)} --out ${out}; then: tokenwave sweep --grid ${o.grid} --out ${out} --queue ${redactedUrl(o.queue)} --collect (or --wait)`);
      return;
    }
    await waitForRuns(connection, redactedUrl(o.queue), out, runs, TOKENWAVE_VERSION, say);
    return report(out, runs, o.grid);
  }
  const stop = new AbortController();
  const onSigint = () => {
    if (stop.signal.aborted) process.exit(130);
    console.error('\ninterrupted: checkpointing the runs in flight (Ctrl-C again to quit at once); the next sweep resumes them');
    stop.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const { failed, stopped } = await runLocal(out, runs, { parallel, backend: o.backend, signal: stop.signal, say });
    await report(out, runs, o.grid);
    if (stopped) process.exitCode = 130;
    if (failed.length) throw new UsageError(`${failed.length} runs failed; the first: ${failed[0]}`);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export const sweepCommand = new Command('sweep')
  .description("train a grid of runs (the paper's tables, or a grid file), skipping finished ones and resuming interrupted ones; report accuracy against FLOPs and time")
  .requiredOption('--grid <name|file>', `${GRID_NAMES.join(' | ')} | FILE.json (a list of runs, or the cartesian product of the values given per setting)`)
  .option('--out <dir>', 'the sweep folder: runs/<run-id>/ per run, and the report (not needed with --dry-run)')
  .option('--data <dir>', "the data set every run trains on (needed for the paper's grids)")
  .option('--seeds <n>', 'train each model with seeds 0..n-1')
  .option('--epochs <n>', 'epochs for every run (default: the grid\'s, else 20)')
  .option('--model-options <json>', 'model options added to every run, e.g. \'{"width": 64}\'')
  .option('--parallel <n>', 'runs at a time on this machine', '1')
  .option('--queue <redis-url>', 'queue the runs on BullMQ at this Redis (redis://HOST:PORT) for `tokenwave worker`s instead of running them here')
  .option('--wait', 'with --queue: wait for every run, then write the report')
  .option('--collect', 'write the report from the runs finished so far')
  .option('--dry-run', "list the runs with their FLOPs and an estimated time, training nothing (without --data: the paper's data-set sizes)")
  .addOption(
    new Option('--estimate <how>', "the dry run's times: 'cached' (step times cached on this adapter, scaled by FLOPs to other models; seconds) or 'measure' (one training step of each model timed now; minutes)")
      .choices(ESTIMATE_METHODS)
      .default('cached'),
  )
  .addOption(backendOption())
  .action(sweepAction);

interface WorkerCommandOptions {
  queue: string;
  out: string;
  concurrency: string;
  lockSeconds: string;
  backend?: string;
}

async function workerAction(o: WorkerCommandOptions): Promise<void> {
  const connection = await connect(o.queue);
  await makeFolder(o.out);
  const worker = startWorker(connection, {
    where: redactedUrl(o.queue),
    out: o.out,
    version: TOKENWAVE_VERSION,
    concurrency: integerOption('concurrency', o.concurrency, 1, 64)!,
    lockSeconds: integerOption('lock-seconds', o.lockSeconds, 2, 3600)!,
    backend: o.backend,
    say,
  });
  console.log(`worker ${process.pid} (tokenwave ${TOKENWAVE_VERSION}) taking runs from ${redactedUrl(o.queue)} into ${o.out}; SIGTERM or Ctrl-C stops it at a checkpoint`);
  const stop = (signal: string) => {
    console.log(`${signal}: checkpointing the runs in flight and handing them back`);
    void worker.stop();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  await worker.closed;
  console.log('worker stopped');
}

export const workerCommand = new Command('worker')
  .description("take a sweep's runs from a BullMQ queue and train them; --out must be storage every worker and the sweep share")
  .requiredOption('--queue <redis-url>', 'the Redis the sweep queued its runs on (redis://HOST:PORT)')
  .requiredOption('--out <dir>', "the sweep's folder, as this machine mounts it")
  .option('--concurrency <n>', 'runs at a time', '1')
  .option('--lock-seconds <s>', "how long a job's lock lasts unrenewed: a dead worker's run goes to another this long after", '30')
  .addOption(backendOption())
  .action(workerAction);
