// `tokenwave train --data DIR`: trains a model, keeps the best weights, a resumable checkpoint and a log.
import { join } from 'node:path';
import { Command, Option } from 'commander';
import type { SplitPolicy } from '../data/datasets.js';
import { BackgroundNoise, type NoiseMixing } from '../data/noise.js';
import { loadClips } from '../data/pipeline.js';
import { modelConfig, protocolOf } from '../models/config.js';
import { ADAM_FORMS, type AdamForm } from '../optim/adamw.js';
import { spectrogramSets, splitData } from '../train/data.js';
import { checkBatchFits } from '../train/fits.js';
import { EVALUATION_BATCH } from '../train/evaluate.js';
import { tuneSteps } from './tune.js';
import { SCHEDULES, type ScheduleName } from '../train/schedule.js';
import { init, shutdown } from '../tensor/engine.js';
import { SUMMARY_FILE } from '../train/run-folder.js';
import { claimRunFolder, trainIn, type ClaimedRun } from '../train/trainer.js';
import { writeFileAtomic } from '../util/files.js';
import { printEvaluation, splitOption } from './eval.js';
import { backendOption, integerOption, numberOption, parseModelOptions, UsageError } from './options.js';
import { progressBar } from './progress.js';
import { summarizeRun } from './run-summary.js';

interface TrainCommandOptions {
  data: string;
  model: string;
  epochs?: string;
  batchSize?: string;
  schedule?: ScheduleName;
  lr?: string;
  weightDecay: string;
  adam: AdamForm;
  seed?: string;
  split: SplitPolicy;
  out?: string;
  resume?: boolean;
  resumeIfAny?: boolean;
  saveEvery: string;
  condensed?: boolean;
  detectAnomaly?: boolean;
  esc10?: boolean;
  limitPerClass?: string;
  modelOptions?: string;
  backgroundNoise?: string;
  backend?: string;
}

/** --background-noise P,VOLUME: the share of clips that get noise, and the largest noise scale. */
function parseNoise(text: string | undefined): NoiseMixing | undefined {
  if (text === undefined) return undefined;
  const [p, v, extra] = text.split(',');
  if (v === undefined || extra !== undefined) throw new UsageError(`--background-noise takes PROBABILITY,VOLUME (e.g. 0.8,0.1), got '${text}'`);
  return { probability: numberOption('background-noise probability', p, { min: 0, max: 1 })!, volume: numberOption('background-noise volume', v, { min: 0, max: 1 })! };
}

async function trainAction(o: TrainCommandOptions): Promise<void> {
  const saveEvery = integerOption('save-every', o.saveEvery)!;
  const lr = numberOption('lr', o.lr, { above: 0, max: 10 });
  const weightDecay = numberOption('weight-decay', o.weightDecay, { min: 0, max: 1 })!;
  const limitPerClass = integerOption('limit-per-class', o.limitPerClass);
  const mixing = parseNoise(o.backgroundNoise);
  const extra = parseModelOptions(o.modelOptions);
  // The options as given are checked first: a merged seed or class count must not hide a bad one.
  const protocol = protocolOf(modelConfig(o.model, extra));
  const seedOption = integerOption('seed', o.seed, 0);
  if (seedOption !== undefined && extra.seed !== undefined && seedOption !== extra.seed) {
    throw new UsageError(`--seed ${seedOption} and --model-options' seed ${extra.seed} disagree; give one`);
  }
  const seed = seedOption ?? extra.seed ?? 0;
  const schedule = o.schedule ?? protocol.schedule;
  // the family's peak rate goes with its own schedule only
  const peakLr = lr ?? (schedule === protocol.schedule ? protocol.lr : undefined);
  const batchSize = integerOption('batch-size', o.batchSize) ?? protocol.batchSize;
  const epochs = integerOption('epochs', o.epochs) ?? protocol.epochs;
  const runDir = o.out ?? join('runs', o.model);
  // the data set's files first (a quick listing): a wrong --data or class count is refused before anything is made
  const listed = await splitData(o.data, { condensed: o.condensed, esc10: o.esc10, split: o.split, limitPerClass });
  const classes = listed.dataset.classNames.length;
  if (extra.classes !== undefined && extra.classes !== classes) {
    throw new UsageError(`--model-options gives classes ${extra.classes}, but ${o.data} has ${classes} classes; drop "classes" (the data set decides it)`);
  }
  const config = modelConfig(o.model, { ...extra, seed, classes, classNames: listed.dataset.classNames });
  const onNotice = (message: string) => console.error(`tokenwave: ${message}`);
  const interrupted = { value: false };
  let claimed: ClaimedRun | undefined;
  let training = false;
  let stoppedEarly = false;
  // Before training begins (the claim, tuning, spectrograms: minutes on a large set) there is nothing to save: stop
  // at once. A claim still being taken is released where it returns.
  const stopBeforeTraining = (why: string) => {
    if (stoppedEarly) return;
    stoppedEarly = true;
    console.error(`\n${why} before training began: nothing to save`);
    if (claimed) void claimed.folder.close().finally(() => process.exit(130));
  };
  const onSigint = () => {
    if (!training) return stopBeforeTraining('interrupted');
    if (interrupted.value) process.exit(130);
    interrupted.value = true;
    console.error('\ninterrupted: saving the checkpoint (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSigint);
  // Started by a sweep worker (an IPC channel): if the worker dies, save the checkpoint and stop, so that the run
  // is left for the next worker and never trained by two processes at once.
  const onOrphaned = () => {
    if (!training) return stopBeforeTraining('the sweep worker that started this run is gone');
    interrupted.value = true;
  };
  process.on('disconnect', onOrphaned);
  if (process.send && !process.connected) onOrphaned(); // the worker died before we listened
  try {
    // claimed before the adapter, the tuner and the spectrograms: a second trainer on this folder is refused at once
    claimed = await claimRunFolder({ runDir, resume: o.resumeIfAny ? 'if-any' : !!o.resume, onNotice });
    if (stoppedEarly) {
      process.exitCode = 130;
      return;
    }
    await init({ backend: o.backend });
    await checkBatchFits(config, batchSize, 'training', '--batch-size');
    await tuneSteps(config, [{ batch: batchSize, kind: 'training' }, { batch: EVALUATION_BATCH, kind: 'inference' }]);
    const prep = progressBar('prepare');
    const data = await spectrogramSets(listed, config, { onProgress: (stage, d, t) => prep.update(d, t, stage) });
    prep.stop();
    console.log(
      `${o.data}: ${data.dataset.layout}, ${data.dataset.classNames.length} classes; split ${data.policy}: ` +
        `${data.train.labels.length} train, ${data.validation.labels.length} validation, ${data.test.labels.length} test` +
        (data.skipped.length ? `; skipped ${data.skipped.length} unreadable files (first: ${data.skipped[0]!.path}: ${data.skipped[0]!.reason})` : ''),
    );
    if (data.train.labels.length === 0 || data.validation.labels.length === 0) {
      throw new UsageError(`${o.data}: too few clips to train (${data.train.labels.length} train, ${data.validation.labels.length} validation)`);
    }
    const noise = mixing && {
      noise: await BackgroundNoise.load(data.dataset.noiseFiles, config.spectrogram.sampleRate, config.clipSamples),
      mixing,
      clips: await loadClips(data.train, config),
    };
    if (noise) console.log(`background noise: ${noise.noise.files.length} recordings, mixed into ${(100 * noise.mixing.probability).toFixed(0)}% of the training clips at volumes up to ${noise.mixing.volume}`);
    const bar = progressBar('train');
    training = true;
    const result = await trainIn(claimed, config, data, {
      epochs,
      batchSize,
      schedule: { name: schedule, batchSize, epochs, lr: peakLr, ...protocol.warmup },
      weightDecay,
      adamForm: o.adam,
      noise,
      seed,
      saveEvery,
      shouldStop: () => interrupted.value,
      onNotice,
      detectAnomaly: o.detectAnomaly,
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
    const ks = protocol.topK;
    const summary = await summarizeRun(o.model, runDir, result, data.test, ks, batchSize);
    printEvaluation(`test (best epoch ${result.bestEpoch})`, summary.test, ks.at(-1)!);
    await writeFileAtomic(join(runDir, SUMMARY_FILE), JSON.stringify(summary, null, 2));
    console.log(`best weights: ${join(runDir, 'best')}; log: ${join(runDir, 'log.jsonl')}`);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('disconnect', onOrphaned);
    await claimed?.folder.close();
    shutdown();
  }
}

export const trainCommand = new Command('train')
  .description('train a model on a data folder (mini_speech_commands, Speech Commands v0.02 or ESC-50 layout)')
  .requiredOption('--data <dir>', 'the data set folder')
  .option('--model <name>', 'model name, e.g. TASR_4L_8T-8H, TASR_4L_NT-8H, TESC_4L_8T-8H, KWT-1, KWT-1_8T', 'TASR_4L_8T-8H')
  .option('--epochs <n>', "epochs (default: the paper's, 20)")
  .option('--batch-size <n>', "batch size (default: the family's protocol: 64 for TASR and KWT, 32 for TESC, as the paper)")
  .addOption(new Option('--schedule <name>', "learning-rate schedule (default: the family's protocol: paper for TASR/TESC, cosine for KWT)").choices(SCHEDULES))
  .option('--lr <rate>', "peak learning rate (default: the family's with its schedule (KWT: 2e-4); paper schedule: 1.5e-5 x batch size; others: 1e-4)")
  .option('--weight-decay <w>', 'decoupled weight decay per step', '1e-4')
  .addOption(new Option('--adam <form>', "where AdamW puts epsilon: 'keras' (the paper's TensorFlow Addons AdamW: lr scaled by the bias corrections, eps on sqrt(v)) or 'pytorch' (eps on the bias-corrected sqrt(v))").choices(ADAM_FORMS).default('keras'))
  .option('--seed <n>', 'seed for initialisation, shuffling and dropout (default: the model options\' seed, else 0)')
  .addOption(splitOption())
  .option('--out <dir>', 'run folder (default: runs/MODEL)')
  .option('--resume', 'continue the run in --out from its last checkpoint')
  .option('--resume-if-any', 'continue the run in --out if it has a checkpoint, else start it (what a sweep runs)')
  .option('--save-every <steps>', 'write the resumable checkpoint every this many steps', '50')
  .option('--condensed', 'ESC-50: the 5 major categories')
  .option('--esc10', 'ESC-50: the ESC-10 subset')
  .option('--limit-per-class <n>', 'use at most this many clips per class')
  .option('--model-options <json>', 'model options beyond the name, e.g. \'{"tokenLearnerVersion": "v1.1", "tokenLearnerAt": 2}\'')
  .option('--detect-anomaly', "check every kernel's output for NaN and infinity and stop at the first, naming the kernel, op and module (slow: one more dispatch per output, steps unplanned)")
  .option('--background-noise <p,volume>', "mix Speech Commands v0.02's _background_noise_ recordings into this share of the training clips, scaled by up to VOLUME (TensorFlow's recipe: 0.8,0.1); seeded")
  .addOption(backendOption())
  .action(trainAction);
