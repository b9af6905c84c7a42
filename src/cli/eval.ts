// `tokenwave eval --checkpoint DIR --data DIR`: accuracy, per-class accuracy and the confusion matrix.
import { Command, Option } from 'commander';
import type { SplitPolicy } from '../data/datasets.js';
import { loadModel } from '../models/checkpoint-folder.js';
import { init, shutdown } from '../tensor/engine.js';
import { prepareData } from '../train/data.js';
import { evaluate, EVALUATION_BATCH, type Evaluation } from '../train/evaluate.js';
import { backendOption, integerOption, UsageError } from './options.js';
import { tuneSteps } from './tune.js';
import { protocolOf } from '../models/config.js';

export const splitOption = () =>
  new Option('--split <policy>', "'paper': random 80/10/10 by file (leaks speakers); 'proper': speaker hash rule / list files / ESC-50 folds")
    .choices(['paper', 'proper'])
    .default('paper');

export function printEvaluation(name: string, e: Evaluation, k: number): void {
  console.log(`${name}: top-1 ${(100 * e.top1).toFixed(1)}%, top-${k} ${(100 * e.topK[k]!).toFixed(1)}% on ${e.clips} clips`);
}

interface EvalOptions {
  checkpoint: string;
  data: string;
  split: SplitPolicy;
  subset: 'train' | 'validation' | 'test';
  condensed?: boolean;
  esc10?: boolean;
  limitPerClass?: string;
  json?: boolean;
  backend?: string;
}

async function evalAction(o: EvalOptions): Promise<void> {
  const limitPerClass = integerOption('limit-per-class', o.limitPerClass);
  await init({ backend: o.backend });
  try {
    const model = await loadModel(o.checkpoint);
    await tuneSteps(model.config, [{ batch: EVALUATION_BATCH, kind: 'inference' }]);
    const data = await prepareData(o.data, model.config, { condensed: o.condensed, esc10: o.esc10, split: o.split, limitPerClass });
    const names = data.dataset.classNames;
    const expected = model.config.classNames;
    if (names.length !== model.config.classes || (expected.length > 0 && expected.join() !== names.join())) {
      throw new UsageError(
        `${o.checkpoint} was trained on ${model.config.classes} classes (${expected.join(', ') || 'unnamed'}), but ${o.data} has ${names.length} (${names.join(', ')}): a checkpoint from a different data set`,
      );
    }
    const k = Math.max(...protocolOf(model.config).topK);
    const result = await evaluate(model, data[o.subset], [k]);
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

export const evalCommand = new Command('eval')
  .description('evaluate a checkpoint: top-1, top-3 (speech) or top-5 (ESC-50), per-class accuracy, confusion matrix')
  .requiredOption('--checkpoint <dir>', 'a checkpoint folder, e.g. runs/TASR_4L_8T-8H/best')
  .requiredOption('--data <dir>', 'the data set folder')
  .addOption(splitOption())
  .addOption(new Option('--subset <name>', 'which part of the split').choices(['train', 'validation', 'test']).default('test'))
  .option('--condensed', 'ESC-50: the 5 major categories')
  .option('--esc10', 'ESC-50: the ESC-10 subset')
  .option('--limit-per-class <n>', 'use at most this many clips per class (as in training)')
  .option('--json', 'print JSON')
  .addOption(backendOption())
  .action(evalAction);
