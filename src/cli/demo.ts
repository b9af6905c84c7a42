// `npm start` / `tokenwave demo`: the paper's comparison end to end on a fresh machine. Generates a synthetic
// speech set (kept for next time), trains TASR with and without TokenLearner on the same budget, and reports
// accuracy against FLOPs (the paper's count and the exact one) and measured time.
import { mkdir, rm } from 'node:fs/promises';
import { Command } from 'commander';
import { join } from 'node:path';
import { countForward, countUnder, paperTotal } from '../flops/accounting.js';
import { generateSpeech } from '../data/synthetic-speech.js';
import { loadModel } from '../models/checkpoint.js';
import { AudioTransformer } from '../models/audio-transformer.js';
import { modelConfig } from '../models/config.js';
import { engine, init, shutdown } from '../tensor/engine.js';
import { prepareData } from '../train/data.js';
import { evaluate } from '../train/evaluate.js';
import type { ScheduleOptions } from '../train/schedule.js';
import { train, type EpochLog } from '../train/trainer.js';
import { writeFileAtomic } from '../util/files.js';
import { curvesSvg } from '../viz/curves.js';
import { backendOption, integerOption } from './options.js';
import { progressBar } from './progress.js';

interface DemoOptions {
  perClass?: string;
  epochs?: string;
  batchSize?: string;
  out: string;
  data: string;
  backend?: string;
}

interface Row {
  model: string;
  top1: number;
  top3: number;
  paperFlops: number;
  exactFlops: number;
  msPerStep: number;
  msPerClip: number;
  parameters: number;
  history: EpochLog[];
}

const MODELS = ['TASR_4L_8T-8H', 'TASR_4L_NT-8H'];
const millions = (n: number) => `${(n / 1e6).toFixed(1)} M`;

async function demo(o: DemoOptions): Promise<void> {
  await init({ backend: o.backend });
  try {
    const software = engine().runtime.software;
    // The paper's protocol on a GPU; on a CPU adapter, a budget that fits in about a quarter of an hour.
    const perClass = integerOption('per-class', o.perClass) ?? (software ? 60 : 1000);
    const epochs = integerOption('epochs', o.epochs) ?? (software ? 3 : 20);
    const batchSize = integerOption('batch-size', o.batchSize) ?? (software ? 16 : 64);
    const schedule: ScheduleOptions = software ? { name: 'constant', lr: 1e-3, batchSize, epochs } : { name: 'paper', batchSize, epochs };
    console.log(`adapter: ${engine().runtime.adapterName}${software ? ' (software: the budget is scaled down)' : ''}`);
    if (perClass !== 1000 || epochs !== 20 || batchSize !== 64 || schedule.name !== 'paper') {
      console.log(
        `scaled from the paper: ${perClass} clips per word instead of 1000, ${epochs} epochs instead of 20, batch ${batchSize} instead of 64` +
          (schedule.name === 'paper' ? '' : `, constant learning rate ${schedule.lr} instead of the paper's schedule`),
      );
    }
    const dataDir = join(o.data, `synthetic-speech-seed0-${perClass}`);
    const gen = progressBar('generate');
    const made = await generateSpeech({ out: dataDir, perClass, seed: 0, onProgress: (d, t) => gen.update(d, t) });
    gen.stop();
    console.log(`data: ${dataDir} (${made.written} clips generated, ${made.kept} already there)`);
    const prep = progressBar('prepare');
    const data = await prepareData(dataDir, modelConfig(MODELS[0]!), { split: 'paper', onProgress: (s, d, t) => prep.update(d, t, s) });
    prep.stop();
    console.log(`split (paper): ${data.train.labels.length} train, ${data.validation.labels.length} validation, ${data.test.labels.length} test`);
    await mkdir(o.out, { recursive: true });
    const rows: Row[] = [];
    for (const name of MODELS) {
      const config = modelConfig(name, { classNames: data.dataset.classNames });
      const runDir = join(o.out, name);
      await rm(runDir, { recursive: true, force: true }); // the demo's runs start afresh each time
      const bar = progressBar(name);
      console.log(`\ntraining ${name} ...`);
      const result = await train(config, data, {
        runDir, epochs, batchSize, schedule, weightDecay: 1e-4, seed: 0, saveEvery: 1_000_000, resume: false,
        onStep: (p) => bar.update(p.step + p.epoch * p.stepsPerEpoch, p.stepsPerEpoch * epochs, `epoch ${p.epoch + 1} loss ${p.loss.toFixed(3)}`),
        onEpoch: (e) => {
          bar.stop();
          console.log(`  epoch ${e.epoch}: loss ${e.trainLoss.toFixed(3)}, train ${(100 * e.trainAccuracy).toFixed(1)}%, validation ${(100 * e.validationAccuracy).toFixed(1)}%, ${e.msPerStep.toFixed(0)} ms/step`);
        },
      });
      const model = await loadModel(join(runDir, 'best'));
      const test = await evaluate(model, data.test, [3]);
      const timed = await evaluate(model, data.test, [3]); // a second pass: pipelines compiled, buffers pooled
      const forward = await countForward(model, 1);
      rows.push({
        model: name,
        top1: test.top1,
        top3: test.topK[3]!,
        paperFlops: paperTotal(forward.tfOps),
        exactFlops: countUnder('exact', forward.records),
        msPerStep: (1000 * result.history.reduce((s, h) => s + h.seconds, 0)) / result.history.reduce((s, h) => s + h.steps, 0),
        msPerClip: 1000 / timed.clipsPerSecond,
        parameters: model.parameterCount(),
        history: result.history,
      });
      model.dispose();
    }
    const [tl, nt] = rows as [Row, Row];
    const table = [
      `| model | top-1 | top-3 | paper FLOPs | exact FLOPs | ms / training step (batch ${batchSize}) | ms / clip inference | parameters |`,
      '|---|---|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.model} | ${(100 * r.top1).toFixed(1)}% | ${(100 * r.top3).toFixed(1)}% | ${millions(r.paperFlops)} | ${millions(r.exactFlops)} | ${r.msPerStep.toFixed(0)} | ${r.msPerClip.toFixed(1)} | ${(r.parameters / 1e6).toFixed(3)} M |`),
      `| NT / TL | ${(100 * (nt.top1 - tl.top1)).toFixed(1)} pts | ${(100 * (nt.top3 - tl.top3)).toFixed(1)} pts | ${(nt.paperFlops / tl.paperFlops).toFixed(2)}x | ${(nt.exactFlops / tl.exactFlops).toFixed(2)}x | ${(nt.msPerStep / tl.msPerStep).toFixed(2)}x | ${(nt.msPerClip / tl.msPerClip).toFixed(2)}x | ${(nt.parameters / tl.parameters).toFixed(3)}x |`,
    ].join('\n');
    const header =
      `# TokenLearner vs none: ${MODELS.join(' and ')}\n\n` +
      `Adapter: ${engine().runtime.adapterName}. Data: synthetic speech, ${perClass} clips per word, paper split ` +
      `(${data.train.labels.length}/${data.validation.labels.length}/${data.test.labels.length}); ${epochs} epochs, batch ${batchSize}, ` +
      `${schedule.name === 'paper' ? "the paper's schedule" : `constant learning rate ${schedule.lr}`}, AdamW (decay 1e-4), seed 0. ` +
      `Test accuracy of the best-validation weights; FLOPs per clip, forward; times measured on this machine.\n\n`;
    console.log(`\n${table}\n`);
    await writeFileAtomic(join(o.out, 'results.md'), header + table + '\n');
    await writeFileAtomic(join(o.out, 'results.json'), JSON.stringify(rows, null, 2));
    const colours = ['#1f77b4', '#d62728'];
    const svg = curvesSvg([
      { title: 'training loss', series: rows.map((r, i) => ({ name: r.model, colour: colours[i]!, values: r.history.map((h) => h.trainLoss) })) },
      { title: 'validation accuracy', format: (v) => `${(100 * v).toFixed(0)}%`, series: rows.map((r, i) => ({ name: r.model, colour: colours[i]!, values: r.history.map((h) => h.validationAccuracy) })) },
    ]);
    await writeFileAtomic(join(o.out, 'curves.svg'), svg);
    console.log(`wrote ${join(o.out, 'results.md')}, ${join(o.out, 'results.json')} and ${join(o.out, 'curves.svg')}`);
  } finally {
    shutdown();
  }
}

export const demoCommand = new Command('demo')
  .description('the end-to-end demo (npm start): synthetic speech, TASR with and without TokenLearner, accuracy vs FLOPs vs time')
  .option('--per-class <n>', 'clips per word (default: 60 on a CPU adapter, 1000 on a GPU)')
  .option('--epochs <n>', 'epochs (default: 3 on a CPU adapter, 20 on a GPU)')
  .option('--batch-size <n>', 'batch size (default: 16 on a CPU adapter, 64 on a GPU)')
  .option('--data <dir>', 'where generated data sets are kept', 'datasets')
  .option('--out <dir>', 'where the runs, the table and the plot go', join('runs', 'demo'))
  .addOption(backendOption())
  .action(demo);
