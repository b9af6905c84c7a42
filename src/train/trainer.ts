// Headless training: the paper's protocol by default (AdamW with decoupled decay, its learning-rate schedule,
// best-validation weights), seeded and resumable. The run folder (run-folder.ts) holds last/ (the resumable
// checkpoint, written every --save-every steps and at each epoch's end), best/ (the best validation accuracy's
// weights) and log.jsonl (one line per epoch), under a lock.
import { createHash } from 'node:crypto';
import { NormalizationStats, spectrogram } from '../audio/spectrogram.js';
import type { BackgroundNoise, NoiseMixing } from '../data/noise.js';
import { batchOf, clipsAt, epochOrder, type SpectrogramSet } from '../data/pipeline.js';
import { NonFiniteWatch } from '../kernels/anomaly.js';
import type { AudioModel } from '../models/model.js';
import { buildModel } from '../models/registry.js';
import { NonFiniteError } from '../models/checkpoint.js';
import type { ModelConfig } from '../models/config.js';
import { AdamW, type AdamForm } from '../optim/adamw.js';
import { DeviceLostError } from '../runtime/runtime.js';
import { engine, tidy } from '../tensor/engine.js';
import { inBatchesThatFit } from '../tensor/fit.js';
import { Tensor } from '../tensor/tensor.js';
import { seededRandom } from '../util/random.js';
import { evaluate } from './evaluate.js';
import { RunFolder, TrainingError, type EpochLog, type TrainState } from './run-folder.js';
import { learningRate, type ScheduleOptions } from './schedule.js';
import { PlannedTrainingStep, trainingStep } from './step.js';

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  schedule: ScheduleOptions;
  weightDecay: number;
  /** Where AdamW puts epsilon: 'keras' (the paper's, default) or 'pytorch'. */
  adamForm?: AdamForm;
  seed: number;
  /** Write last/ every this many steps (and at the end of each epoch). */
  saveEvery: number;
  onStep?: (p: StepProgress) => void;
  /** Hears what is worth a line but not a stop: what opening the run folder recovered, a loss that starts to diverge. */
  onNotice?: (message: string) => void;
  onEpoch?: (e: EpochLog) => void;
  /** Background-noise augmentation: the recordings, how much to mix, and the training clips (from loadClips). */
  noise?: { noise: BackgroundNoise; mixing: NoiseMixing; clips: Int16Array };
  /** Checked between steps: when it returns true, last/ is saved and training stops (Ctrl-C). */
  shouldStop?: () => boolean;
  /** Scan every kernel's output for NaN and infinity and stop at the first, naming it (slow: steps run unplanned). */
  detectAnomaly?: boolean;
  /** false: every step runs unplanned (the reference a soak holds planned steps to); default true. */
  planned?: boolean;
}

export interface StepProgress {
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
}

export { TrainingError, type EpochLog } from './run-folder.js';

export interface TrainResult {
  history: EpochLog[];
  bestEpoch: number;
  bestValidation: number;
  stopped: boolean;
}

/**
 * A run is diverging when its loss, averaged over the last few steps, passes this multiple of a model that only
 * guesses (ln classes): healthy runs start near 1x and fall.
 */
const DIVERGENCE_FACTOR = 4;
const DIVERGENCE_WINDOW = 5;

/** Hears each step's loss and returns, once, the warning a diverging run deserves. */
function divergenceWatch(classes: number): (loss: number, step: number, lr: number) => string | undefined {
  const guessing = Math.log(classes);
  const recent: number[] = [];
  let warned = false;
  return (loss, step, lr) => {
    recent.push(loss);
    if (recent.length > DIVERGENCE_WINDOW) recent.shift();
    const mean = recent.reduce((s, v) => s + v, 0) / recent.length;
    if (warned || recent.length < DIVERGENCE_WINDOW || !(mean > DIVERGENCE_FACTOR * guessing)) return undefined;
    warned = true;
    return (
      `the training loss averaged ${mean.toPrecision(3)} over steps ${step - DIVERGENCE_WINDOW + 1}-${step}, more than ${DIVERGENCE_FACTOR}x ` +
      `that of a model that only guesses (ln ${classes} = ${guessing.toFixed(2)}): training is diverging; ` +
      `try a lower --lr (this step's is ${lr.toPrecision(3)}), e.g. a tenth of it`
    );
  };
}

/**
 * Fault injection for the device-loss tests: TOKENWAVE_LOSE_DEVICE_AT=<step> loses the GPU device (as a driver reset
 * would) as that global step (1-based) starts, in a run started afresh (its resumption, which a sweep worker starts
 * with the same environment, trains on).
 */
function deviceLossPoint(step: number): void {
  if (process.env.TOKENWAVE_LOSE_DEVICE_AT === String(step)) engine().runtime.loseDevice(`TOKENWAVE_LOSE_DEVICE_AT=${step}`);
}

const seedFor = (seed: number, step: number) => createHash('sha1').update(`${seed}/${step}`).digest().readUInt32LE(0);

/** A training batch: the cached spectrograms, or with noise mixing the spectrograms of freshly mixed clips. */
function trainingBatch(set: SpectrogramSet, indices: number[], config: ModelConfig, noise?: TrainOptions['noise'] & { random: () => number }): { x: Tensor; y: Tensor } {
  if (!noise) return batchOf(set, indices);
  const clips = clipsAt(noise.clips, config.clipSamples, indices);
  noise.noise.mix(clips, noise.mixing, noise.random);
  const audio = new Float32Array(clips.length * config.clipSamples);
  clips.forEach((clip, i) => audio.set(clip, i * config.clipSamples));
  const x = spectrogram(Tensor.from(audio, [clips.length, config.clipSamples]), config.spectrogram);
  return { x, y: Tensor.from(Int32Array.from(indices, (i) => set.labels[i]!), [indices.length], 'i32') };
}

/** Where a run goes: its folder, and whether training continues the run there. */
export interface RunFolderOptions extends Pick<TrainOptions, 'onNotice'> {
  runDir: string;
  /** true: continue the folder's run (it must have one); 'if-any': continue it if there is one, else start. */
  resume: boolean | 'if-any';
}

/** A run folder this trainer holds (its lock), and whether training continues the run in it. */
export interface ClaimedRun {
  folder: RunFolder;
  resume: boolean;
}

/**
 * Locks the run folder and checks it against `resume`. A trainer claims its folder before any costly preparation
 * (tuning, spectrograms), so that a second trainer on the same folder, or a run already there (or missing), is
 * refused at once. The caller closes `folder`.
 */
export async function claimRunFolder(o: RunFolderOptions): Promise<ClaimedRun> {
  const folder = await RunFolder.open(o.runDir, o.onNotice);
  const resume = o.resume === 'if-any' ? folder.resumable : o.resume;
  if (resume !== folder.resumable) {
    await folder.close();
    throw new TrainingError(
      resume
        ? `nothing to resume in ${o.runDir}: it has no checkpoint (last/); drop --resume to start a new run there`
        : `${o.runDir} already holds a run: add --resume to continue it, or choose another --out (or delete the folder) to start over`,
    );
  }
  return { folder, resume };
}

/** Trains `config` on `train` in a folder of its own, choosing the weights by accuracy on `validation`. */
export async function train(config: ModelConfig, data: { train: SpectrogramSet; validation: SpectrogramSet }, o: TrainOptions & RunFolderOptions): Promise<TrainResult> {
  const claimed = await claimRunFolder(o);
  try {
    return await trainIn(claimed, config, data, o);
  } finally {
    await claimed.folder.close();
  }
}

/** Trains `config` in a folder claimed by claimRunFolder (which stays claimed). */
export async function trainIn(claimed: ClaimedRun, config: ModelConfig, data: { train: SpectrogramSet; validation: SpectrogramSet }, o: TrainOptions): Promise<TrainResult> {
  const { folder: run, resume } = claimed;
  const n = data.train.labels.length;
  const stepsPerEpoch = Math.ceil(n / o.batchSize);
  // The Normalization layer is adapted on the training spectrograms (on the GPU), unless resuming a run.
  if (resume) {
    config = { ...config, normalization: (await run.lastConfig()).normalization };
  } else {
    const stats = new NormalizationStats();
    await inBatchesThatFit(n, 256, async (first, size) => {
      const { x, y } = batchOf(data.train, Array.from({ length: size }, (_, i) => first + i));
      try {
        await stats.add(x);
      } finally {
        x.dispose();
        y.dispose();
      }
    });
    config = { ...config, normalization: { mean: stats.mean, variance: stats.variance } };
  }

  const model = buildModel(config);
  const opt = new AdamW(model.parameters(), { lr: 0, weightDecay: o.weightDecay, form: o.adamForm });
  let state: TrainState = {
    epoch: 0, stepInEpoch: 0, globalStep: 0, bestValidation: -1, bestEpoch: -1,
    epochLoss: 0, epochCorrect: 0, epochClips: 0, epochSeconds: 0, history: [], stepsPerEpoch, batchSize: o.batchSize,
  };
  if (resume) state = await run.restore(model, opt, { stepsPerEpoch, batchSize: o.batchSize, epochs: o.epochs });
  await run.writeLog(state.history);

  /** The global step of the checkpoint in last/, if there is one. */
  let savedStep = resume ? state.globalStep : undefined;
  /** Saves, refusing weights that went non-finite: the last good checkpoint stays. */
  const save = async (what: 'last' | 'best', s: TrainState) => {
    try {
      if (what === 'last') {
        await run.saveLast(model, opt, s);
        savedStep = s.globalStep;
      } else await run.saveBest(model, s.globalStep);
    } catch (err) {
      if (!(err instanceof NonFiniteError)) throw err;
      throw new TrainingError(`training diverged by step ${s.globalStep} (epoch ${state.epoch + 1}): ${err.message}; the last good checkpoint in ${run.lastDir} is kept; try a lower --lr`);
    }
  };

  let stopped = false;
  const steps = new PlannedTrainingStep(model, opt, true);
  const diverging = divergenceWatch(config.classes);
  const anomalies = o.detectAnomaly ? new NonFiniteWatch() : undefined;
  try {
    for (; state.epoch < o.epochs; state.epoch++) {
      const order = epochOrder(n, o.seed, state.epoch);
      const epochLr = learningRate(o.schedule, state.epoch);
      let stepStart = performance.now();
      for (; state.stepInEpoch < stepsPerEpoch; ) {
        if (o.shouldStop?.()) {
          stopped = true;
          break;
        }
        if (!resume) deviceLossPoint(state.globalStep + 1);
        const indices = order.slice(state.stepInEpoch * o.batchSize, (state.stepInEpoch + 1) * o.batchSize);
        engine().setSeed(seedFor(o.seed, state.globalStep));
        opt.lr = learningRate(o.schedule, state.epoch + state.stepInEpoch / stepsPerEpoch);
        const step = state.globalStep;
        const { loss, accuracy } = tidy(() => {
          const { x, y } = trainingBatch(data.train, indices, config, o.noise && { ...o.noise, random: seededRandom(seedFor(o.seed ^ 0x6e6f6973, step)) });
          // Full batches replay one plan; an epoch's short last batch runs unplanned rather than hold a second one.
          return indices.length === o.batchSize && !anomalies && o.planned !== false ? steps.step(x, y) : trainingStep(model, opt, x, y, true);
        });
        const [lossValue, accValue] = [await loss.item(), await accuracy.item()];
        loss.dispose();
        accuracy.dispose();
        const culprit = await anomalies?.firstNonFinite();
        if (culprit) {
          throw new TrainingError(
            `a NaN or an infinity first appeared at epoch ${state.epoch + 1}, step ${state.stepInEpoch + 1}, in the ${culprit}; the last good checkpoint in ${run.lastDir} is kept`,
          );
        }
        if (!Number.isFinite(lossValue)) {
          throw new TrainingError(`training diverged at epoch ${state.epoch + 1}, step ${state.stepInEpoch + 1}: the loss is ${lossValue}; the last good checkpoint in ${run.lastDir} is kept; try a lower --lr`);
        }
        const warning = diverging(lossValue, state.globalStep + 1, opt.lr);
        if (warning) o.onNotice?.(warning);
        state.epochLoss += lossValue * indices.length;
        state.epochCorrect += accValue * indices.length;
        state.epochClips += indices.length;
        state.stepInEpoch++;
        state.globalStep++;
        const now = performance.now();
        state.epochSeconds += (now - stepStart) / 1000;
        stepStart = now;
        o.onStep?.({ epoch: state.epoch, step: state.stepInEpoch, stepsPerEpoch, loss: lossValue });
        if (state.globalStep % o.saveEvery === 0 && state.stepInEpoch < stepsPerEpoch) await save('last', state);
      }
      if (stopped) break;
      const validation = await evaluate(model, data.validation, []);
      const log: EpochLog = {
        epoch: state.epoch + 1,
        steps: stepsPerEpoch,
        lr: epochLr,
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
      if (validation.top1 > state.bestValidation) {
        state.bestValidation = validation.top1;
        state.bestEpoch = log.epoch;
        await save('best', state);
      }
      await run.appendLog(log);
      Object.assign(state, { stepInEpoch: 0, epochLoss: 0, epochCorrect: 0, epochClips: 0, epochSeconds: 0 });
      o.onEpoch?.(log);
      await save('last', { ...state, epoch: state.epoch + 1 });
    }
    if (stopped) await save('last', state);
  } catch (err) {
    if (!(err instanceof DeviceLostError)) throw err;
    const advice =
      savedStep === undefined
        ? 'no checkpoint had been saved yet: run the same command again to start over'
        : `the checkpoint in ${run.lastDir} (after step ${savedStep}) is kept: run the same command with --resume to continue from it`;
    throw new TrainingError(`GPU device lost: ${err.reason}, at epoch ${state.epoch + 1}, step ${state.stepInEpoch + 1}; ${advice}`, { retryable: true });
  } finally {
    anomalies?.stop();
    steps.dispose();
    opt.dispose();
    model.dispose();
  }
  return { history: state.history, bestEpoch: state.bestEpoch, bestValidation: state.bestValidation, stopped };
}
