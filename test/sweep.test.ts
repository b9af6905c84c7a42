// Sweeps: grids, run ids, the report's statistics and Pareto front; a tiny grid run locally and through a BullMQ
// queue (a Redis of the test's own, two worker processes, one killed with SIGKILL mid-sweep) giving the same
// results, each run once; and the bad inputs a user meets first.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSpeech } from '../src/data/synthetic-speech.js';
import { loadGrid, paperModels, runId, type RunSpec } from '../src/sweep/grid.js';
import { QUEUE_NAME } from '../src/sweep/queue.js';
import { modelRows, paretoFront } from '../src/sweep/report.js';
import { executeRun } from '../src/sweep/run.js';
import type { RunSummary } from '../src/train/run-folder.js';
import { freePort, startRedis, type TestRedis } from './helpers/redis.js';

const cli = join(import.meta.dirname, '..', 'bin', 'tokenwave.js');
const TINY = { mbconvBlocks: 0, width: 16, keyDim: 8, mlp: [32, 16], dropout: 0.1 };
let work = '';
let data = '';
let gridFile = '';
let redis: TestRedis;

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: string | null }>;
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
}

/**
 * The test's own per-machine caches (step times, peaks), so what its runs record is what its dry runs read; Mesa's
 * compiled shaders stay where they were, shared with the other tests.
 */
const MESA_SHADER_CACHE_DIR = process.env.MESA_SHADER_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mesa_shader_cache');

function start(args: string[], cacheHome = join(work, 'xdg'), extraEnv: Record<string, string> = {}): Running {
  const env = { ...process.env, TOKENWAVE_CACHE: join(work, 'cache'), XDG_CACHE_HOME: cacheHome, MESA_SHADER_CACHE_DIR, ...extraEnv };
  const child = spawn('node', [cli, ...args], { env });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const waitFor = async (pattern: RegExp, timeoutMs = 120_000) => {
    const until = Date.now() + timeoutMs;
    while (!pattern.test(output)) {
      if (Date.now() > until || child.exitCode !== null) throw new Error(`no ${pattern} in:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { child, output: () => output, exited, waitFor };
}

async function tokenwave(args: string[], cacheHome?: string, extraEnv?: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const run = start(args, cacheHome, extraEnv);
  const { code } = await run.exited;
  return { code, output: run.output() };
}

const summaries = (out: string) =>
  new Map(
    readdirSync(join(out, 'runs')).map((id) => {
      const s = JSON.parse(readFileSync(join(out, 'runs', id, 'summary.json'), 'utf8')) as RunSummary;
      // what a seeded run must reproduce exactly (times differ from run to run)
      return [id, { top1: s.test.top1, confusion: s.test.confusion, losses: s.history.map((h) => h.trainLoss), validation: s.history.map((h) => h.validationAccuracy) }];
    }),
  );
const epochsLogged = (out: string, id: string) => readFileSync(join(out, 'runs', id, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).epoch);
/** Whether a run's train.log shows its first epoch of three done (the run is mid-way). */
/** The tiny grid's epochs: enough that a worker killed after the first leaves its run unfinished (at ~200 steps/s the
 * rest take about 0.3 s), few enough to train in moments. */
const GRID_EPOCHS = 12;
const EVERY_EPOCH = Array.from({ length: GRID_EPOCHS }, (_, i) => i + 1);
/** A training log that says the run stopped at a checkpoint, then (resumed) finished its last epoch. */
const SAVED_THEN_FINISHED = new RegExp(`stopped; the run is saved[^]*epoch ${GRID_EPOCHS}/${GRID_EPOCHS}`);
const pastFirstEpoch = (log: string) => existsSync(log) && new RegExp(`epoch 1/${GRID_EPOCHS}`).test(readFileSync(log, 'utf8'));
async function waitUntil(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 25));
}

/** A grid file of one tiny 3-epoch run, its spec, and where its train.log will be under `out`. */
async function oneRunGrid(name: string, model: string, seed: number, out: string): Promise<{ grid: string; spec: RunSpec; log: string }> {
  const grid = join(work, `${name}.json`);
  writeFileSync(grid, JSON.stringify({ model, data, modelOptions: TINY, epochs: GRID_EPOCHS, batchSize: 8, schedule: 'constant', lr: 1e-3, seed }));
  const [spec] = await loadGrid(grid);
  return { grid, spec: spec!, log: join(out, 'runs', runId(spec!), 'train.log') };
}

/** The test's own queue, to look at jobs and add them. */
const testQueue = () => new Queue(QUEUE_NAME, { connection: { host: '127.0.0.1', port: Number(new URL(redis.url).port) } });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tokenwave-sweep-'));
  data = join(work, 'speech');
  await generateSpeech({ out: data, perClass: 6, seed: 1 });
  gridFile = join(work, 'grid.json');
  writeFileSync(gridFile, JSON.stringify({ model: ['TASR_1L_4T-2H', 'TASR_1L_NT-2H'], data, modelOptions: TINY, epochs: GRID_EPOCHS, batchSize: 8, schedule: 'constant', lr: 1e-3 }));
  redis = await startRedis();
}, 300_000);

afterAll(async () => {
  await redis?.stop();
});

describe('grids', () => {
  it("the paper's grids are its Tables 2 and 3: 24 TASR models (NT, 4T, 8T) and 16 TESC models (NT, 8T)", async () => {
    const speech = await loadGrid('paper-speech', { data });
    expect(speech).toHaveLength(24);
    expect(new Set(speech.map((r) => r.model)).size).toBe(24);
    expect(speech.map((r) => r.model)).toContain('TASR_10L_NT-8H');
    expect(speech.map((r) => r.model)).toContain('TASR_8L_8T-12H');
    expect(paperModels('paper-esc')).toHaveLength(16);
    expect(paperModels('paper-esc').some((m) => m.includes('4T'))).toBe(false);
    expect(speech.every((r) => r.epochs === 20 && r.seed === 0 && r.data === data)).toBe(true);
    expect(await loadGrid('paper-speech', { data, seeds: 3 })).toHaveLength(72);
  });

  it('a grid file is the cartesian product of its alternatives, or a list of runs; ids follow the settings', async () => {
    const product = join(work, 'product.json');
    writeFileSync(product, JSON.stringify({ model: ['TASR_4L_8T-8H', 'TASR_4L_NT-8H'], data: 'speech', seed: [0, 1, 2], modelOptions: [{}, { tokenLearnerAt: 2 }], epochs: 5 }));
    const runs = await loadGrid(product);
    expect(runs).toHaveLength(2 * 3 * 2);
    expect(runs[0]!.data).toBe(data); // relative to the grid file
    expect(new Set(runs.map(runId)).size).toBe(12);
    const list = join(work, 'list.json');
    writeFileSync(list, JSON.stringify({ data, epochs: 3, runs: [{ model: 'TASR_4L_8T-8H' }, { model: 'TASR_4L_8T-8H', seed: 1 }, { model: 'TASR_4L_8T-8H' }] }));
    const listed = await loadGrid(list);
    expect(listed.map((r) => r.seed)).toEqual([0, 1]); // the repeated run once
    const again = await loadGrid(list);
    expect(again.map(runId)).toEqual(listed.map(runId));
    const reordered: RunSpec = { epochs: 3, seed: 0, data, model: 'TASR_4L_8T-8H' };
    expect(runId(reordered)).toBe(runId(listed[0]!));
    expect(runId({ ...reordered, epochs: 4 })).not.toBe(runId(listed[0]!));
  });

  it('names the bad setting, model or file in one line', async () => {
    const bad = (name: string, grid: unknown) => {
      const path = join(work, name);
      writeFileSync(path, JSON.stringify(grid));
      return loadGrid(path);
    };
    await expect(bad('key.json', { model: 'TASR_4L_8T-8H', data, epoch: 3 })).rejects.toThrow(/run 1: unknown setting 'epoch'/);
    await expect(bad('model.json', { model: ['TASR_4L_8T-8H', 'TASR_4L_8T'], data })).rejects.toThrow(/run 2: .*TASR_4L_8T\b/);
    await expect(bad('type.json', { model: 'TASR_4L_8T-8H', data, epochs: 'many' })).rejects.toThrow(/'epochs' cannot be "many"/);
    await expect(loadGrid(join(work, 'absent.json'))).rejects.toThrow(/absent.json: not one of paper-speech, paper-esc and not a readable file/);
    await expect(loadGrid('paper-speech')).rejects.toThrow(/needs --data/);
  });
});

describe('the report', () => {
  it('the Pareto front keeps the models nothing beats on both cost and accuracy', () => {
    const models = [{ c: 1, a: 0.5 }, { c: 2, a: 0.4 }, { c: 3, a: 0.7 }, { c: 3, a: 0.6 }, { c: 5, a: 0.9 }, { c: 6, a: 0.9 }];
    expect(paretoFront(models, (m) => m.c, (m) => m.a)).toEqual([models[0], models[2], models[4]]);
  });

  it('one row per model, averaged over seeds with a t interval', () => {
    const run = (model: string, seed: number, top1: number) => ({
      spec: { model, data, seed, epochs: 1 },
      summary: { model, adapter: 'a', parameters: 10, flops: { paper: 5, exact: 7 }, batchSize: 8, msPerStep: 100 + seed, msPerClip: 1, bestEpoch: 1, bestValidation: 0, test: { clips: 10, top1, topK: { 3: 1 }, perClass: [], confusion: [], clipsPerSecond: 1 }, history: [] } as RunSummary,
    });
    const rows = modelRows([run('TASR_4L_8T-8H', 0, 0.6), run('TASR_4L_NT-8H', 0, 0.5), run('TASR_4L_8T-8H', 1, 0.7), run('TASR_4L_8T-8H', 2, 0.8)]);
    expect(rows.map((r) => [r.label, r.seeds, r.tokenLearner])).toEqual([['TASR_4L_8T-8H', [0, 1, 2], true], ['TASR_4L_NT-8H', [0], false]]);
    // 0.6, 0.7, 0.8: sd 0.1, t(0.975, 2) = 4.303: half-width 4.303 * 0.1 / sqrt(3) = 0.2484
    expect(rows[0]!.top1.mean).toBeCloseTo(0.7, 10);
    expect(rows[0]!.top1.half).toBeCloseTo(0.2484, 3);
    expect(rows[1]!.top1.half).toBeNaN();
  });
});

describe('a tiny grid, here and through the queue', () => {
  const local = () => join(work, 'local');
  const queued = () => join(work, 'queued');

  it('runs locally two at a time, writes the report, and a second sweep is a no-op', async () => {
    const first = await tokenwave(['sweep', '--grid', gridFile, '--out', local(), '--seeds', '2', '--parallel', '2']);
    expect(first.code, first.output).toBe(0);
    expect(first.output).toMatch(/4 runs: 0 finished before, 4 to run, 2 at a time/);
    expect(first.output).toMatch(/4\/4 done/);
    const results = JSON.parse(readFileSync(join(local(), 'results.json'), 'utf8'));
    expect(results.models.map((m: { label: string; seeds: number[] }) => [m.label, m.seeds])).toEqual([['TASR_1L_4T-2H', [0, 1]], ['TASR_1L_NT-2H', [0, 1]]]);
    expect(results.missing).toEqual([]);
    const md = readFileSync(join(local(), 'results.md'), 'utf8');
    expect(md).toMatch(/\| TASR_1L_NT-2H \| 2 \|/);
    expect(readFileSync(join(local(), 'results.csv'), 'utf8').trim().split('\n')).toHaveLength(3);
    const pareto = readFileSync(join(local(), 'pareto.svg'), 'utf8');
    expect(pareto.match(/<circle [^>]*fill-opacity/g)).toHaveLength(4); // two models, two panels
    expect(pareto).toContain('no TokenLearner (NT)');
    const second = await tokenwave(['sweep', '--grid', gridFile, '--out', local(), '--seeds', '2']);
    expect(second.code, second.output).toBe(0);
    expect(second.output).toMatch(/4 runs: 4 finished before, 0 to run/);
  }, 300_000);

  it('--dry-run lists each run with its steps, FLOPs and the step time its training measured, training nothing', async () => {
    const dry = await tokenwave(['sweep', '--grid', gridFile, '--seeds', '2', '--dry-run']);
    expect(dry.code, dry.output).toBe(0);
    for (const id of summaries(local()).keys()) {
      const summary = JSON.parse(readFileSync(join(local(), 'runs', id, 'summary.json'), 'utf8')) as RunSummary;
      // the cache holds the last run of the model to finish, timed over its epochs after the first (which compiles)
      const settled = (runId: string) => {
        const epochs = readFileSync(join(local(), 'runs', runId, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).slice(1);
        return (1000 * epochs.reduce((s, e) => s + e.seconds, 0)) / epochs.reduce((s, e) => s + e.steps, 0);
      };
      const sameModel = [...summaries(local()).keys()].filter((other) => other.startsWith(summary.model + '-'));
      const times = sameModel.map((other) => Math.round(settled(other)));
      // 48 clips, 38 of them to train on (the paper's 80%), batch 8: 5 steps an epoch
      const row = new RegExp(`${id}\\s+38\\s+8\\s+${5 * GRID_EPOCHS}\\s+${summary.flops.paper.toLocaleString('en-US')}\\s+${summary.flops.exact.toLocaleString('en-US')}\\s+(\\d+)\\s+\\d+ s\\s+cached \\(train, `);
      expect(dry.output).toMatch(row);
      expect(times).toContain(Number(dry.output.match(row)![1]));
    }
    expect(dry.output).toMatch(/4 runs, about \d+ s of training steps/);
    const measured = await tokenwave(['sweep', '--grid', gridFile, '--dry-run', '--estimate', 'measure']);
    expect(measured.code, measured.output).toBe(0);
    expect(measured.output.split('\n').filter((l) => /^TASR_1L_\w+-2H-seed0-\w+\s.*\d+ s\s+measured$/.test(l))).toHaveLength(2);
    expect(readdirSync(join(local(), 'runs'))).toHaveLength(4); // nothing trained
  }, 120_000);

  it("--dry-run of the paper's grids without --data: the paper's data sets, its published FLOPs, a floor where nothing is cached", async () => {
    const fresh = join(work, 'xdg-empty');
    const speech = await tokenwave(['sweep', '--grid', 'paper-speech', '--dry-run'], fresh);
    expect(speech.code, speech.output).toBe(0);
    // Mini Speech Commands: 8,000 clips, 6,400 to train on (80%); batch 64, 100 steps an epoch, 20 epochs
    const rows = speech.output.split('\n').filter((l) => /^TASR_\d+L_/.test(l));
    expect(rows).toHaveLength(24);
    expect(rows.every((l) => /^\S+-seed0\s+6400\s+64\s+2000\s/.test(l))).toBe(true);
    expect(speech.output).toMatch(/TASR_4L_NT-8H-seed0\s+6400\s+64\s+2000\s+68,792,913\s/);
    expect(speech.output).toMatch(/TASR_4L_8T-8H-seed0\s+6400\s+64\s+2000\s+38,369,577\s/);
    expect(speech.output).toMatch(/data: Mini Speech Commands \(the paper's size, no --data\)/);
    // nothing cached: 3 x forward FLOPs x batch at the matmul rate it printed, and the total says "at least"
    const gflops = Number(speech.output.match(/at ([\d.]+) GFLOP\/s/)![1]);
    for (const line of rows) {
      const [, exact, ms] = line.match(/\s([\d,]+)\s+(\d+)\s+\S+ \S+\s+floor$/)!;
      // the rate is printed to 0.1 GFLOP/s and the milliseconds whole: the floor lies between those at its ends
      const floorAt = (rate: number) => (3 * Number(exact!.replace(/,/g, '')) * 64) / (rate * 1e6);
      expect(Number(ms)).toBeGreaterThanOrEqual(floorAt(gflops + 0.05) - 0.5);
      expect(Number(ms)).toBeLessThanOrEqual(floorAt(gflops - 0.05) + 0.5);
    }
    expect(speech.output).toMatch(/24 runs, at least [\d.]+ h of training steps/);
    const esc = await tokenwave(['sweep', '--grid', 'paper-esc', '--dry-run'], fresh);
    expect(esc.code, esc.output).toBe(0);
    // ESC-50: 2,000 clips, 1,600 to train on; batch 32, 50 steps an epoch, 20 epochs
    expect(esc.output.split('\n').filter((l) => /^TESC_\d+L_/.test(l))).toHaveLength(16);
    expect(esc.output).toMatch(/TESC_4L_8T-8H-seed0\s+1600\s+32\s+1000\s+7,968,945\s/);
    expect(esc.output).toMatch(/TESC_4L_NT-8H-seed0\s+1600\s+32\s+1000\s+58,609,593\s/);
    // with --data: the data set's own size, and the times scaled from the tiny models this file trained
    const withData = await tokenwave(['sweep', '--grid', 'paper-speech', '--data', data, '--dry-run']);
    expect(withData.code, withData.output).toBe(0);
    expect(withData.output).toMatch(/TASR_4L_8T-8H-seed0-\w+\s+38\s+64\s+20\s+38,369,577\s.*scaled \(TASR_1L_/);
    expect(withData.output).toMatch(new RegExp(`data: ${data}`));
  }, 120_000);

  it('through BullMQ with two workers, one killed with SIGKILL mid-run: every run once, the same results as locally', async () => {
    const enqueued = await tokenwave(['sweep', '--grid', gridFile, '--out', queued(), '--seeds', '2', '--queue', redis.url]);
    expect(enqueued.code, enqueued.output).toBe(0);
    expect(enqueued.output).toMatch(/4 runs: 0 finished, 0 already queued, 4 queued now/);
    const workerArgs = ['worker', '--queue', redis.url, '--out', queued(), '--lock-seconds', '2'];
    const workers = [start(workerArgs), start(workerArgs)];
    // the first run to have trained its first epoch, and the worker that runs it
    const midRun = () => {
      const runs = join(queued(), 'runs');
      const ids = existsSync(runs) ? readdirSync(runs) : [];
      const id = ids.find((i) => pastFirstEpoch(join(runs, i, 'train.log')));
      return id ? { log: join(runs, id, 'train.log'), worker: workers.find((w) => w.output().includes(`${id}: started`)) } : undefined;
    };
    let found = midRun();
    while (!found?.worker) {
      await new Promise((r) => setTimeout(r, 25));
      found = midRun();
    }
    const [doomed, survivor] = found!.worker === workers[0] ? [workers[0]!, workers[1]!] : [workers[1]!, workers[0]!];
    doomed.child.kill('SIGKILL');
    expect((await doomed.exited).signal).toBe('SIGKILL');
    const waited = await tokenwave(['sweep', '--grid', gridFile, '--out', queued(), '--seeds', '2', '--queue', redis.url, '--wait']);
    expect(waited.code, `${waited.output}\nsurvivor:\n${survivor.output()}`).toBe(0);
    survivor.child.kill('SIGTERM');
    const stopped = await survivor.exited;
    expect(stopped.code, survivor.output()).toBe(0);
    expect(survivor.output()).toMatch(/worker stopped/);
    const interrupted = found!.log;

    // the dead worker's training process checkpointed, and the survivor resumed it
    expect(readFileSync(interrupted, 'utf8')).toMatch(SAVED_THEN_FINISHED);
    const ours = summaries(queued());
    expect(ours).toEqual(summaries(local()));
    for (const id of ours.keys()) expect(epochsLogged(queued(), id), id).toEqual(EVERY_EPOCH);
    const results = JSON.parse(readFileSync(join(queued(), 'results.json'), 'utf8'));
    expect(results.runs).toHaveLength(4);
    expect(results.missing).toEqual([]);

    const queue = testQueue();
    try {
      expect(await queue.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed')).toEqual({ completed: 4, failed: 0, active: 0, wait: 0, delayed: 0 });
    } finally {
      await queue.close();
    }
    const again = await tokenwave(['sweep', '--grid', gridFile, '--out', queued(), '--seeds', '2', '--queue', redis.url, '--wait']);
    expect(again.code, again.output).toBe(0);
    expect(again.output).toMatch(/4 runs: 4 finished, 0 already queued, 0 queued now/);
  }, 600_000);

  it('Redis killed and restarted mid-sweep: workers train on, reconnect and take runs again; --wait survives; each run trained once', async () => {
    const durable = await startRedis({ durable: true });
    const out = join(work, 'redis-restart');
    try {
      const sweep = ['sweep', '--grid', gridFile, '--out', out, '--seeds', '2', '--queue', durable.url];
      expect((await tokenwave(sweep)).code).toBe(0);
      // four runs, two workers: the second pair can only be taken once Redis is back
      const workerArgs = ['worker', '--queue', durable.url, '--out', out, '--lock-seconds', '2'];
      const workers = [start(workerArgs), start(workerArgs)];
      const waiting = start([...sweep, '--wait']);
      const runs = join(out, 'runs');
      await waitUntil(() => existsSync(runs) && readdirSync(runs).some((id) => pastFirstEpoch(join(runs, id, 'train.log'))));
      await durable.kill();
      // down for longer than a job's lock lasts: the locks have expired when it comes back
      await new Promise((r) => setTimeout(r, 6000));
      await durable.restart();
      const waited = await waiting.exited;
      const said = () => workers.map((w, i) => `worker ${i}:\n${w.output()}`).join('\n');
      expect(waited.code, `${waiting.output()}\n${said()}`).toBe(0);
      // the same results as the uninterrupted local sweep, every epoch logged once (no run trained twice)
      expect(summaries(out)).toEqual(summaries(local()));
      for (const id of summaries(out).keys()) expect(epochsLogged(out, id), id).toEqual(EVERY_EPOCH);
      // each side says once that Redis went and once that it came back, and nothing that looks like a failure
      for (const output of [...workers.map((w) => w.output()), waiting.output()]) {
        expect(output.match(/lost Redis at redis:\/\/127\.0\.0\.1:\d+ \(\w+\); (the runs in flight train on|waiting for it \(runs go on training\)); reconnecting/g), output).toHaveLength(1);
        expect(output).not.toMatch(/fail|Error|    at /);
      }
      for (const w of workers) await w.waitFor(/Redis at redis:\/\/127\.0\.0\.1:\d+ is back/);
      const queue = new Queue(QUEUE_NAME, { connection: { host: '127.0.0.1', port: Number(new URL(durable.url).port) } });
      try {
        expect(await queue.getJobCounts('completed', 'failed')).toEqual({ completed: 4, failed: 0 });
      } finally {
        await queue.close();
      }
      // Redis gone for good: SIGTERM still stops the idle workers (BullMQ's close alone would wait for it forever)
      await durable.kill();
      for (const w of workers) w.child.kill('SIGTERM');
      for (const w of workers) expect((await w.exited).code, said()).toBe(0);
      expect(said()).toMatch(/worker stopped[^]*worker stopped/);
    } finally {
      await durable.stop();
    }
  }, 300_000);

  it('Redis restarted without persistence (the queue lost): --wait queues the missing runs again and the sweep ends', async () => {
    const forgetful = await startRedis();
    const out = join(work, 'queue-lost');
    try {
      const { grid, spec } = await oneRunGrid('queue-lost', 'TASR_1L_NT-2H', 5, out);
      const sweep = ['sweep', '--grid', grid, '--out', out, '--queue', forgetful.url];
      expect((await tokenwave(sweep)).code).toBe(0);
      const waiting = start([...sweep, '--wait']);
      await waiting.waitFor(/1 already queued, 0 queued now/);
      await forgetful.kill();
      await forgetful.restart();
      const worker = start(['worker', '--queue', forgetful.url, '--out', out]);
      const waited = await waiting.exited;
      expect(waited.code, `${waiting.output()}\n${worker.output()}`).toBe(0);
      expect(waiting.output()).toMatch(new RegExp(`${runId(spec)}: neither finished in .* nor queued on redis://127\\.0\\.0\\.1:\\d+ \\(a Redis restarted without persistence loses its queue\\): queued again`));
      expect(epochsLogged(out, runId(spec))).toEqual(EVERY_EPOCH);
      worker.child.kill('SIGTERM');
      expect((await worker.exited).code).toBe(0);
    } finally {
      await forgetful.stop();
    }
  }, 120_000);

  it('a GPU device lost mid-run: the worker hands the job back without using an attempt, and its resumption ends as the local run', async () => {
    const out = join(work, 'device-lost-worker');
    const { grid, spec } = await oneRunGrid('device-lost-worker', 'TASR_1L_4T-2H', 0, out);
    expect((await tokenwave(['sweep', '--grid', grid, '--out', out, '--queue', redis.url])).code).toBe(0);
    // 5 steps an epoch: the device goes as step 7 starts, after the checkpoint of step 5
    const worker = start(['worker', '--queue', redis.url, '--out', out, '--lock-seconds', '2'], undefined, { TOKENWAVE_LOSE_DEVICE_AT: '7' });
    const waited = await tokenwave(['sweep', '--grid', grid, '--out', out, '--queue', redis.url, '--wait']);
    expect(waited.code, `${waited.output}\n${worker.output()}`).toBe(0);
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
    expect(worker.output()).toMatch(new RegExp(`${runId(spec)}: GPU device lost: TOKENWAVE_LOSE_DEVICE_AT=7, at epoch 2, step 2; .*; handed back, to be taken again in 5 s\n${runId(spec)}: started`));
    expect(summaries(out).get(runId(spec))).toEqual(summaries(local()).get(runId(spec)));
    expect(epochsLogged(out, runId(spec))).toEqual(EVERY_EPOCH);
    const queue = testQueue();
    try {
      const job = (await queue.getJob(runId(spec)))!;
      // one attempt, the one that completed: the hand-back was not counted as a failed attempt
      expect([await job.getState(), job.attemptsMade]).toEqual(['completed', 1]);
    } finally {
      await queue.close();
    }
  }, 120_000);

  it('a GPU device lost mid-run in a local sweep: the run is resumed at once and ends as the uninterrupted one', async () => {
    const out = join(work, 'device-lost-local');
    const { grid, spec } = await oneRunGrid('device-lost-local', 'TASR_1L_NT-2H', 0, out);
    const swept = await tokenwave(['sweep', '--grid', grid, '--out', out], undefined, { TOKENWAVE_LOSE_DEVICE_AT: '7' });
    expect(swept.code, swept.output).toBe(0);
    expect(swept.output).toMatch(/GPU device lost: TOKENWAVE_LOSE_DEVICE_AT=7, at epoch 2, step 2; .*; resuming it in 3 s \(retry 1 of 2\)/);
    expect(summaries(out).get(runId(spec))).toEqual(summaries(local()).get(runId(spec)));
  }, 120_000);

  it('a run whose folder another live process holds is "try again later" (exit 75), not a failure', async () => {
    const out = join(work, 'busy');
    const { spec } = await oneRunGrid('busy', 'TASR_1L_NT-2H', 3, out);
    const dir = join(out, 'runs', runId(spec));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'run.lock'), JSON.stringify({ pid: process.pid, host: hostname(), started: 'now' }));
    const outcome = await executeRun(out, spec);
    expect(outcome.status).toBe('retry');
    expect(outcome.status === 'retry' && outcome.reason).toMatch(new RegExp(`is in use by another training run \\(process ${process.pid} on `));
  }, 60_000);

  it('a local sweep stopped by Ctrl-C (SIGINT) checkpoints its run; the next sweep resumes it', async () => {
    const out = join(work, 'interrupted');
    const { grid, spec, log } = await oneRunGrid('one-local-run', 'TASR_1L_NT-2H', 12, out);
    const sweep = start(['sweep', '--grid', grid, '--out', out]);
    await waitUntil(() => pastFirstEpoch(log));
    sweep.child.kill('SIGINT');
    expect((await sweep.exited).code, sweep.output()).toBe(130);
    expect(sweep.output()).toMatch(/stopped at a checkpoint; the next sweep resumes it/);
    const resumed = await tokenwave(['sweep', '--grid', grid, '--out', out]);
    expect(resumed.code, resumed.output).toBe(0);
    expect(resumed.output).toMatch(/1 run: 0 finished before, 1 to run/);
    expect(readFileSync(log, 'utf8')).toMatch(SAVED_THEN_FINISHED);
    expect(epochsLogged(out, runId(spec))).toEqual(EVERY_EPOCH);
  }, 120_000);

  it('SIGTERM mid-run: the worker checkpoints, hands the job back and exits; the next worker finishes the run', async () => {
    const out = join(work, 'terminated');
    const { grid, spec, log } = await oneRunGrid('one-run', 'TASR_1L_4T-2H', 11, out);
    expect((await tokenwave(['sweep', '--grid', grid, '--out', out, '--queue', redis.url])).code).toBe(0);
    const first = start(['worker', '--queue', redis.url, '--out', out]);
    await waitUntil(() => pastFirstEpoch(log));
    first.child.kill('SIGTERM');
    expect((await first.exited).code, first.output()).toBe(0);
    expect(first.output()).toMatch(/checkpointed and handed back[^]*worker stopped/);
    const queue = testQueue();
    try {
      expect(await (await queue.getJob(runId(spec)))!.getState()).toBe('waiting');
    } finally {
      await queue.close();
    }
    const second = start(['worker', '--queue', redis.url, '--out', out]);
    expect((await tokenwave(['sweep', '--grid', grid, '--out', out, '--queue', redis.url, '--wait'])).code).toBe(0);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    expect(readFileSync(log, 'utf8')).toMatch(SAVED_THEN_FINISHED);
    expect(epochsLogged(out, runId(spec))).toEqual(EVERY_EPOCH);
  }, 120_000);

  it('a worker of another version leaves the job in the queue, saying why', async () => {
    const queue = testQueue();
    const spec: RunSpec = { model: 'TASR_1L_4T-2H', data, seed: 7, epochs: 1, modelOptions: TINY };
    try {
      await queue.add(runId(spec), { spec, version: '0.0.0-elsewhere' }, { jobId: runId(spec) });
      const worker = start(['worker', '--queue', redis.url, '--out', join(work, 'elsewhere'), '--lock-seconds', '2']);
      await worker.waitFor(/queued by tokenwave 0\.0\.0-elsewhere, this worker is \d/);
      worker.child.kill('SIGTERM');
      expect((await worker.exited).code).toBe(0);
      const state = await (await queue.getJob(runId(spec)))!.getState();
      expect(['waiting', 'delayed']).toContain(state);
    } finally {
      await queue.close();
    }
  }, 120_000);
});

describe('bad input', () => {
  it('an unreachable Redis is one line naming the URL', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const result = await tokenwave(['sweep', '--grid', gridFile, '--out', join(work, 'nowhere'), '--queue', url]);
    expect(result.code).toBe(1);
    expect(result.output.trim().split('\n')).toHaveLength(1);
    expect(result.output).toContain(`tokenwave: cannot reach Redis at ${url}`);
    const worker = await tokenwave(['worker', '--queue', url, '--out', join(work, 'nowhere')]);
    expect(worker.code).toBe(1);
    expect(worker.output).toContain(`cannot reach Redis at ${url}`);
    // a password in the URL is never shown
    const port = await freePort();
    const secret = await tokenwave(['worker', '--queue', `redis://tokenwave:s3cr%40t@127.0.0.1:${port}`, '--out', join(work, 'nowhere')]);
    expect(secret.code).toBe(1);
    expect(secret.output).toContain(`cannot reach Redis at redis://tokenwave:***@127.0.0.1:${port}`);
    expect(secret.output).not.toMatch(/s3cr/);
    const unparsable = await tokenwave(['sweep', '--grid', gridFile, '--out', join(work, 'nowhere'), '--queue', 'redis://me:s3cret@bad host:1']);
    expect(unparsable.code).toBe(1);
    expect(unparsable.output).toContain('--queue redis://***@bad host:1: not a URL');
    expect(unparsable.output).not.toMatch(/s3cr/);
  });

  it('a grid with an unknown model is one line naming it', async () => {
    const path = join(work, 'unknown-model.json');
    writeFileSync(path, JSON.stringify({ model: 'TASR_4L_8T-8X', data }));
    const result = await tokenwave(['sweep', '--grid', path, '--out', join(work, 'never')]);
    expect(result.code).toBe(1);
    expect(result.output.trim().split('\n')).toHaveLength(1);
    expect(result.output).toMatch(/tokenwave: .*unknown-model\.json, run 1: .*TASR_4L_8T-8X/);
  });
});
