// `tokenwave generate`, `tokenwave train`, `tokenwave eval`.
import { join } from 'node:path';
import { generateSounds } from '../data/synthetic-sounds.js';
import { generateSpeech } from '../data/synthetic-speech.js';
import type { SplitPolicy } from '../data/datasets.js';
import { loadModel } from '../models/checkpoint.js';
import { modelConfig, type ModelOptions } from '../models/tasr.js';
import { init, shutdown } from '../tensor/engine.js';
import { evaluate, type Evaluation } from '../train/evaluate.js';
import { prepareData } from '../train/data.js';
import type { ScheduleName } from '../train/schedule.js';
import { evaluateCheckpoint, train } from '../train/trainer.js';
import { writeFileAtomic } from '../util/files.js';
import { integerOption, UsageError } from './errors.js';
import { progressBar } from './progress.js';

function positive(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(n > 0)) throw new UsageError(`--${name} must be a positive number, got '${value}'`);
  return n;
}

export async function generateCommand(kind: string, o: { out: string; perClass?: string; seed: string }): Promise<void> {
  if (kind !== 'speech' && kind !== 'sounds') throw new UsageError(`unknown data set kind '${kind}': valid kinds are 'speech' and 'sounds'`);
  const perClass = integerOption('per-class', o.perClass ?? (kind === 'speech' ? '100' : '40'))!;
  const seed = integerOption('seed', o.seed, 0)!;
  const bar = progressBar('generate');
  const start = performance.now();
  const onProgress = (d: number, t: number) => bar.update(d, t);
  const result = kind === 'speech' ? await generateSpeech({ out: o.out, perClass, seed, onProgress }) : await generateSounds({ out: o.out, perClass, seed, onProgress });
  bar.stop();
  console.log(
    `${o.out}: ${result.written} clips written, ${result.kept} already there (${kind === 'speech' ? '8 words' : '50 classes'} x ${perClass}, seed ${seed}) in ${((performance.now() - start) / 1000).toFixed(1)} s`,
  );
}

export interface TrainCommandOptions {
  data: string;
  model: string;
  epochs: string;
  batchSize?: string;
  schedule: ScheduleName;
  lr?: string;
  weightDecay: string;
  seed: string;
  split: SplitPolicy;
  out?: string;
  resume?: boolean;
  saveEvery: string;
  condensed?: boolean;
  esc10?: boolean;
  limitPerClass?: string;
  modelOptions?: string;
  backend?: string;
}

/** --model-options: a JSON object of model options beyond the name (e.g. '{"width": 64}'). */
function parseModelOptions(text: string | undefined): ModelOptions {
  if (!text) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`--model-options must be a JSON object, e.g. '{"tokenLearnerVersion": "v1.1"}'; got '${text}'`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`--model-options must be a JSON object, got '${text}'`);
  return value as ModelOptions;
}

function printEvaluation(name: string, e: Evaluation, k: number): void {
  console.log(`${name}: top-1 ${(100 * e.top1).toFixed(1)}%, top-${k} ${(100 * e.topK[k]!).toFixed(1)}% on ${e.clips} clips`);
}

export async function trainCommand(o: TrainCommandOptions): Promise<void> {
  const epochs = integerOption('epochs', o.epochs)!;
  const saveEvery = integerOption('save-every', o.saveEvery)!;
  const seed = integerOption('seed', o.seed, 0)!;
  const extra = parseModelOptions(o.modelOptions);
  let config = modelConfig(o.model, { ...extra, seed });
  const speech = config.family === 'TASR';
  const batchSize = integerOption('batch-size', o.batchSize) ?? (speech ? 64 : 32);
  const runDir = o.out ?? join('runs', o.model);
  await init({ backend: o.backend });
  const interrupted = { value: false };
  const onSigint = () => {
    if (interrupted.value) process.exit(130);
    interrupted.value = true;
    console.error('\ninterrupted: saving the checkpoint (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSigint);
  try {
    const prep = progressBar('prepare');
    const data = await prepareData(o.data, config, {
      condensed: o.condensed,
      esc10: o.esc10,
      split: o.split,
      limitPerClass: integerOption('limit-per-class', o.limitPerClass),
      onProgress: (stage, d, t) => prep.update(d, t, stage),
    });
    prep.stop();
    config = modelConfig(o.model, { ...extra, seed, classes: data.dataset.classNames.length, classNames: data.dataset.classNames });
    console.log(
      `${o.data}: ${data.dataset.layout}, ${data.dataset.classNames.length} classes; split ${data.policy}: ` +
        `${data.train.labels.length} train, ${data.validation.labels.length} validation, ${data.test.labels.length} test` +
        (data.skipped.length ? `; skipped ${data.skipped.length} unreadable files (first: ${data.skipped[0]!.path}: ${data.skipped[0]!.reason})` : ''),
    );
    if (data.train.labels.length === 0 || data.validation.labels.length === 0) {
      throw new UsageError(`${o.data}: too few clips to train (${data.train.labels.length} train, ${data.validation.labels.length} validation)`);
    }
    const bar = progressBar('train');
    const result = await train(config, data, {
      runDir,
      epochs,
      batchSize,
      schedule: { name: o.schedule, batchSize, epochs, lr: positive('lr', o.lr), ...(speech ? {} : { warmupStart: 1e-6, warmupEpochs: 4 }) },
      weightDecay: Number(o.weightDecay),
      seed,
      saveEvery,
      resume: !!o.resume,
      shouldStop: () => interrupted.value,
      onStep: (p) => bar.update(p.step, p.stepsPerEpoch, `epoch ${p.epoch + 1}/${epochs} loss ${p.loss.toFixed(3)}`),
      onEpoch: (e) => {
        bar.stop();
        console.log(
          `epoch ${e.epoch}/${epochs}: loss ${e.trainLoss.toFixed(4)}, train ${(100 * e.trainAccuracy).toFixed(1)}%, ` +
            `validation ${(100 * e.validationAccuracy).toFixed(1)}% (gap ${(100 * e.gap).toFixed(1)}), lr ${e.lr.toExponential(2)}, ` +
            `${e.stepsPerSecond.toFixed(2)} steps/s (${e.clipsPerSecond.toFixed(1)} clips/s)`,
        );
      },
    });
    if (result.stopped) {
      console.error(`stopped; the run is saved in ${join(runDir, 'last')}: continue with the same command and --resume`);
      process.exitCode = 130;
      return;
    }
    const k = speech ? 3 : 5;
    const test = await evaluateCheckpoint(join(runDir, 'best'), data.test, [k]);
    printEvaluation(`test (best epoch ${result.bestEpoch})`, test, k);
    await writeFileAtomic(join(runDir, 'summary.json'), JSON.stringify({ model: o.model, bestEpoch: result.bestEpoch, bestValidation: result.bestValidation, test, history: result.history }, null, 2));
    console.log(`best weights: ${join(runDir, 'best')}; log: ${join(runDir, 'log.jsonl')}`);
  } finally {
    process.off('SIGINT', onSigint);
    shutdown();
  }
}

export async function evalCommand(o: { checkpoint: string; data: string; split: SplitPolicy; subset: string; condensed?: boolean; esc10?: boolean; limitPerClass?: string; json?: boolean; backend?: string }): Promise<void> {
  if (!['train', 'validation', 'test'].includes(o.subset)) throw new UsageError(`--subset must be train, validation or test, got '${o.subset}'`);
  await init({ backend: o.backend });
  try {
    const model = await loadModel(o.checkpoint);
    const data = await prepareData(o.data, model.config, { condensed: o.condensed, esc10: o.esc10, split: o.split, limitPerClass: integerOption('limit-per-class', o.limitPerClass) });
    const names = data.dataset.classNames;
    const expected = model.config.classNames;
    if (names.length !== model.config.classes || (expected.length > 0 && expected.join() !== names.join())) {
      throw new UsageError(
        `${o.checkpoint} was trained on ${model.config.classes} classes (${expected.join(', ') || 'unnamed'}), but ${o.data} has ${names.length} (${names.join(', ')}): a checkpoint from a different data set`,
      );
    }
    const k = model.config.family === 'TASR' ? 3 : 5;
    const set = data[o.subset as 'test'];
    const result = await evaluate(model, set, [k]);
    model.dispose();
    if (o.json) {
      console.log(JSON.stringify({ checkpoint: o.checkpoint, data: o.data, subset: o.subset, split: data.policy, ...result }, null, 2));
      return;
    }
    printEvaluation(`${o.subset} (${data.policy})`, result, k);
    console.log('per class:');
    for (const c of result.perClass) console.log(`  ${c.label.padEnd(16)} ${(100 * c.accuracy).toFixed(1).padStart(5)}% of ${c.clips}`);
    console.log(`confusion (rows: true class, columns: predicted):`);
    const width = Math.max(5, ...names.map((n) => n.length));
    console.log(' '.repeat(width + 1) + names.map((n) => n.slice(0, 5).padStart(6)).join(''));
    result.confusion.forEach((row, i) => console.log(`${names[i]!.padEnd(width)} ${row.map((v) => String(v).padStart(6)).join('')}`));
  } finally {
    shutdown();
  }
}
