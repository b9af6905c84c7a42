// `tokenwave flops` and `tokenwave predict`.
import { prepareClip } from '../audio/clips.js';
import { readWav } from '../audio/wav.js';
import { breakdown, CONVENTION_HELP, countForward, countTrainingStep, countUnder, paperTotal, type Convention } from '../flops/accounting.js';
import { paperFlops } from '../flops/tf-ops.js';
import { loadModel } from '../models/checkpoint.js';
import { predictClips } from '../models/predict.js';
import { AudioTransformer, modelConfig, type ModelOptions } from '../models/tasr.js';
import { Ledger } from '../tensor/ledger.js';
import { PRIMITIVES } from '../tensor/counts.js';
import { init, shutdown } from '../tensor/engine.js';
import { integerOption, UsageError } from './errors.js';

const number = (n: number) => n.toLocaleString('en-US');

export interface FlopsOptions {
  convention: Convention;
  train?: boolean;
  batch: string;
  breakdown?: boolean;
  json?: boolean;
  classes?: string;
  tokenLearner?: string;
  tokenLearnerAt?: string;
  tokenFuser?: boolean;
  backend?: string;
}

function modelOptionsFrom(o: Pick<FlopsOptions, 'classes' | 'tokenLearner' | 'tokenLearnerAt' | 'tokenFuser'>): ModelOptions {
  const options: ModelOptions = {};
  if (o.classes !== undefined) options.classes = Number(o.classes);
  if (o.tokenLearner !== undefined) options.tokenLearnerVersion = o.tokenLearner as ModelOptions['tokenLearnerVersion'];
  if (o.tokenLearnerAt !== undefined) options.tokenLearnerAt = Number(o.tokenLearnerAt);
  if (o.tokenFuser) options.tokenFuser = true;
  return options;
}

export async function flopsCommand(name: string, o: FlopsOptions): Promise<void> {
  const config = modelConfig(name, modelOptionsFrom(o));
  const batch = integerOption('batch', o.batch)!;
  if (o.train && o.convention === 'paper') {
    throw new UsageError("the paper's convention counts the forward pass at batch 1 only; use --convention exact or macs with --train");
  }
  await init({ backend: o.backend });
  const model = new AudioTransformer(config);
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

export async function predictCommand(files: string[], o: { checkpoint: string; top: string; json?: boolean; backend?: string }): Promise<void> {
  const top = integerOption('top', o.top)!;
  await init({ backend: o.backend });
  try {
    const model = await loadModel(o.checkpoint);
    const { spectrogram, clipSamples } = model.config;
    const clips = [];
    for (const file of files) clips.push(prepareClip(await readWav(file), spectrogram.sampleRate, clipSamples));
    const predictions = await predictClips(model, clips, top);
    if (o.json) {
      console.log(JSON.stringify(files.map((file, i) => ({ file, top: predictions[i]!.top })), null, 2));
    } else {
      files.forEach((file, i) => {
        console.log(`${file}: ${predictions[i]!.top.map((t) => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join(', ')}`);
      });
    }
    model.dispose();
  } finally {
    shutdown();
  }
}
