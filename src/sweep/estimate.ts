// `tokenwave sweep --dry-run`: each run's FLOPs (counted from a batch-1 forward pass, encoded but not run) and
// time, before anything is trained. The time comes from something cheap by default: a step time cached on this
// adapter (by `tokenwave train`, the demo or `--estimate measure`), else one scaled from the nearest cached model by
// forward FLOPs x batch; with nothing cached yet, a floor from the adapter's matmul rate (a first training step
// would compile every kernel: 20 s on a CPU adapter). `measure` times one training step of every model instead.
import { countForward, paperTotal, countUnder } from '../flops/accounting.js';
import { PAPER_TRAIN_FRACTION } from '../data/datasets.js';
import type { AudioModel } from '../models/model.js';
import { buildModel } from '../models/registry.js';
import { modelConfig, protocolOf, type ModelConfig } from '../models/config.js';
import { splitData } from '../train/data.js';
import { cachedStepTimes, recordStepTime, timeTrainingStep, type StepTime } from '../train/step-times.js';
import { quickMatmulRate } from '../profile/peaks.js';
import { groupKey, runId, type PlannedRun } from './grid.js';

export const ESTIMATE_METHODS = ['cached', 'measure'] as const;
export type EstimateMethod = (typeof ESTIMATE_METHODS)[number];

/** Where a run's time came from: one word for the table, and the sentence that explains it. */
export interface TimeSource {
  tag: 'measured' | 'cached' | 'scaled' | 'floor';
  /** The cached measurement a scaled time comes from. */
  from?: string;
  detail: string;
}

export interface RunEstimate {
  /** The run's folder name; without a data folder the run has none yet, and this is the model and seed. */
  id: string;
  spec: PlannedRun;
  trainClips: number;
  /** Where trainClips came from: the data folder, or the paper's data set. */
  dataSet: string;
  batch: number;
  steps: number;
  paperFlops: number;
  exactFlops: number;
  msPerStep: number;
  minutes: number;
  time: TimeSource;
}

/** The training clips and class count a run will see: from its data folder, else the paper's data set. */
async function runData(spec: PlannedRun): Promise<{ trainClips: number; classes?: number; dataSet: string }> {
  if (spec.data !== undefined) {
    const { dataset, parts } = await splitData(spec.data, { split: spec.split ?? 'paper', limitPerClass: spec.limitPerClass, condensed: spec.condensed, esc10: spec.esc10 });
    return { trainClips: parts.train.length, classes: dataset.classNames.length, dataSet: spec.data };
  }
  const config = modelConfig(spec.model);
  const defaultClasses = config.classes;
  const paper = protocolOf(config);
  // ESC-10 is 10 of ESC-50's classes (40 clips each); condensed keeps every clip in 5 categories.
  const classes = spec.esc10 ? 10 : spec.condensed ? 5 : undefined;
  let clips = spec.esc10 ? (paper.clips / defaultClasses) * 10 : paper.clips;
  if (spec.limitPerClass !== undefined) clips = Math.min(clips, spec.limitPerClass * (classes ?? defaultClasses));
  return { trainClips: Math.round(clips * PAPER_TRAIN_FRACTION), classes, dataSet: `${paper.dataSet} (the paper's size, no --data)` };
}

const day = (iso: string) => iso.slice(0, 10);

/** A model of the grid, counted: what its runs share. */
interface CountedModel {
  config: ModelConfig;
  trainClips: number;
  dataSet: string;
  batch: number;
  paperFlops: number;
  exactFlops: number;
}

interface StepEstimate {
  ms: number;
  time: TimeSource;
}

/** A step time from the cache: this model's own, else the nearest cached model's scaled by forward FLOPs x batch. */
function cachedStepTime(m: CountedModel, cache: readonly StepTime[], exact: StepTime | undefined): StepEstimate {
  if (exact) return { ms: exact.msPerStep, time: { tag: 'cached', from: `${exact.source}, ${day(exact.measuredAt)}`, detail: 'the step time measured on this adapter for this model and batch (by whom, when)' } };
  const work = m.exactFlops * m.batch;
  const nearest = cache
    .map((e) => ({ e, distance: Math.abs(Math.log((e.forwardFlops * e.batch) / work)) }))
    .sort((a, b) => a.distance - b.distance)[0]!.e;
  return {
    ms: (nearest.msPerStep * work) / (nearest.forwardFlops * nearest.batch),
    time: {
      tag: 'scaled',
      from: `${nearest.model}@${nearest.batch}`,
      detail: 'the step time of MODEL@BATCH on this adapter (the nearest cached in forward FLOPs x batch), scaled by forward FLOPs x batch: within about 2x',
    },
  };
}

/** Counts a run's model (a forward pass encoded, not run): its FLOPs, batch and training clips. */
async function countModel(spec: PlannedRun): Promise<CountedModel> {
  const data = await runData(spec);
  const config = modelConfig(spec.model, { ...spec.modelOptions, ...(data.classes === undefined ? {} : { classes: data.classes }) });
  const batch = spec.batchSize ?? protocolOf(config).batchSize;
  const model = buildModel(config);
  try {
    const forward = await countForward(model, 1);
    return { config, trainClips: data.trainClips, dataSet: data.dataSet, batch, paperFlops: paperTotal(forward.tfOps), exactFlops: countUnder('exact', forward.records) };
  } finally {
    model.dispose();
  }
}

/** Times one training step of `m` now and caches it. */
async function timeStep(m: CountedModel): Promise<StepTime> {
  const model = buildModel(m.config);
  try {
    return await recordStepTime(m.config, m.batch, await timeTrainingStep(model, m.batch), m.exactFlops, 'a dry run');
  } finally {
    model.dispose();
  }
}

/** Forward and backward cost about three forward passes: the floor of a step at the adapter's best matmul rate. */
const TRAINING_TO_FORWARD = 3;

function floorStepTime(m: CountedModel, rate: { gflops: number; from: string }): StepEstimate {
  return {
    ms: (TRAINING_TO_FORWARD * m.exactFlops * m.batch) / (rate.gflops * 1e6),
    time: {
      tag: 'floor',
      detail:
        `no step time cached on this adapter yet: ${TRAINING_TO_FORWARD} x forward FLOPs x batch at ${rate.gflops.toFixed(1)} GFLOP/s, ${rate.from}; ` +
        'a lower bound (a CPU adapter trains at about half that rate, a GPU at far less on models this small); ' +
        'train any model once, or use --estimate measure, for measured times',
    },
  };
}

/**
 * Estimates each run in order, each model counted (and with `measure` timed) once; `onEstimate` hears each as it
 * is ready.
 */
export async function estimateRuns(runs: readonly PlannedRun[], method: EstimateMethod, onEstimate: (e: RunEstimate) => void = () => {}): Promise<RunEstimate[]> {
  const models = new Map<string, CountedModel>();
  for (const spec of runs) if (!models.has(groupKey(spec))) models.set(groupKey(spec), await countModel(spec));
  const cache = await cachedStepTimes();
  const rate = method === 'cached' && cache.all.length === 0 && models.size > 0 ? await quickMatmulRate() : undefined;
  const steps = new Map<string, StepEstimate>();
  const out: RunEstimate[] = [];
  for (const spec of runs) {
    const key = groupKey(spec);
    const m = models.get(key)!;
    if (!steps.has(key)) {
      steps.set(
        key,
        method === 'measure'
          ? { ms: (await timeStep(m)).msPerStep, time: { tag: 'measured', detail: 'one training step timed now, after a warm-up step' } }
          : rate
            ? floorStepTime(m, rate)
            : cachedStepTime(m, cache.all, cache.exact(m.config, m.batch)),
      );
    }
    const step = steps.get(key)!;
    const stepCount = Math.ceil(m.trainClips / m.batch) * spec.epochs;
    const id = spec.data === undefined ? `${spec.model}-seed${spec.seed}` : runId(spec);
    const { config: _config, ...counted } = m;
    const estimate: RunEstimate = {
      id,
      spec,
      steps: stepCount,
      ...counted,
      msPerStep: step.ms,
      minutes: (stepCount * step.ms) / 60_000,
      time: step.time,
    };
    onEstimate(estimate);
    out.push(estimate);
  }
  return out;
}
