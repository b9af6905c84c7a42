// `npm start` / `tokenwave demo`: the paper's comparison end to end on a fresh machine. Generates synthetic speech
// (a training set, and a held-out test set from other speakers; both kept for next time), trains TASR with and
// without TokenLearner on the same budget, and reports accuracy with 95% intervals against FLOPs (the paper's count
// and the exact one) and measured time, as a table, the paper's picture and a one-line verdict.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { generateSpeech } from '../data/synthetic-speech.js';
import { modelConfig } from '../models/config.js';
import { engine, init, shutdown } from '../tensor/engine.js';
import { prepareData, prepareTestSet } from '../train/data.js';
import type { ScheduleOptions } from '../train/schedule.js';
import { train } from '../train/trainer.js';
import { writeFileAtomic } from '../util/files.js';
import { svgToPng } from '../viz/render.js';
import { accuracyCostSvg, curves, demoTable, demoVerdict, type DemoRow } from './demo-report.js';
import { backendOption, integerOption } from './options.js';
import { progressBar } from './progress.js';
import { summarizeRun } from './run-summary.js';

interface DemoOptions {
  perClass?: string;
  testPerClass?: string;
  epochs?: string;
  batchSize?: string;
  out: string;
  data: string;
  backend?: string;
}

const MODELS = ['TASR_4L_8T-8H', 'TASR_4L_NT-8H'];
/** The paper's protocol, used as is on a GPU. */
const PAPER = { perClass: 1000, epochs: 20, batchSize: 64 };
/** On a CPU adapter: what trains both models well above chance in about a quarter of an hour (measured: README.md, "What npm start does"). */
const CPU_BUDGET = { perClass: 160, epochs: 2, batchSize: 16 };

const KERAS_MOMENTUM = 0.99;
const PAPER_STEPS = PAPER.epochs * Math.ceil((0.8 * 8 * PAPER.perClass) / PAPER.batchSize);

function scaledMomentum(steps: number): number {
  if (steps >= PAPER_STEPS) return KERAS_MOMENTUM;
  const averagedSteps = Math.max(5, (steps / PAPER_STEPS) / (1 - KERAS_MOMENTUM));
  return Math.min(KERAS_MOMENTUM, 1 - 1 / averagedSteps);
}

async function generate(dir: string, perClass: number, seed: number, what: string): Promise<void> {
  const bar = progressBar(`generate ${what}`);
  const made = await generateSpeech({ out: dir, perClass, seed, onProgress: (d, t) => bar.update(d, t) });
  bar.stop();
  console.log(`${what}: ${dir} (${made.written} clips generated, ${made.kept} already there)`);
}

async function writeBoth(path: string, svg: string): Promise<void> {
  await writeFileAtomic(`${path}.svg`, svg);
  await writeFileAtomic(`${path}.png`, svgToPng(svg));
}

async function demo(o: DemoOptions): Promise<void> {
  const started = performance.now();
  await init({ backend: o.backend });
  try {
    const software = engine().runtime.software;
    const base = software ? CPU_BUDGET : PAPER;
    const perClass = integerOption('per-class', o.perClass, 10, 10_000) ?? base.perClass;
    const testPerClass = integerOption('test-per-class', o.testPerClass, 10, 10_000) ?? (software ? 50 : 100);
    const epochs = integerOption('epochs', o.epochs, 1, 1000) ?? base.epochs;
    const batchSize = integerOption('batch-size', o.batchSize, 2, 4096) ?? base.batchSize;
    const paperLength = epochs === PAPER.epochs;
    // The paper's warm-up and decay, stretched over a shorter run so that it still warms up and decays.
    const schedule: ScheduleOptions = { name: paperLength ? 'paper' : 'paper-scaled', batchSize, epochs };
    console.log(`adapter: ${engine().runtime.adapterName}${software ? ' (software: the budget is scaled down)' : ''}`);
    if (perClass !== PAPER.perClass || !paperLength || batchSize !== PAPER.batchSize) {
      console.log(
        `scaled from the paper: ${perClass} clips per word instead of ${PAPER.perClass}, ${epochs} epochs instead of ${PAPER.epochs}, ` +
          `batch ${batchSize} instead of ${PAPER.batchSize}${paperLength ? '' : ", the paper's learning-rate schedule stretched to the run"}`,
      );
    }
    const trainDir = join(o.data, `synthetic-speech-seed0-${perClass}`);
    const testDir = join(o.data, `synthetic-speech-seed1-${testPerClass}`);
    await generate(trainDir, perClass, 0, 'training data');
    await generate(testDir, testPerClass, 1, 'held-out test data (other speakers)');
    const prep = progressBar('prepare');
    const onProgress = (stage: string, d: number, t: number) => prep.update(d, t, stage);
    const data = await prepareData(trainDir, modelConfig(MODELS[0]!), { split: 'paper', onProgress });
    const heldOut = await prepareTestSet(testDir, modelConfig(MODELS[0]!), { onProgress });
    prep.stop();
    console.log(`${data.train.labels.length} clips to train on, ${data.validation.labels.length} to choose the best epoch by, ${heldOut.test.labels.length} held-out test clips`);
    // Keras' BatchNorm momentum (0.99) averages over ~100 steps, 5% of the paper's 2,000: a shorter run gets the
    // same fraction, or its running statistics (used for validation and test) still lag the data when it ends.
    const steps = Math.ceil(data.train.labels.length / batchSize) * epochs;
    const batchNormMomentum = scaledMomentum(steps);
    if (batchNormMomentum !== KERAS_MOMENTUM) console.log(`BatchNorm momentum ${batchNormMomentum.toFixed(3)} instead of ${KERAS_MOMENTUM} (averaging over 5% of the run's ${steps} steps, as the paper's 0.99 over its 2,000)`);
    await mkdir(o.out, { recursive: true });
    const rows: DemoRow[] = [];
    for (const name of MODELS) {
      const config = modelConfig(name, { classNames: data.dataset.classNames, batchNormMomentum });
      const runDir = join(o.out, name);
      await rm(runDir, { recursive: true, force: true }); // the demo's runs start afresh each time
      const bar = progressBar(name);
      console.log(`\ntraining ${name} ...`);
      const result = await train(config, data, {
        runDir, epochs, batchSize, schedule, weightDecay: 1e-4, seed: 0, saveEvery: 1_000_000, resume: false,
        onStep: (p) => bar.update(p.step + p.epoch * p.stepsPerEpoch, p.stepsPerEpoch * epochs, `epoch ${p.epoch + 1} loss ${p.loss.toFixed(3)}`),
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
      });
    }
    const adapter = engine().runtime.adapterName;
    const table = demoTable(rows, batchSize);
    const verdict = demoVerdict(rows);
    const header =
      `# TokenLearner vs none: ${MODELS.join(' and ')}\n\n` +
      `Adapter: ${adapter}. Trained on synthetic speech (seed 0, ${perClass} clips per word, paper split: ` +
      `${data.train.labels.length} train / ${data.validation.labels.length} validation), ${epochs} epochs, batch ${batchSize}, ` +
      `${schedule.name === 'paper' ? "the paper's schedule" : "the paper's schedule stretched to the run"}, AdamW (decay 1e-4), ` +
      `BatchNorm momentum ${batchNormMomentum.toFixed(3)}, seed 0. ` +
      `Tested on ${heldOut.test.labels.length} held-out clips (seed 1: other speakers) with the best-validation weights; ` +
      `intervals are 95% (Wilson for one model, Newcombe for the difference). FLOPs per clip, forward; times measured on this machine.\n\n`;
    console.log(`\n${table}\n`);
    await writeFileAtomic(join(o.out, 'results.md'), `${header}${table}\n\n${verdict}\n\n![accuracy against cost](accuracy-cost.png)\n\n![learning curves](curves.png)\n`);
    await writeFileAtomic(join(o.out, 'results.json'), JSON.stringify({ adapter, perClass, testPerClass, epochs, batchSize, schedule, batchNormMomentum, rows }, null, 2));
    await writeBoth(join(o.out, 'curves'), curves(rows));
    await writeBoth(join(o.out, 'accuracy-cost'), accuracyCostSvg(rows, adapter, data.dataset.classNames.length));
    console.log(`wrote results.md, results.json, curves.svg/.png and accuracy-cost.svg/.png in ${o.out} (${((performance.now() - started) / 60_000).toFixed(1)} min)`);
    console.log(verdict);
  } finally {
    shutdown();
  }
}

export const demoCommand = new Command('demo')
  .description('the end-to-end demo (npm start): synthetic speech, TASR with and without TokenLearner, accuracy vs FLOPs vs time')
  .option('--per-class <n>', `training clips per word (default: ${CPU_BUDGET.perClass} on a CPU adapter, ${PAPER.perClass} on a GPU)`)
  .option('--test-per-class <n>', 'held-out test clips per word (default: 50 on a CPU adapter, 100 on a GPU)')
  .option('--epochs <n>', `epochs (default: ${CPU_BUDGET.epochs} on a CPU adapter, ${PAPER.epochs} on a GPU)`)
  .option('--batch-size <n>', `batch size (default: ${CPU_BUDGET.batchSize} on a CPU adapter, ${PAPER.batchSize} on a GPU)`)
  .option('--data <dir>', 'where generated data sets are kept', 'datasets')
  .option('--out <dir>', 'where the runs, the table and the pictures go', join('runs', 'demo'))
  .addOption(backendOption())
  .action(demo);
