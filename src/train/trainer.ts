// Headless training: the paper's protocol by default (AdamW with decoupled decay, its learning-rate schedule,
// best-validation weights), seeded and resumable. A run folder holds:
//   last/   model.safetensors, config.json, optimizer.safetensors, state.json   (written every --save-every steps)
//   best/   model.safetensors, config.json                                      (best validation accuracy)
//   log.jsonl                                                                   (one JSON line per epoch)
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { NormalizationStats } from '../audio/spectrogram.js';
import { batchOf, epochOrder, type SpectrogramSet } from '../data/pipeline.js';
import { AudioTransformer } from '../models/audio-transformer.js';
import { loadModel, readCheckpointConfig, saveModel } from '../models/checkpoint.js';
import type { ModelConfig } from '../models/config.js';
import { AdamW } from '../optim/adamw.js';
import { engine, tidy } from '../tensor/engine.js';
import { TokenwaveError } from '../util/errors.js';
import { evaluate, type Evaluation } from './evaluate.js';
import { restore, saveLast, writeFolderAtomic, type TrainState } from './run-checkpoint.js';
import { learningRate, type ScheduleOptions } from './schedule.js';
import { trainingStep } from './step.js';

/** Training that cannot go on: divergence, a run folder in an unusable state. */
export class TrainingError extends TokenwaveError {
  override name = 'TrainingError';
}

export interface TrainOptions {
  runDir: string;
  epochs: number;
  batchSize: number;
  schedule: ScheduleOptions;
  weightDecay: number;
  seed: number;
  /** Write last/ every this many steps (and at the end of each epoch). */
  saveEvery: number;
  resume: boolean;
  onStep?: (p: StepProgress) => void;
  onEpoch?: (e: EpochLog) => void;
  /** Checked between steps: when it returns true, last/ is saved and training stops (Ctrl-C). */
  shouldStop?: () => boolean;
}

export interface StepProgress {
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
}

export interface EpochLog {
  epoch: number;
  steps: number;
  lr: number;
  trainLoss: number;
  trainAccuracy: number;
  validationAccuracy: number;
  gap: number;
  stepsPerSecond: number;
  clipsPerSecond: number;
  msPerStep: number;
  seconds: number;
}


export interface TrainResult {
  history: EpochLog[];
  bestEpoch: number;
  bestValidation: number;
  stopped: boolean;
}

const seedFor = (seed: number, step: number) => createHash('sha1').update(`${seed}/${step}`).digest().readUInt32LE(0);

/** Trains `config` on `train`, choosing the weights by accuracy on `validation`. */
export async function train(config: ModelConfig, data: { train: SpectrogramSet; validation: SpectrogramSet }, o: TrainOptions): Promise<TrainResult> {
  await mkdir(o.runDir, { recursive: true });
  const lastDir = join(o.runDir, 'last');
  const bestDir = join(o.runDir, 'best');
  const logFile = join(o.runDir, 'log.jsonl');

  // The Normalization layer is adapted on the training spectrograms (on the GPU), unless resuming a run.
  if (!o.resume || !existsSync(lastDir)) {
    const stats = new NormalizationStats();
    for (let first = 0; first < data.train.labels.length; first += 256) {
      const indices = Array.from({ length: Math.min(256, data.train.labels.length - first) }, (_, i) => first + i);
      const { x, y } = batchOf(data.train, indices);
      await stats.add(x);
      x.dispose();
      y.dispose();
    }
    config = { ...config, normalization: { mean: stats.mean, variance: stats.variance } };
  } else {
    config = { ...config, normalization: (await readCheckpointConfig(lastDir)).normalization };
  }

  const model = new AudioTransformer(config);
  const opt = new AdamW(model.parameters(), { lr: 0, weightDecay: o.weightDecay });
  let state: TrainState = {
    epoch: 0, stepInEpoch: 0, globalStep: 0, bestValidation: -1, bestEpoch: -1,
    epochLoss: 0, epochCorrect: 0, epochClips: 0, epochSeconds: 0, history: [],
  };
  if (o.resume && existsSync(lastDir)) state = await restore(lastDir, model, opt);
  else if (existsSync(logFile)) await rm(logFile);

  const n = data.train.labels.length;
  const stepsPerEpoch = Math.ceil(n / o.batchSize);
  let stopped = false;
  try {
    for (; state.epoch < o.epochs; state.epoch++) {
      const order = epochOrder(n, o.seed, state.epoch);
      opt.lr = learningRate(o.schedule, state.epoch);
      let stepStart = performance.now();
      for (; state.stepInEpoch < stepsPerEpoch; ) {
        if (o.shouldStop?.()) {
          stopped = true;
          break;
        }
        const indices = order.slice(state.stepInEpoch * o.batchSize, (state.stepInEpoch + 1) * o.batchSize);
        engine().setSeed(seedFor(o.seed, state.globalStep));
        const { loss, accuracy } = tidy(() => {
          const { x, y } = batchOf(data.train, indices);
          return trainingStep(model, opt, x, y, true);
        });
        const [lossValue, accValue] = [await loss.item(), await accuracy.item()];
        loss.dispose();
        accuracy.dispose();
        if (!Number.isFinite(lossValue)) throw new TrainingError(`training diverged at epoch ${state.epoch + 1}, step ${state.stepInEpoch + 1}: loss is ${lossValue}; try a lower --lr`);
        state.epochLoss += lossValue * indices.length;
        state.epochCorrect += accValue * indices.length;
        state.epochClips += indices.length;
        state.stepInEpoch++;
        state.globalStep++;
        const now = performance.now();
        state.epochSeconds += (now - stepStart) / 1000;
        stepStart = now;
        o.onStep?.({ epoch: state.epoch, step: state.stepInEpoch, stepsPerEpoch, loss: lossValue });
        if (state.globalStep % o.saveEvery === 0 && state.stepInEpoch < stepsPerEpoch) await saveLast(lastDir, model, opt, state);
      }
      if (stopped) break;
      const validation = await evaluate(model, data.validation, []);
      const log: EpochLog = {
        epoch: state.epoch + 1,
        steps: stepsPerEpoch,
        lr: opt.lr,
        trainLoss: state.epochLoss / state.epochClips,
        trainAccuracy: state.epochCorrect / state.epochClips,
        validationAccuracy: validation.top1,
        gap: state.epochCorrect / state.epochClips - validation.top1,
        stepsPerSecond: stepsPerEpoch / state.epochSeconds,
        clipsPerSecond: state.epochClips / state.epochSeconds,
        msPerStep: (1000 * state.epochSeconds) / stepsPerEpoch,
        seconds: state.epochSeconds,
      };
      state.history.push(log);
      await appendFile(logFile, JSON.stringify(log) + '\n');
      if (validation.top1 > state.bestValidation) {
        state.bestValidation = validation.top1;
        state.bestEpoch = log.epoch;
        await writeFolderAtomic(bestDir, (temporary) => saveModel(temporary, model));
      }
      Object.assign(state, { stepInEpoch: 0, epochLoss: 0, epochCorrect: 0, epochClips: 0, epochSeconds: 0 });
      o.onEpoch?.(log);
      await saveLast(lastDir, model, opt, { ...state, epoch: state.epoch + 1 });
    }
    if (stopped) await saveLast(lastDir, model, opt, state);
  } finally {
    opt.dispose();
    model.dispose();
  }
  return { history: state.history, bestEpoch: state.bestEpoch, bestValidation: state.bestValidation, stopped };
}

/** Evaluates the best checkpoint of a run on `set`. */
export async function evaluateCheckpoint(dir: string, set: SpectrogramSet, ks: number[]): Promise<Evaluation> {
  const model = await loadModel(dir);
  try {
    return await evaluate(model, set, ks);
  } finally {
    model.dispose();
  }
}
