// `tokenwave flops MODEL`: FLOPs per clip (and per training step) under a named convention, from a real pass.
import { Command, Option } from 'commander';
import { breakdown, CONVENTION_HELP, CONVENTIONS, countForward, countTrainingStep, countUnder, paperTotal, type Convention } from '../flops/accounting.js';
import { paperFlops } from '../flops/tf-ops.js';
import type { AudioModel } from '../models/model.js';
import { buildModel } from '../models/registry.js';
import { modelConfig, type ModelOptions } from '../models/config.js';
import { PRIMITIVES } from '../tensor/counts.js';
import { init, shutdown } from '../tensor/engine.js';
import { Ledger } from '../tensor/ledger.js';
import { backendOption, integerOption, parseModelOptions, UsageError } from './options.js';

const number = (n: number) => n.toLocaleString('en-US');

interface FlopsOptions {
  convention: Convention;
  train?: boolean;
  batch: string;
  breakdown?: boolean;
  json?: boolean;
  classes?: string;
  tokenLearner?: string;
  tokenLearnerAt?: string;
  tokenFuser?: boolean;
  modelOptions?: string;
  backend?: string;
}

function modelOptionsFrom(o: FlopsOptions): ModelOptions {
  const options: Record<string, unknown> = parseModelOptions(o.modelOptions);
  if (o.classes !== undefined) options.classes = integerOption('classes', o.classes, 2);
  if (o.tokenLearner !== undefined) options.tokenLearnerVersion = o.tokenLearner;
  if (o.tokenLearnerAt !== undefined) options.tokenLearnerAt = integerOption('token-learner-at', o.tokenLearnerAt, 0);
  if (o.tokenFuser) options.tokenFuser = true;
  return options as ModelOptions;
}

async function flops(name: string, o: FlopsOptions): Promise<void> {
  const config = modelConfig(name, modelOptionsFrom(o));
  const batch = integerOption('batch', o.batch)!;
  if (o.train && o.convention === 'paper') {
    throw new UsageError("the paper's convention counts the forward pass at batch 1 only; use --convention exact or macs with --train");
  }
  await init({ backend: o.backend });
  const model = buildModel(config);
  try {
    const forward = await countForward(model, o.convention === 'paper' ? 1 : batch);
    const perClip = (n: number) => n / forward.batch;
    const total = o.convention === 'paper' ? paperTotal(forward.tfOps) : perClip(countUnder(o.convention, forward.records));
    const report: Record<string, unknown> = {
      model: name,
      convention: o.convention,
      meaning: CONVENTION_HELP[o.convention],
      forwardPerClip: total,
      parameters: model.parameterCount(),
    };
    const ledgerTotal = Ledger.total(forward.records);
    if (o.convention === 'exact') {
      report.primitivesPerClip = Object.fromEntries(PRIMITIVES.filter((p) => ledgerTotal[p] > 0).map((p) => [p, perClip(ledgerTotal[p])]));
    }
    let rows: Map<string, number> | undefined;
    if (o.breakdown) {
      rows =
        o.convention === 'paper'
          ? breakdown(forward.tfOps, (op) => op.path, paperFlops)
          : breakdown(forward.records, (r) => r.path, (r) => perClip(countUnder(o.convention as 'exact', [r])));
      report.breakdown = Object.fromEntries(rows);
    }
    if (o.train) {
      const step = await countTrainingStep(model, batch);
      const phases = Object.fromEntries(
        (['forward', 'backward', 'optimizer'] as const).map((phase) => [phase, countUnder(o.convention as 'exact', step.records.filter((r) => r.phase === phase))]),
      );
      report.trainingStep = { batch, ...phases, total: Object.values(phases).reduce((s, v) => s + v, 0) };
    }
    if (o.json) {
      console.log(JSON.stringify(report, null, 2));
      return;
    }
    console.log(`${name}: ${number(Math.round(total))} FLOPs per clip, forward (${o.convention}: ${CONVENTION_HELP[o.convention]})`);
    console.log(`parameters: ${number(model.parameterCount())}`);
    if (report.primitivesPerClip) {
      console.log(`primitives per clip: ${Object.entries(report.primitivesPerClip as Record<string, number>).map(([k, v]) => `${k} ${number(Math.round(v))}`).join(', ')}`);
    }
    if (rows) {
      console.log('\nper module:');
      for (const [path, value] of rows) console.log(`  ${path.padEnd(40)} ${number(Math.round(value)).padStart(16)}  ${((100 * value) / total).toFixed(1).padStart(5)}%`);
    }
    if (report.trainingStep) {
      const t = report.trainingStep as Record<string, number>;
      console.log(`\ntraining step (batch ${batch}): forward ${number(t.forward!)}, backward ${number(t.backward!)}, optimizer ${number(t.optimizer!)}, total ${number(t.total!)} (${number(Math.round(t.total! / batch))} per clip)`);
    }
  } finally {
    model.dispose();
    shutdown();
  }
}

export const flopsCommand = new Command('flops')
  .description("count a model's FLOPs per clip (and per training step) under a named convention, from a real pass")
  .argument('<model>', 'a model name, e.g. TASR_4L_8T-8H, TASR_10L_NT-8H, TESC_4L_8T-8H, KWT-1, KWT-1_8T@6')
  .addOption(
    new Option('--convention <name>', CONVENTIONS.map((c) => `${c}: ${CONVENTION_HELP[c]}`).join('; '))
      .choices([...CONVENTIONS])
      .default('exact'),
  )
  .option('--train', 'also count one training step (forward with dropout, backward, AdamW), by phase')
  .option('--batch <n>', 'batch size of the counted passes (the paper convention always uses 1)', '1')
  .option('--breakdown', 'print a per-module table')
  .option('--json', 'print the report as JSON')
  .option('--classes <n>', 'override the class count (ESC-50 condensed: 5)')
  .addOption(new Option('--token-learner <version>', 'TokenLearner version').choices(['v1', 'v1.1']))
  .option('--token-learner-at <block>', 'TASR/TESC: run TokenLearner before this block (0: on the patch grid, the paper); KWT names say it (KWT-1_8T@6)')
  .option('--token-fuser', 'TokenLearner -> block -> TokenFuser for every block from --token-learner-at on')
  .option('--model-options <json>', 'model options beyond the name, as for train')
  .addOption(backendOption())
  .action(flops);
