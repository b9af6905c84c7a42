// `npm start` / `tokenwave demo`: the paper's comparison end to end on a fresh machine. Generates synthetic speech
// (a training set, and a held-out test set from other speakers; both kept for next time), trains TASR with and
// without TokenLearner on the same budget, and reports accuracy with 95% intervals against FLOPs (the paper's count
// and the exact one) and measured time, as a table, the paper's picture and a one-line verdict.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { PAPER_TRAIN_FRACTION } from '../data/datasets.js';
import { generateSpeech, SPEECH_WORDS } from '../data/synthetic-speech.js';
import type { AudioModel } from '../models/model.js';
import { buildModel } from '../models/registry.js';
import { modelConfig, protocolOf } from '../models/config.js';
import { engine, init, shutdown } from '../tensor/engine.js';
import { prepareData, prepareTestSet } from '../train/data.js';
import type { ScheduleOptions } from '../train/schedule.js';
import { EVALUATION_BATCH } from '../train/evaluate.js';
import { checkBatchFits } from '../train/fits.js';
import { timeInference, timeTrainingStep } from '../train/step-times.js';
import { train } from '../train/trainer.js';
import { makeFolder, writeFileAtomic } from '../util/files.js';
import { svgToPng } from '../viz/render.js';
import { planBudget, type ModelCost } from './demo-budget.js';
import { accuracyCostSvg, curves, demoTable, demoVerdict, type DemoRow } from './demo-report.js';
import { backendOption, integerOption, numberOption } from './options.js';
import { progressBar } from './progress.js';
import { summarizeRun } from './run-summary.js';

interface DemoOptions {
  minutes?: string;
  perClass?: string;
  testPerClass?: string;
  epochs?: string;
  batchSize?: string;
  out: string;
  data: string;
  backend?: string;
}

const MODELS = ['TASR_4L_8T-8H', 'TASR_4L_NT-8H'];
const PAPER = protocolOf({ family: 'TASR' });
const WORDS = SPEECH_WORDS.length;
const PAPER_PER_CLASS = PAPER.clips / WORDS;
/** The default budget: long enough to see both models well above chance on 2 CPU cores, short enough to wait for. */
const DEFAULT_MINUTES = 12;
/** On a CPU adapter: small batches, so that a short budget still makes many updates. */
const CPU_BATCH = 16;
/** Epochs while the data can still grow: fresh clips teach more than passes over the same ones, and two epochs give the validation a choice. */
const BASE_EPOCHS = 2;
const MIN_PER_CLASS = 20;
/** Training steps timed per model for the budget (their median). */
const STEP_REPEATS = 3;
/** Seconds kept for what the budget does not model: checkpoints, the FLOP count, the report. */
const RESERVE_SECONDS = 20;
/** Generation and preparation per clip where none was measured (the held-out set was already there): a slow machine's. */
const DEFAULT_CLIP_SECONDS = 0.05;

const KERAS_MOMENTUM = 0.99;
const PAPER_TRAIN_CLIPS = PAPER_TRAIN_FRACTION * PAPER.clips;
const PAPER_STEPS = PAPER.epochs * Math.ceil(PAPER_TRAIN_CLIPS / PAPER.batchSize);

function scaledMomentum(steps: number): number {
  if (steps >= PAPER_STEPS) return KERAS_MOMENTUM;
  const averagedSteps = Math.max(5, (steps / PAPER_STEPS) / (1 - KERAS_MOMENTUM));
  return Math.min(KERAS_MOMENTUM, 1 - 1 / averagedSteps);
}

/** Generates a data set (what is there already is kept); returns the clips written. */
async function generate(dir: string, perClass: number, seed: number, what: string): Promise<number> {
  const bar = progressBar(`generate ${what}`);
  const made = await generateSpeech({ out: dir, perClass, seed, onProgress: (d, t) => bar.update(d, t) });
  bar.stop();
  console.log(`${what}: ${dir} (${made.written} clips generated, ${made.kept} already there)`);
  return made.written;
}

async function writeBoth(path: string, svg: string): Promise<void> {
  await writeFileAtomic(`${path}.svg`, svg);
  await writeFileAtomic(`${path}.png`, svgToPng(svg));
}

const seconds = (ms: number) => ms / 1000;
const minutes = (s: number) => `${(s / 60).toFixed(1)} min`;

/** A training step and a clip of inference of each model, timed here (the kernels compiled on the way serve the training after). */
async function measureModels(batchSize: number, classNames: string[]): Promise<ModelCost[]> {
  const costs: ModelCost[] = [];
  for (const name of MODELS) {
    const model = buildModel(modelConfig(name, { classNames }));
    try {
      costs.push({ name, stepSeconds: seconds(await timeTrainingStep(model, batchSize, STEP_REPEATS)), clipSeconds: seconds(await timeInference(model, EVALUATION_BATCH)) });
    } finally {
      model.dispose();
    }
  }
  return costs;
}

async function demo(o: DemoOptions): Promise<void> {
  const started = performance.now();
  const elapsed = () => seconds(performance.now() - started);
  const budgetMinutes = numberOption('minutes', o.minutes, { above: 0, max: 10_000 }) ?? DEFAULT_MINUTES;
  const perClassOption = integerOption('per-class', o.perClass, 10, 10_000);
  const testPerClassOption = integerOption('test-per-class', o.testPerClass, 10, 10_000);
  const epochsOption = integerOption('epochs', o.epochs, 1, 1000);
  const batchSizeOption = integerOption('batch-size', o.batchSize, 2, 4096);
  await init({ backend: o.backend });
  try {
    const software = engine().runtime.software;
    const testPerClass = testPerClassOption ?? (software ? 50 : 100);
    const batchSize = batchSizeOption ?? (software ? CPU_BATCH : PAPER.batchSize);
    for (const name of MODELS) await checkBatchFits(modelConfig(name), batchSize, 'training', '--batch-size');
    console.log(`adapter: ${engine().runtime.adapterName}${software ? ' (software)' : ''}; budget ${budgetMinutes} min${o.minutes === undefined ? ` (the default; --minutes N for another)` : ''}`);

    // The held-out test set first: it is needed whatever the budget, and generating it measures what a clip costs.
    const testDir = join(o.data, `synthetic-speech-seed1-${testPerClass}`);
    const dataStart = performance.now();
    const written = await generate(testDir, testPerClass, 1, 'held-out test data (other speakers)');
    const prep = progressBar('prepare');
    const onProgress = (stage: string, d: number, t: number) => prep.update(d, t, stage);
    const heldOut = await prepareTestSet(testDir, modelConfig(MODELS[0]!), { onProgress });
    prep.stop();
    const dataClipSeconds = written > 0 ? seconds(performance.now() - dataStart) / written : DEFAULT_CLIP_SECONDS;
    const classNames = heldOut.dataset.classNames;

    const costs = await measureModels(batchSize, classNames);
    const budget = planBudget({
      seconds: budgetMinutes * 60 - elapsed() - RESERVE_SECONDS,
      batchSize,
      dataClipSeconds,
      models: costs,
      testClips: heldOut.test.labels.length,
      words: WORDS,
      perClass: perClassOption,
      epochs: epochsOption,
      maxPerClass: PAPER_PER_CLASS,
      maxEpochs: PAPER.epochs,
      minPerClass: MIN_PER_CLASS,
      baseEpochs: BASE_EPOCHS,
    });
    console.log(
      `measured here: ${written > 0 ? `${(1000 * dataClipSeconds).toFixed(0)} ms to generate and prepare a clip` : `no clip generated (assumed ${1000 * DEFAULT_CLIP_SECONDS} ms each)`}; ` +
        costs.map((c) => `${c.name} ${(1000 * c.stepSeconds).toFixed(0)} ms a training step (batch ${batchSize}), ${(1000 * c.clipSeconds).toFixed(1)} ms a clip of inference`).join('; '),
    );
    const chosen = [perClassOption === undefined ? 'clips per word' : '', epochsOption === undefined ? 'epochs' : ''].filter(Boolean).join(' and ');
    console.log(
      `budget: ${budget.perClass} clips per word (${budget.trainClips.toLocaleString('en-US')} to train on), ${budget.epochs} epochs at batch ${batchSize}: ${budget.updates} updates per model, ` +
        `predicted ${minutes(budget.predictedSeconds + elapsed())} in all` +
        (chosen ? ` (${chosen} chosen to fill ${budgetMinutes} min; the paper's: ${PAPER_PER_CLASS} per word, ${PAPER.epochs} epochs at batch ${PAPER.batchSize}, ${PAPER_STEPS} updates)` : ' (as given)') +
        (budget.tooSmall ? `; the smallest run does not fit ${budgetMinutes} min on this machine: it runs anyway` : ''),
    );
    const perClass = budget.perClass;
    const epochs = budget.epochs;
    const paperLength = epochs === PAPER.epochs;
    // The paper's warm-up and decay, stretched over a shorter run so that it still warms up and decays.
    const schedule: ScheduleOptions = { name: paperLength ? 'paper' : 'paper-scaled', batchSize, epochs };
    const trainDir = join(o.data, `synthetic-speech-seed0-${perClass}`);
    await generate(trainDir, perClass, 0, 'training data');
    const trainPrep = progressBar('prepare');
    const data = await prepareData(trainDir, modelConfig(MODELS[0]!), { split: 'paper', onProgress: (stage, d, t) => trainPrep.update(d, t, stage) });
    trainPrep.stop();
    console.log(`${data.train.labels.length} clips to train on, ${data.validation.labels.length} to choose the best epoch by, ${heldOut.test.labels.length} held-out test clips`);
    // Keras' BatchNorm momentum (0.99) averages over ~100 steps, 5% of the paper's 2,000: a shorter run gets the
    // same fraction, or its running statistics (used for validation and test) still lag the data when it ends.
    const steps = Math.ceil(data.train.labels.length / batchSize) * epochs;
    const batchNormMomentum = scaledMomentum(steps);
    if (batchNormMomentum !== KERAS_MOMENTUM) console.log(`BatchNorm momentum ${batchNormMomentum.toFixed(3)} instead of ${KERAS_MOMENTUM} (averaging over 5% of the run's ${steps} steps, as the paper's 0.99 over its ${PAPER_STEPS})`);
    await makeFolder(o.out);
    const rows: DemoRow[] = [];
    for (const name of MODELS) {
      const config = modelConfig(name, { classNames: data.dataset.classNames, batchNormMomentum });
      const runDir = join(o.out, name);
      await rm(runDir, { recursive: true, force: true }); // the demo's runs start afresh each time
      const bar = progressBar(name);
      const stepLosses: number[] = [];
      console.log(`\ntraining ${name} ...`);
      const result = await train(config, data, {
        runDir, epochs, batchSize, schedule, weightDecay: 1e-4, seed: 0, saveEvery: 1_000_000, resume: false,
        onStep: (p) => {
          stepLosses.push(p.loss);
          bar.update(p.step + p.epoch * p.stepsPerEpoch, p.stepsPerEpoch * epochs, `epoch ${p.epoch + 1} loss ${p.loss.toFixed(3)}`);
        },
        onEpoch: (e) => {
          bar.stop();
          console.log(
            `  epoch ${e.epoch}: loss ${e.trainLoss.toFixed(3)}, train ${(100 * e.trainAccuracy).toFixed(1)}%, ` +
              `validation ${(100 * e.validationAccuracy).toFixed(1)}%, ${e.msPerStep.toFixed(0)} ms/step, lr ${e.lr.toExponential(2)}`,
          );
        },
      });
      const summary = await summarizeRun(name, runDir, result, heldOut.test, [3], batchSize);
      const test = summary.test;
      rows.push({
        model: name,
        clips: test.clips,
        top1Hits: Math.round(test.top1 * test.clips),
        top3Hits: Math.round(test.topK[3]! * test.clips),
        paperFlops: summary.flops.paper,
        exactFlops: summary.flops.exact,
        msPerStep: summary.msPerStep,
        msPerClip: summary.msPerClip,
        parameters: summary.parameters,
        history: result.history,
        stepLosses,
      });
    }
    const adapter = engine().runtime.adapterName;
    const table = demoTable(rows, batchSize);
    const verdict = demoVerdict(rows, { updates: steps, trainClips: data.train.labels.length, budgetMinutes, paperUpdates: PAPER_STEPS, paperTrainClips: PAPER_TRAIN_CLIPS });
    const header =
      `# TokenLearner vs none: ${MODELS.join(' and ')}\n\n` +
      `Adapter: ${adapter}. Budget ${budgetMinutes} min. Trained on synthetic speech (seed 0, ${perClass} clips per word, paper split: ` +
      `${data.train.labels.length} train / ${data.validation.labels.length} validation), ${epochs} epochs, batch ${batchSize}, ` +
      `${schedule.name === 'paper' ? "the paper's schedule" : "the paper's schedule stretched to the run"}, AdamW (decay 1e-4), ` +
      `BatchNorm momentum ${batchNormMomentum.toFixed(3)}, seed 0. ` +
      `Tested on ${heldOut.test.labels.length} held-out clips (seed 1: other speakers) with the best-validation weights; ` +
      `intervals are 95% (Wilson for one model, Newcombe for the difference). FLOPs per clip, forward; times measured on this machine.\n\n`;
    console.log(`\n${table}\n`);
    await writeFileAtomic(join(o.out, 'results.md'), `${header}${table}\n\n${verdict}\n\n![accuracy against cost](accuracy-cost.png)\n\n![learning curves](curves.png)\n`);
    await writeFileAtomic(join(o.out, 'results.json'), JSON.stringify({ adapter, budgetMinutes, measured: { dataClipSeconds, models: costs }, budget, perClass, testPerClass, epochs, batchSize, schedule, batchNormMomentum, rows }, null, 2));
    await writeBoth(join(o.out, 'curves'), curves(rows));
    await writeBoth(join(o.out, 'accuracy-cost'), accuracyCostSvg(rows, adapter, data.dataset.classNames.length));
    console.log(`wrote results.md, results.json, curves.svg/.png and accuracy-cost.svg/.png in ${o.out} (${((performance.now() - started) / 60_000).toFixed(1)} min)`);
    console.log(verdict);
  } finally {
    shutdown();
  }
}

export const demoCommand = new Command('demo')
  .description('the end-to-end demo (npm start): synthetic speech, TASR with and without TokenLearner trained for the same updates within a time budget, accuracy vs FLOPs vs time')
  .option('--minutes <n>', `the time to fill, generation included (default: ${DEFAULT_MINUTES}); the data and epochs that fit it are chosen from a training step of each model timed first`)
  .option('--per-class <n>', `training clips per word (default: what fits the budget, at most the paper's ${PAPER_PER_CLASS})`)
  .option('--test-per-class <n>', 'held-out test clips per word (default: 50 on a CPU adapter, 100 on a GPU)')
  .option('--epochs <n>', `epochs (default: ${BASE_EPOCHS}, more only once the paper's data fits the budget, at most its ${PAPER.epochs})`)
  .option('--batch-size <n>', `batch size (default: ${CPU_BATCH} on a CPU adapter, the paper's ${PAPER.batchSize} on a GPU)`)
  .option('--data <dir>', 'where generated data sets are kept', 'datasets')
  .option('--out <dir>', 'where the runs, the table and the pictures go', join('runs', 'demo'))
  .addOption(backendOption())
  .action(demo);
