// Training as a user runs it: it learns, an interrupted run resumes to the same weights, and bad input is refused.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeWav16 } from '../src/audio/wav.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { generateSpeech } from '../src/data/synthetic-speech.js';
import { seededRandom } from '../src/util/random.js';
import { learningRate } from '../src/train/schedule.js';

const cli = join(import.meta.dirname, '..', 'bin', 'tokenwave.js');
const TINY = JSON.stringify({ mbconvBlocks: 0, width: 32, keyDim: 16, mlp: [64, 32], dropout: 0.1 });

function tokenwave(args: string[], options: { onSpawn?: (pid: number) => void } = {}): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const cacheDir = join(work, 'cache');
    const child = spawn('node', [cli, ...args], { env: { ...process.env, TOKENWAVE_CACHE: cacheDir } });
    let [stdout, stderr] = ['', ''];
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    options.onSpawn?.(child.pid!);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

let work = '';
let data = '';
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tokenwave-train-'));
  data = join(work, 'speech');
  await generateSpeech({ out: data, perClass: 100, seed: 0 });
}, 600_000);

describe('training', () => {
  it('a small model on 100 clips per word of synthetic speech beats chance (12.5%) by a wide margin', async () => {
    const out = join(work, 'learn');
    const run = await tokenwave(['train', '--data', data, '--model', 'TASR_1L_4T-2H', '--model-options', TINY, '--epochs', '6', '--batch-size', '32', '--schedule', 'constant', '--lr', '3e-3', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.test.top1).toBeGreaterThan(0.3);
    expect(summary.history).toHaveLength(6);
    // what a sweep's report reads: the parameters (counted here from the saved tensors), FLOPs and times
    const { tensors } = decodeSafetensors(readFileSync(join(out, 'best', 'model.safetensors')), out);
    expect(summary.parameters).toBe([...tensors].filter(([name]) => !name.includes('moving_')).reduce((s, [, t]) => s + t.data.length, 0));
    expect(summary.flops.paper).toBeGreaterThan(0);
    expect(summary.flops.exact).toBeGreaterThan(0);
    expect(summary).toMatchObject({ model: 'TASR_1L_4T-2H', batchSize: 32, msPerStep: expect.any(Number), msPerClip: expect.any(Number), adapter: expect.stringMatching(/./) });
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(log[0]).toMatchObject({ lr: 3e-3, trainLoss: expect.any(Number), validationAccuracy: expect.any(Number), stepsPerSecond: expect.any(Number) });
    expect(existsSync(join(out, 'best', 'model.safetensors'))).toBe(true);
    const evaluation = await tokenwave(['eval', '--checkpoint', join(out, 'best'), '--data', data, '--json']);
    expect(evaluation.code, evaluation.stderr).toBe(0);
    const report = JSON.parse(evaluation.stdout);
    expect(report.top1).toBeCloseTo(summary.test.top1, 6);
    expect(report.confusion).toHaveLength(8);
    expect(report.perClass.map((c: { label: string }) => c.label)).toEqual(['down', 'go', 'left', 'no', 'right', 'stop', 'up', 'yes']);
  });

  it('killed mid-epoch and resumed, a run ends at the same weights as an uninterrupted one', async () => {
    const args = (out: string) => ['train', '--data', data, '--model', 'TASR_1L_4T-2H', '--model-options', TINY, '--epochs', '2', '--batch-size', '8', '--limit-per-class', '24', '--save-every', '3', '--schedule', 'constant', '--lr', '1e-3', '--out', out];
    const whole = join(work, 'whole');
    expect((await tokenwave(args(whole))).code).toBe(0);

    const broken = join(work, 'broken');
    const state = join(broken, 'last', 'state.json');
    const killed = await tokenwave(args(broken), {
      onSpawn: (pid) => {
        const timer = setInterval(() => {
          try {
            const s = JSON.parse(readFileSync(state, 'utf8'));
            if (s.epoch === 0 && s.stepInEpoch > 0) {
              process.kill(pid, 'SIGKILL');
              clearInterval(timer);
            }
          } catch {
            // not written yet
          }
        }, 5);
      },
    });
    expect(killed.signal).toBe('SIGKILL');
    const resumed = await tokenwave([...args(broken), '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    for (const file of ['model.safetensors', 'optimizer.safetensors']) {
      expect(readFileSync(join(broken, 'last', file)).equals(readFileSync(join(whole, 'last', file)))).toBe(true);
    }
    expect(readFileSync(join(broken, 'best', 'model.safetensors')).equals(readFileSync(join(whole, 'best', 'model.safetensors')))).toBe(true);
  });
});

describe('background noise', () => {
  it("mixes Speech Commands' _background_noise_ recordings into the training clips; refuses a set without them", async () => {
    const data2 = join(work, 'v2');
    cpSync(join(import.meta.dirname, 'fixtures', 'speech_commands_v0.02'), data2, { recursive: true });
    const random = seededRandom(3);
    writeFileSync(join(data2, '_background_noise_', 'white_noise.wav'), encodeWav16(Float32Array.from({ length: 32000 }, () => random() - 0.5), 16000));
    const run = await tokenwave(['train', '--data', data2, '--model', 'TASR_1L_4T-2H', '--model-options', TINY, '--epochs', '1', '--batch-size', '4', '--background-noise', '1,0.3', '--out', join(work, 'noisy')]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/background noise: 1 recordings, mixed into 100% of the training clips at volumes up to 0\.3/);
    const none = await tokenwave(['train', '--data', data, '--model', 'TASR_1L_4T-2H', '--model-options', TINY, '--epochs', '1', '--background-noise', '0.8,0.1', '--out', join(work, 'nonoise')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no background-noise recordings.*_background_noise_/);
    const bad = await tokenwave(['train', '--data', data, '--background-noise', '0.8']);
    expect(bad.stderr).toMatch(/--background-noise takes PROBABILITY,VOLUME/);
  });
});

describe('bad input', () => {
  it('a missing folder, an empty folder, a folder with no WAVs, an unknown model and a foreign checkpoint each get one clear message', async () => {
    const empty = join(work, 'empty');
    mkdirSync(empty, { recursive: true });
    const noWavs = join(work, 'nowavs');
    mkdirSync(join(noWavs, 'yes'), { recursive: true });
    writeFileSync(join(noWavs, 'yes', 'readme.txt'), 'no audio here');
    const cases: [string[], RegExp][] = [
      [['train', '--data', join(work, 'missing')], /missing: no such folder/],
      [['train', '--data', empty], /no class folders/],
      [['train', '--data', noWavs], /hold no \.wav files/],
      [['train', '--data', data, '--model', 'TASR_4L_8X-8H'], /unknown model name 'TASR_4L_8X-8H'/],
      [['eval', '--checkpoint', join(work, 'learn', 'best'), '--data', join(import.meta.dirname, 'fixtures', 'ESC-50-master')], /trained on 8 classes .* but .* has 50 .*different data set/],
      [['eval', '--checkpoint', join(work, 'nothing'), '--data', data], /nothing\/config\.json: not found/],
    ];
    for (const [args, message] of cases) {
      const r = await tokenwave(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/^\s+at .*\.(ts|js|mjs):\d+/m); // no JavaScript stack trace
    }
  });
});

describe('learning-rate schedules', () => {
  it("the paper's: a linear ramp from 1e-4 to 1.5e-5 x batch over 3 epochs, then (max - 1e-7) 0.7^(e-3) + 1e-7", () => {
    const s = { name: 'paper' as const, batchSize: 64, epochs: 20 };
    const max = 1.5e-5 * 64;
    expect(learningRate(s, 0)).toBeCloseTo(1e-4, 12);
    expect(learningRate(s, 3)).toBeCloseTo(max, 12);
    expect(learningRate(s, 1)).toBeCloseTo(1e-4 + (max - 1e-4) / 3, 12);
    expect(learningRate(s, 5)).toBeCloseTo((max - 1e-7) * 0.49 + 1e-7, 12);
    expect(learningRate(s, 1.9)).toBeCloseTo(learningRate(s, 1), 12); // set once per epoch, as the paper's callback
    expect(learningRate({ name: 'cosine', batchSize: 64, epochs: 10, lr: 1e-3 }, 5)).toBeCloseTo(5e-4, 12);
  });

  it("'paper-scaled' stretches the paper's 20 epochs over a shorter run, step by step", () => {
    const s = { name: 'paper-scaled' as const, batchSize: 64, epochs: 4 };
    const max = 1.5e-5 * 64;
    // 4 epochs stand for 20: the 3-epoch warm-up ends at 0.6, and epoch 2 of 4 is the paper's epoch 10.
    expect(learningRate(s, 0)).toBeCloseTo(1e-4, 12);
    expect(learningRate(s, 0.3)).toBeCloseTo(1e-4 + (max - 1e-4) / 2, 12);
    expect(learningRate(s, 0.6)).toBeCloseTo(max, 12);
    expect(learningRate(s, 2)).toBeCloseTo((max - 1e-7) * 0.7 ** 7 + 1e-7, 12);
  });
});
