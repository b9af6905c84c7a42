// The demo's budget: how much data and how many epochs fit the minutes it is given, from costs measured on this
// machine (a clip generated and prepared, a training step and a clip of inference of each model). Both models
// train on the same data for the same epochs, so each gets the same number of updates.
import { PAPER_TRAIN_FRACTION } from '../data/datasets.js';

/** What one model costs here, in seconds. */
export interface ModelCost {
  name: string;
  stepSeconds: number;
  clipSeconds: number;
}

export interface BudgetInputs {
  /** Seconds left for everything still to do: generating and preparing the training data, training, validating, testing. */
  seconds: number;
  batchSize: number;
  /** Seconds to generate and prepare one clip. */
  dataClipSeconds: number;
  models: readonly ModelCost[];
  testClips: number;
  /** Words (classes) of the data set. */
  words: number;
  /** Fixed by the user (--per-class / --epochs), else chosen. */
  perClass?: number;
  epochs?: number;
  /** The paper's: no more than this is chosen. */
  maxPerClass: number;
  maxEpochs: number;
  minPerClass: number;
  /** Epochs chosen while the data can still grow (more fresh clips beat more passes over the same ones). */
  baseEpochs: number;
}

export interface Budget {
  perClass: number;
  epochs: number;
  trainClips: number;
  updates: number;
  /** Predicted seconds for what the inputs' `seconds` covers. */
  predictedSeconds: number;
  /** The smallest run (minPerClass, one epoch) did not fit: it runs anyway, over the budget. */
  tooSmall: boolean;
}

/** The paper's split of each word's clips: 80% to train on, half the rest (10%) to choose the best epoch by. */
const VALIDATION_SHARE = (1 - PAPER_TRAIN_FRACTION) / 2;

/** Seconds the run would take at `perClass` and `epochs`, and its updates per model. */
export function predict(i: BudgetInputs, perClass: number, epochs: number): { seconds: number; updates: number; trainClips: number } {
  const clips = perClass * i.words;
  const trainClips = Math.round(clips * PAPER_TRAIN_FRACTION);
  const validationClips = Math.round(clips * VALIDATION_SHARE);
  const updates = epochs * Math.ceil(trainClips / i.batchSize);
  // each model: its updates; validation every epoch; the test set twice (scored, then timed for the table)
  const models = i.models.reduce((s, m) => s + updates * m.stepSeconds + (epochs * validationClips + 2 * i.testClips) * m.clipSeconds, 0);
  return { seconds: clips * i.dataClipSeconds + models, updates, trainClips };
}

/**
 * The most data (up to the paper's clips per word) at `baseEpochs` that fits, then, once all the paper's data fits,
 * the most epochs (up to the paper's). Clips per word are a multiple of 10 so that reruns find their data again.
 */
export function planBudget(i: BudgetInputs): Budget {
  const fits = (perClass: number, epochs: number) => predict(i, perClass, epochs).seconds <= i.seconds;
  let epochs = i.epochs ?? Math.min(i.baseEpochs, i.maxEpochs);
  let perClass = i.perClass;
  if (perClass === undefined) {
    perClass = i.minPerClass;
    for (let p = i.maxPerClass; p >= i.minPerClass; p -= 10) {
      if (fits(p, epochs)) {
        perClass = p;
        break;
      }
    }
  }
  if (i.epochs === undefined) {
    while (epochs < i.maxEpochs && perClass >= i.maxPerClass && fits(perClass, epochs + 1)) epochs++;
    while (epochs > 1 && !fits(perClass, epochs)) epochs--;
  }
  const { seconds, updates, trainClips } = predict(i, perClass, epochs);
  return { perClass, epochs, trainClips, updates, predictedSeconds: seconds, tooSmall: seconds > i.seconds };
}
