// The profiler: per-dispatch times joined to the FLOP ledger, grouped tables, the Chrome trace and the roofline.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildModel } from '../src/models/registry.js';
import { modelConfig } from '../src/models/config.js';
import { AdamW } from '../src/optim/adamw.js';
import type { Peaks } from '../src/profile/peaks.js';
import { GROUPINGS, groupRecords } from '../src/profile/report.js';
import { rooflineSvg } from '../src/profile/roofline.js';
import { chromeTrace } from '../src/profile/trace.js';
import type { TimingMethod } from '../src/runtime/timer.js';
import { exactFlops } from '../src/tensor/counts.js';
import { Ledger } from '../src/tensor/ledger.js';
import { Tensor } from '../src/tensor/tensor.js';
import { trainingStep } from '../src/train/step.js';
import { randomArray, useEngine } from './helpers/gpu.js';

const env = useEngine();
const PEAKS: Peaks = { gflops: 10, matmul: '512^3', gbps: 2, adapter: 'test', measuredAt: '2026-01-01' };

/** A small model's training step (forward, loss, backward, AdamW) and its loss read back. */
function smallStep() {
  const model = buildModel(modelConfig('TASR_1L_4T-2H', { mlp: [32, 128] }));
  const optimizer = new AdamW(model.parameters(), { lr: 1e-4 });
  const x = Tensor.from(randomArray(2 * 124 * 129, 1, 0, 2), [2, 124, 129]).keep();
  const y = Tensor.from([3, 5], [2], 'i32').keep();
  const step = async () => {
    const loss = trainingStep(model, optimizer, x, y);
    await loss.item();
    loss.dispose();
  };
  const dispose = () => {
    for (const t of [x, y]) t.dispose();
    optimizer.dispose();
    model.dispose();
  };
  return { step, dispose };
}

const methods = (): TimingMethod[] => (env.engine.runtime.features.includes('timestamp-query') ? ['isolated', 'timestamps'] : ['isolated']);

describe('engine.profile', () => {
  it('times every dispatch by each timing method the adapter has; the records are the ledger\'s, with times', async () => {
    const { step, dispose } = smallStep();
    await step(); // warm-up
    const { records: ledger } = await env.engine.ledger.capture(step);
    for (const method of methods()) {
      const p = await env.engine.profile(step, { method });
      expect(p.method).toBe(method);
      // The same kernels, ops, paths, phases and declared counts as the ledger records of the same step.
      expect(p.records.map((r) => [r.kernel, r.op, r.path, r.phase, r.counts])).toEqual(ledger.map((r) => [r.kernel, r.op, r.path, r.phase, r.counts]));
      expect(exactFlops(Ledger.total(p.records))).toBe(exactFlops(Ledger.total(ledger)));
      // Times are non-negative, add up to the reported kernel time, and the kernels take real time.
      expect(p.records.every((r) => r.ms >= 0 && r.startMs >= 0 && r.workgroups > 0)).toBe(true);
      expect(p.kernelMs).toBeCloseTo(p.records.reduce((s, r) => s + r.ms, 0), 6);
      expect(p.records.filter((r) => r.ms > 0).length).toBeGreaterThan(p.records.length / 2);
      expect(p.wallMs).toBeGreaterThan(0);
      // Dispatch indices are the order of encoding.
      expect(p.records.map((r) => r.dispatch)).toEqual(p.records.map((_, i) => i));
    }
    dispose();
  });

  it('attributes backward kernels to the module of their forward op', async () => {
    const { step, dispose } = smallStep();
    const p = await env.engine.profile(step);
    const backwardPaths = new Set(p.records.filter((r) => r.phase === 'backward').map((r) => r.path.split('/')[0]));
    expect(backwardPaths).toContain('blocks.0');
    expect(backwardPaths).toContain('token_learner');
    expect(backwardPaths).toContain('mbconv0');
    dispose();
  });

  it('refuses timestamps on an adapter that has none, naming the way that works', async () => {
    if (env.engine.runtime.features.includes('timestamp-query')) return;
    await expect(env.engine.profile(() => undefined, { method: 'timestamps' })).rejects.toThrow(/no timestamp queries.*isolation/);
  });
});

describe('profile reports', () => {
  it('groups add up to the whole step under every grouping; the trace parses back; the roofline has a dot per kernel', async () => {
    const { step, dispose } = smallStep();
    const steps = [await env.engine.profile(step), await env.engine.profile(step)];
    const records = steps.flatMap((s) => s.records);
    const kernelMs = (steps[0]!.kernelMs + steps[1]!.kernelMs) / 2;
    const flops = exactFlops(Ledger.total(records)) / 2;
    for (const by of GROUPINGS) {
      const rows = groupRecords(records, by, 2, 100, PEAKS);
      expect(rows.reduce((s, r) => s + r.ms, 0)).toBeCloseTo(kernelMs, 6);
      expect(rows.reduce((s, r) => s + r.flops, 0)).toBeCloseTo(flops, 0);
      expect(rows.reduce((s, r) => s + r.dispatches, 0)).toBe(records.length / 2);
      for (let i = 1; i < rows.length; i++) expect(rows[i - 1]!.ms).toBeGreaterThanOrEqual(rows[i]!.ms);
    }
    // Chrome trace event format, parsed back: one complete event per dispatch plus one per step, on phase tracks.
    const trace = JSON.parse(JSON.stringify(chromeTrace(steps, 'test'))) as { traceEvents: { ph: string; name: string; ts: number; dur: number; tid: number; cat: string; args: Record<string, unknown> }[] };
    const complete = trace.traceEvents.filter((e) => e.ph === 'X');
    expect(complete.length).toBe(records.length + 2);
    const kernels = complete.filter((e) => e.cat !== 'step');
    expect(kernels.every((e) => Number.isFinite(e.ts) && e.dur >= 0 && e.tid >= 1 && e.tid <= 3)).toBe(true);
    expect(kernels.reduce((s, e) => s + (e.args.flops as number), 0)).toBe(2 * flops);
    expect(new Set(trace.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => (e as unknown as { args: { name: string } }).args.name))).toEqual(
      new Set(['forward', 'backward', 'optimizer', 'steps (wall time)']),
    );
    // Roofline: every kernel with FLOPs is a dot.
    const byKernel = groupRecords(records, 'kernel', 2, 100, PEAKS);
    const svg = rooflineSvg(byKernel, PEAKS, 'test');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<circle /g)?.length).toBe(byKernel.filter((r) => r.flops > 0 && r.ms > 0).length);
    dispose();
  });
});

describe('tokenwave profile', () => {
  it('prints tables by kernel and by module with the timing method, and writes the trace and the roofline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-profile-'));
    const cli = join(import.meta.dirname, '..', 'bin', 'tokenwave.js');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [cli, 'profile', 'TASR_1L_4T-2H', '--train', '--batch', '2', '--steps', '2', '--warmup', '1', '--trace', join(dir, 'trace.json'), '--roofline', join(dir, 'roofline.svg')],
      { env: { ...process.env, XDG_CACHE_HOME: dir } },
    );
    expect(stdout).toMatch(/^timing: +(GPU timestamps|each dispatch replayed alone)/m);
    expect(stdout).toMatch(/^by kernel:/m);
    expect(stdout).toMatch(/^by module:/m);
    expect(stdout).toMatch(/\(outside kernels\)/);
    const [, wall, kernels] = /step: +([\d.]+) ms measured \(wall\); ([\d.]+) ms in kernels/.exec(stdout)!;
    expect(Number(kernels)).toBeGreaterThan(0);
    expect(Number(wall)).toBeGreaterThan(0);
    const [, unplanned, dispatches, planned] = /^host: +([\d.]+) ms of JavaScript per step to build and encode its (\d+) dispatches \(timed on 10 steps at batch 1\); ([\d.]+) ms replayed from its plan/m.exec(stdout)!;
    expect(Number(unplanned)).toBeGreaterThan(0);
    expect(Number(planned)).toBeGreaterThan(0);
    expect(Number(dispatches)).toBeGreaterThan(50);
    expect(JSON.parse(readFileSync(join(dir, 'trace.json'), 'utf8')).traceEvents.length).toBeGreaterThan(10);
    expect(readFileSync(join(dir, 'roofline.svg'), 'utf8')).toMatch(/^<svg[^]*<circle[^]*<\/svg>\n$/);
    expect(existsSync(join(dir, 'tokenwave', 'peaks.json'))).toBe(true);
  });
});
