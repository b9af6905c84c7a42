// Nothing lost, nothing silently wrong: crashes at every point of a checkpoint swap, two trainers on one folder,
// damaged checkpoints, non-finite weights.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSpeech } from '../src/data/synthetic-speech.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { buildModel } from '../src/models/registry.js';
import type { AudioModel } from '../src/models/model.js';
import { modelConfig } from '../src/models/config.js';
import { AdamW } from '../src/optim/adamw.js';
import { ops } from '../src/index.js';
import { NonFiniteWatch } from '../src/kernels/anomaly.js';
import { engine, init, shutdown } from '../src/tensor/engine.js';
import { Tensor } from '../src/tensor/tensor.js';
import { checkBatchFits } from '../src/train/fits.js';
import { trainingStep } from '../src/train/step.js';
import { RunFolder, type TrainState } from '../src/train/run-folder.js';
import { fileError, writeFileAtomic } from '../src/util/files.js';
import { EXIT_RETRY_LATER } from '../src/util/errors.js';
import { useEngine } from './helpers/gpu.js';

useEngine();
const cli = join(import.meta.dirname, '..', 'bin', 'tokenwave.js');
const TINY = JSON.stringify({ mbconvBlocks: 0, width: 16, keyDim: 8, mlp: [32, 16], dropout: 0.1 });
let work = '';
let data = '';

function tokenwave(args: string[], env: Record<string, string> = {}, started?: (child: ChildProcess) => void): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('node', [cli, ...args], { env: { ...process.env, TOKENWAVE_CACHE: join(work, 'cache'), ...env } });
    started?.(child);
    let [stdout, stderr] = ['', ''];
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const trainArgs = (out: string, extra: string[] = []) => [
  'train', '--data', data, '--model', 'TASR_1L_4T-2H', '--model-options', TINY, '--epochs', '2', '--batch-size', '8',
  '--save-every', '2', '--schedule', 'constant', '--lr', '1e-3', '--out', out, ...extra,
];

function weights(dir: string): Map<string, number[]> {
  const { tensors } = decodeSafetensors(readFileSync(join(dir, 'model.safetensors')), dir);
  return new Map([...tensors].map(([name, t]) => [name, [...t.data]]));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tokenwave-reliability-'));
  data = join(work, 'speech');
  await generateSpeech({ out: data, perClass: 6, seed: 1 });
}, 300_000);

describe('crashes during a checkpoint swap', () => {
  it('a SIGKILL at each step of the swap, then --resume, ends bit-identical to an uninterrupted run, with a consistent log', async () => {
    const whole = join(work, 'whole');
    const uninterrupted = await tokenwave(trainArgs(whole));
    expect(uninterrupted.code, uninterrupted.stderr).toBe(0);
    const expected = weights(join(whole, 'last'));
    const expectedLog = readFileSync(join(whole, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).epoch);
    for (const point of ['filled:2', 'moved-old:2', 'moved-new:2', 'filled:4']) {
      const out = join(work, `crash-${point.replace(':', '-')}`);
      const crashed = await tokenwave(trainArgs(out), { TOKENWAVE_CRASH_AT: point });
      expect(crashed.signal, `${point}: ${crashed.stderr}`).toBe('SIGKILL');
      const resumed = await tokenwave(trainArgs(out, ['--resume']));
      expect(resumed.code, `${point}: ${resumed.stderr}`).toBe(0);
      expect(weights(join(out, 'last')), point).toEqual(expected);
      expect(readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).epoch), point).toEqual(expectedLog);
      expect(readdirSync(out).filter((f) => /\.(tmp|old)-/.test(f)), point).toEqual([]);
      expect(existsSync(join(out, 'run.lock')), point).toBe(false);
    }
  });

  it('a GPU device lost mid-run keeps the last checkpoint, says in one line how to go on, and --resume ends bit-identical', async () => {
    const expected = weights(join(work, 'whole', 'last')); // the uninterrupted run of the test above
    const out = join(work, 'device-lost');
    // 38 clips at batch 8: 5 steps an epoch; saved every 2 steps and at the end of each epoch, so last/ is at step 6
    const lost = await tokenwave(trainArgs(out), { TOKENWAVE_LOSE_DEVICE_AT: '7' });
    expect(lost.code, lost.stderr).toBe(EXIT_RETRY_LATER); // a fault outside the run: the same command may succeed later
    const lines = lost.stderr.trim().split('\n').filter((l) => !/^Warning: /.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tokenwave: GPU device lost: TOKENWAVE_LOSE_DEVICE_AT=7, at epoch 2, step 2; the checkpoint in .*device-lost\/last \(after step 6\) is kept: run the same command with --resume to continue from it$/);
    // the injection loses a fresh run's device only: the resumption trains on, as a sweep worker's would
    const resumed = await tokenwave(trainArgs(out, ['--resume']), { TOKENWAVE_LOSE_DEVICE_AT: '7' });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(weights(join(out, 'last'))).toEqual(expected);
    // lost before anything was saved: nothing to resume, and it says to start over
    const early = await tokenwave(trainArgs(join(work, 'device-lost-early')), { TOKENWAVE_LOSE_DEVICE_AT: '1' });
    expect(early.code).toBe(EXIT_RETRY_LATER);
    expect(early.stderr).toMatch(/at epoch 1, step 1; no checkpoint had been saved yet: run the same command again to start over/);
  });

  it('--resume with nothing to resume says so; a new run refuses to overwrite an existing one', async () => {
    const fresh = join(work, 'fresh');
    const nothing = await tokenwave(trainArgs(fresh, ['--resume']));
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toMatch(/nothing to resume in .*fresh: it has no checkpoint/);
    expect(existsSync(fresh), 'the refused run left its folder behind').toBe(false);
    const again = await tokenwave(trainArgs(join(work, 'whole')));
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds a run: add --resume/);
  });
});

describe('the run folder', () => {
  const state = (over: Partial<TrainState> = {}): TrainState => ({
    epoch: 0, stepInEpoch: 1, globalStep: 1, bestValidation: -1, bestEpoch: -1, epochLoss: 1, epochCorrect: 0, epochClips: 8,
    epochSeconds: 1, history: [], stepsPerEpoch: 4, batchSize: 8, ...over,
  });
  const expected = { stepsPerEpoch: 4, batchSize: 8, epochs: 2 };

  async function savedRun(name: string): Promise<{ dir: string; model: AudioModel; opt: AdamW }> {
    const dir = join(work, name);
    const model = buildModel(modelConfig('TASR_1L_4T-2H', JSON.parse(TINY)));
    const opt = new AdamW(model.parameters());
    opt.step = 1;
    const run = await RunFolder.open(dir);
    await run.saveLast(model, opt, state());
    await run.close();
    return { dir, model, opt };
  }

  it('a second trainer on the same folder refuses with one clear line; a dead owner\'s lock is taken over', async () => {
    const dir = join(work, 'locked');
    const first = await RunFolder.open(dir);
    await expect(RunFolder.open(dir)).rejects.toThrow(/locked is in use by another training run \(process \d+ on .*\): wait for it, or use another --out/);
    await first.close();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'run.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), started: '2026-01-01' }));
    const notices: string[] = [];
    const second = await RunFolder.open(dir, (m) => notices.push(m));
    expect(notices.join()).toMatch(/taking over the lock .* no longer running/);
    await second.close();
  });

  it('many openers at once, on a fresh folder or over a dead owner\'s lock: exactly one holds it, and no lock, takeover or temporary file is left behind', async () => {
    for (const [name, stale] of [['racing', false], ['racing-stale', true]] as const) {
      const dir = join(work, name);
      mkdirSync(dir, { recursive: true });
      if (stale) writeFileSync(join(dir, 'run.lock'), JSON.stringify({ pid: 2 ** 22 + 54321, host: hostname(), started: '2026-01-01' }));
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => RunFolder.open(dir)));
      const held = results.filter((r): r is PromiseFulfilledResult<RunFolder> => r.status === 'fulfilled');
      expect(held, name).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(String(r.reason)).toMatch(/in use by another training run/);
      await held[0]!.value.close();
      expect(readdirSync(dir).filter((f) => f.startsWith('run.lock')), name).toEqual([]);
    }
  });

  it('a second trainer process on a folder another is training in is refused at once (before preparing any data), and the first finishes undisturbed', async () => {
    const out = join(work, 'concurrent');
    // The first is paused (SIGSTOP) once it holds the lock, so that it is still training, whatever this machine's
    // speed, while the second starts.
    let first: ChildProcess | undefined;
    const firstDone = tokenwave(trainArgs(out), {}, (child) => (first = child));
    while (!existsSync(join(out, 'run.lock')) && first!.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(first!.exitCode, 'the first trainer ended before it locked its folder').toBeNull();
    first!.kill('SIGSTOP');
    const second = await tokenwave(trainArgs(out)).finally(() => first!.kill('SIGCONT'));
    expect(second.code, second.stderr).toBe(EXIT_RETRY_LATER);
    expect(second.stderr).toMatch(new RegExp(`in use by another training run \\(process ${first!.pid} on `));
    expect(second.stdout).not.toMatch(/classes; split/);
    const done = await firstDone;
    expect(done.code, done.stderr).toBe(0);
    expect(readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).epoch)).toEqual([1, 2]);
  });

  it('Ctrl-C before training began (tuning, spectrograms) ends the trainer at once, saving nothing and leaving no folder', async () => {
    const out = join(work, 'interrupted-early');
    let trainer: ChildProcess | undefined;
    const done = tokenwave(trainArgs(out), {}, (child) => (trainer = child));
    while (!existsSync(join(out, 'run.lock')) && trainer!.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 10));
    // paused as it holds the folder, before it has logged anything, and interrupted there
    trainer!.kill('SIGSTOP');
    expect(readdirSync(out).filter((f) => !f.startsWith('run.lock')), 'nothing but the lock (and its temporary copy) yet').toEqual([]);
    trainer!.kill('SIGINT');
    trainer!.kill('SIGCONT');
    const ended = await done;
    expect(ended.code, ended.stderr).toBe(130);
    expect(ended.stderr).toMatch(/interrupted before training began: nothing to save/);
    expect(ended.stderr).not.toMatch(/saving the checkpoint/);
    expect(existsSync(out)).toBe(false);
  });

  it('recovers the newest sealed copy left by a torn swap and removes the stale ones', async () => {
    const { dir, model, opt } = await savedRun('torn');
    const run = await RunFolder.open(dir);
    opt.step = 2;
    await run.saveLast(model, opt, state({ globalStep: 2, stepInEpoch: 2 }));
    await run.close();
    renameSync(join(dir, 'last'), join(dir, 'last.tmp-99999'));
    mkdirSync(join(dir, 'last.old-99999'));
    writeFileSync(join(dir, 'last.old-99999', 'model.safetensors'), 'half written');
    const notices: string[] = [];
    const reopened = await RunFolder.open(dir, (m) => notices.push(m));
    expect(notices.join()).toMatch(/recovered .*last from last\.tmp-99999 \(step 2\)/);
    expect(readdirSync(dir).filter((f) => f.startsWith('last'))).toEqual(['last']);
    const restored = await reopened.restore(model, opt, expected);
    expect(restored.globalStep).toBe(2);
    await reopened.close();
    model.dispose();
    opt.dispose();
  });

  it('names the file and the field of a damaged checkpoint instead of trusting it', async () => {
    const { dir, model, opt } = await savedRun('damaged');
    const stateFile = join(dir, 'last', 'state.json');
    const manifestFile = join(dir, 'last', 'manifest.json');
    const reseal = () => {
      const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
      manifest.files['state.json'] = createHash('sha256').update(readFileSync(stateFile)).digest('hex');
      writeFileSync(manifestFile, JSON.stringify(manifest));
    };
    const attempt = async () => {
      const run = await RunFolder.open(dir);
      try {
        return await run.restore(model, opt, expected);
      } finally {
        await run.close();
      }
    };
    const good = readFileSync(stateFile, 'utf8');
    for (const [text, message] of [
      ['{}', /state\.json: 'stepsPerEpoch' must be an integer/],
      [JSON.stringify({ ...JSON.parse(good), epoch: -5 }), /state\.json: 'epoch' must be an integer from 0/],
      [JSON.stringify({ ...JSON.parse(good), stepInEpoch: 500 }), /state\.json: 'stepInEpoch' must be an integer from 0 to 3, got 500/],
      ['{"epoch": 1,', /state\.json: not valid JSON/],
    ] as [string, RegExp][]) {
      writeFileSync(stateFile, text);
      reseal();
      await expect(attempt(), text).rejects.toThrow(message);
    }
    writeFileSync(stateFile, good);
    reseal();
    const weightsFile = join(dir, 'last', 'model.safetensors');
    const bytes = readFileSync(weightsFile);
    bytes[bytes.length - 5]! ^= 0x40;
    writeFileSync(weightsFile, bytes);
    await expect(attempt()).rejects.toThrow(/last: its files do not match the checksums recorded when it was saved/);
    model.dispose();
    opt.dispose();
  });

  it('never writes non-finite weights: the save fails naming the tensor, and the last good checkpoint stays', async () => {
    const { dir, model, opt } = await savedRun('nonfinite');
    const before = readFileSync(join(dir, 'last', 'model.safetensors'));
    const [name, tensor] = model.namedParameters()[0]!;
    tensor.write(new Float32Array(tensor.size).fill(NaN));
    const run = await RunFolder.open(dir);
    await expect(run.saveLast(model, opt, state({ globalStep: 2, stepInEpoch: 2 }))).rejects.toThrow(new RegExp(`weight '${name.replace('.', '\\.')}' holds NaN`));
    await run.close();
    expect(readFileSync(join(dir, 'last', 'model.safetensors'))).toEqual(before);
    expect(readdirSync(dir).filter((f) => /\.(tmp|old)-/.test(f))).toEqual([]);
    model.dispose();
    opt.dispose();
  });

  it('refuses a non-finite or out-of-range learning rate or weight decay before training starts', async () => {
    for (const [flag, value] of [['--lr', 'Infinity'], ['--lr', 'NaN'], ['--weight-decay', 'NaN'], ['--weight-decay', 'abc'], ['--weight-decay', '-1'], ['--lr', '1e30']]) {
      const out = join(work, `bad-${flag}-${value}`);
      const run = await tokenwave(trainArgs(out, [flag!, value!]));
      expect(run.code, `${flag} ${value}`).toBe(1);
      expect(run.stderr, `${flag} ${value}`).toMatch(new RegExp(`tokenwave: ${flag} must be a finite number`));
      expect(existsSync(join(out, 'last')), `${flag} ${value}`).toBe(false);
    }
  });
});

describe('loose arguments get one line naming the fix', () => {
  it('zero learned tokens, a bad or conflicting seed, a class count the data contradicts, ESC-50 options on speech, --out on a file, the null backend', async () => {
    const cases: [string[], RegExp][] = [
      [['flops', 'TASR_4L_0T-8H'], /TASR_4L_0T-8H: 0 learned tokens is no TokenLearner at all; for a model without one write NT \(TASR_4L_NT-8H\)/],
      [trainArgs(join(work, 'seed-x'), ['--model-options', JSON.stringify({ ...JSON.parse(TINY), seed: 'x' })]), /seed must be an integer from 0 to 4294967295, got "x"/],
      [trainArgs(join(work, 'seeds'), ['--model-options', JSON.stringify({ ...JSON.parse(TINY), seed: 3 }), '--seed', '4']), /--seed 4 and --model-options' seed 3 disagree; give one/],
      [trainArgs(join(work, 'classes'), ['--model-options', JSON.stringify({ ...JSON.parse(TINY), classes: 3 })]), /--model-options gives classes 3, but .* has 8 classes; drop "classes"/],
      [trainArgs(join(work, 'condensed'), ['--condensed']), /--condensed chooses among ESC-50's classes, but this folder holds a speech data set .*; drop the option/],
      [trainArgs(join(work, 'esc10'), ['--esc10']), /--esc10 chooses among ESC-50's classes/],
      [trainArgs('/dev/null/run'), /\/dev\/null\/run: a part of the path is a file, not a folder/],
      [trainArgs(join(work, 'cache', '..', 'a-file')), /a-file: is a file, not a folder: give a folder/],
      [['doctor', '--backend', 'null'], /argument 'null' is invalid\. Allowed choices are auto, vulkan, opengles/],
    ];
    writeFileSync(join(work, 'a-file'), 'not a folder');
    for (const [args, message] of cases) {
      const run = await tokenwave(args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.stderr, args.join(' ')).toMatch(message);
      const lines = run.stderr.trim().split('\n').filter((l) => !/^Warning: /.test(l));
      expect(lines[0], args.join(' ')).toMatch(message);
      // commander follows its own usage errors with the command's help; tokenwave's errors are one line
      if (args[0] !== 'doctor') expect(lines, args.join(' ')).toHaveLength(1);
      expect(run.stderr).not.toMatch(/^\s+at /m);
    }
    // a seed in the model options alone is the run's seed
    const seeded = await tokenwave(trainArgs(join(work, 'seed-in-options'), ['--model-options', JSON.stringify({ ...JSON.parse(TINY), seed: 3 }), '--epochs', '1']));
    expect(seeded.code, seeded.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(work, 'seed-in-options', 'best', 'config.json'), 'utf8')).options.seed).toBe(3);
  });
});

describe('a diverging run', () => {
  it('warns once, naming the loss, the steps and the learning rate to lower; a healthy run says nothing', async () => {
    const wild = await tokenwave(trainArgs(join(work, 'diverging'), ['--lr', '10', '--epochs', '3']));
    expect(wild.code, wild.stderr).toBe(0);
    const warnings = wild.stderr.split('\n').filter((l) => l.includes('training is diverging'));
    expect(warnings).toHaveLength(1);
    // 8 classes: a model that only guesses has a loss of ln 8 = 2.08; 4x that is 8.3
    expect(warnings[0]).toMatch(/^tokenwave: the training loss averaged [\d.e+]+ over steps 1-5, more than 4x that of a model that only guesses \(ln 8 = 2\.08\): training is diverging; try a lower --lr \(this step's is 10\.0\)/);
    const calm = await tokenwave(trainArgs(join(work, 'calm'), ['--epochs', '3', '--detect-anomaly']));
    expect(calm.code, calm.stderr).toBe(0);
    expect(calm.stderr).not.toMatch(/diverging/);
  }, 120_000);
});

describe('anomaly detection', () => {
  it('names the first kernel whose output holds a NaN: the one that first reads a poisoned weight, at its module', async () => {
    const model = buildModel(modelConfig('TASR_1L_4T-2H', JSON.parse(TINY)));
    const optimizer = new AdamW(model.parameters(), { lr: 1e-3 });
    const x = Tensor.from(Float32Array.from({ length: 2 * 124 * 129 }, (_, i) => Math.sin(i)), [2, 124, 129]);
    const y = Tensor.from(Int32Array.of(1, 5), [2], 'i32');
    const watch = new NonFiniteWatch();
    try {
      const healthy = trainingStep(model, optimizer, x, y);
      await healthy.data();
      healthy.dispose();
      expect(await watch.firstNonFinite()).toBeUndefined();
      // poison the last parameter: only its own layer reads it, so that layer's kernel is the first to output NaN
      const [name, weight] = model.namedParameters().at(-1)!;
      weight.write(Float32Array.from({ length: weight.size }, (_, i) => (i === 0 ? NaN : 0)));
      const poisoned = trainingStep(model, optimizer, x, y);
      await poisoned.data();
      poisoned.dispose();
      const culprit = await watch.firstNonFinite();
      const layer = name.split('.').slice(0, -1).join('/'); // 'head.kernel' -> the module path 'head'
      expect(culprit).toMatch(new RegExp(`^output '\\w+' of kernel '[^']+' \\(op \\w+, module (\\S+/)?${layer}, forward\\)$`));
    } finally {
      watch.stop();
      x.dispose();
      y.dispose();
      optimizer.dispose();
      model.dispose();
    }
  });
});

describe('a batch too large for the adapter', () => {
  it('is refused before any work, naming the batch, the buffer, the limit and the largest batch that fits, which does fit', async () => {
    const config = modelConfig('TASR_1L_4T-2H', JSON.parse(TINY));
    const limit = engine().runtime.device.limits.maxStorageBufferBindingSize;
    // the input alone, [batch, 124 frames, 129 bins] of float32, is past the limit from this batch on (by hand)
    const clipBytes = 124 * 129 * 4;
    const batch = Math.floor(limit / clipBytes) + 1;
    const before = engine().runtime.pool.snapshot().bytesInUse;
    const refusal = await checkBatchFits(config, batch, 'training', '--batch-size').then(() => '', (err: Error) => err.message);
    const mib = (limit / 2 ** 20).toLocaleString('en-US');
    expect(refusal).toMatch(new RegExp(`^TASR_1L_4T-2H at batch ${batch}: a training step needs a buffer of [\\d,.]+ MiB, more than this adapter allows \\(maxStorageBufferBindingSize: ${mib} MiB\\); the largest batch that fits is (\\d+): use --batch-size \\1 or less$`));
    const largest = Number(refusal.match(/fits is (\d+)/)![1]);
    expect(largest).toBeLessThan(batch);
    await expect(checkBatchFits(config, largest, 'training', '--batch-size')).resolves.toBeUndefined();
    await expect(checkBatchFits(config, largest + 1, 'training', '--batch-size')).rejects.toThrow(/the largest batch that fits is/);
    // nothing was run and nothing is left held
    expect(engine().runtime.pool.snapshot().bytesInUse).toBe(before);
  }, 120_000);
});

describe('a GPU memory budget (TOKENWAVE_GPU_MEMORY_MIB, as on a GPU shared with others)', () => {
  it('a batch over it is refused up front naming the largest that fits; that one trains within it, to the weights it reaches without one', async () => {
    // a cache of its own: the spectrograms are computed under the budget too (in halves: 48 clips do not fit)
    const budget = { TOKENWAVE_GPU_MEMORY_MIB: '4', TOKENWAVE_CACHE: join(work, 'cache-budget') };
    const refused = await tokenwave(trainArgs(join(work, 'budget-32'), ['--batch-size', '32']), budget);
    expect(refused.code).toBe(1);
    expect(existsSync(join(work, 'budget-32')), 'the refused run left its folder behind').toBe(false);
    const refusal = refused.stderr.trim().split('\n').at(-1)!;
    expect(refusal).toMatch(
      /^tokenwave: TASR_1L_4T-2H at batch 32: a training step needs more GPU memory than tokenwave may use \(TOKENWAVE_GPU_MEMORY_MIB: 4 MiB; [\d.]+ MiB were allocated when [\d.,]+ [KM]iB more were asked for\); the largest batch that fits is (\d+): use --batch-size \1 or less$/,
    );
    const largest = Number(refusal.match(/fits is (\d+)/)![1]);
    expect(largest).toBeGreaterThan(1);
    const over = await tokenwave(trainArgs(join(work, 'budget-over'), ['--batch-size', String(largest + 1)]), budget);
    expect(over.stderr).toMatch(new RegExp(`the largest batch that fits is ${largest}: `));
    const within = await tokenwave(trainArgs(join(work, 'budget-within'), ['--batch-size', String(largest)]), budget);
    expect(within.code, within.stderr).toBe(0);
    const unbounded = await tokenwave(trainArgs(join(work, 'budget-none'), ['--batch-size', String(largest)]));
    expect(unbounded.code, unbounded.stderr).toBe(0);
    expect(weights(join(work, 'budget-within', 'last'))).toEqual(weights(join(work, 'budget-none', 'last')));
    const nonsense = await tokenwave(trainArgs(join(work, 'budget-nonsense')), { TOKENWAVE_GPU_MEMORY_MIB: 'lots' });
    expect(nonsense.code).toBe(1);
    expect(nonsense.stderr.trim().split('\n').at(-1)).toBe('tokenwave: TOKENWAVE_GPU_MEMORY_MIB=lots: give the MiB of GPU memory tokenwave may use, a positive number');
  }, 180_000);
});

describe('file-system failures', () => {
  it('a failed write names the path and why, and leaves no temporary file; an unwritable cache costs a warning, not the run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-files-'));
    await expect(writeFileAtomic(dir, 'x')).rejects.toThrow(new RegExp(`${dir}: is a folder: give a file name`));
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith(basename(dir) + '.tmp-'))).toEqual([]);
    await expect(writeFileAtomic('/dev/null/x.json', 'x')).rejects.toThrow(/\/dev\/null\/x\.json: a part of the path is a file, not a folder/);
    expect(fileError('/data/run/last', Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })).message).toBe(
      '/data/run/last: no space left on the disk: free some space or write elsewhere',
    );
    const out = join(work, 'nocache');
    const run = await tokenwave(trainArgs(out, ['--epochs', '1']), { TOKENWAVE_CACHE: '/dev/null/cache' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/could not cache the spectrograms \(\/dev\/null\/cache: a part of the path is a file, not a folder\); going on without the cache/);
  });
});

describe('library misuse gets a clear error', () => {
  it('a label outside the classes, an int32 tensor where floats go, a second backward pass, a read after shutdown', async () => {
    const logits = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(() => ops.crossEntropy(logits, Tensor.from([0, 3], [2], 'i32'))).toThrow(/label 3 is outside the 3 classes of logits \[2, 3\] \(labels run from 0 to 2\)/);
    expect(() => ops.crossEntropy(logits, Tensor.from([-1, 0], [2], 'i32'))).toThrow(/label -1 is outside/);
    expect(() => ops.exp(Tensor.from([1, 2], [2], 'i32'))).toThrow(/exp: 'xs' takes float32 values, got an int32 tensor \[2\]/);
    const w = Tensor.from([0.5, -0.5], [2]);
    w.requiresGrad = true;
    const loss = ops.sum(ops.mul(w, w));
    ops.backward(loss);
    expect(() => ops.backward(loss)).toThrow(/a backward pass already went through this graph/);
    const t = Tensor.from([1, 2], [2]);
    shutdown();
    await expect(t.data()).rejects.toThrow(/read after shutdown\(\): its GPU memory is gone/);
    await init();
  });
});
