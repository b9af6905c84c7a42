// Learning-rate schedules over the training's progress in epochs (0-based; fractional within an epoch).

export type ScheduleName = 'paper' | 'paper-scaled' | 'constant' | 'cosine';
export const SCHEDULES: ScheduleName[] = ['paper', 'paper-scaled', 'constant', 'cosine'];

/** The length of the paper's protocol, which 'paper-scaled' stretches over a shorter run. */
const PAPER_EPOCHS = 20;

export interface ScheduleOptions {
  name: ScheduleName;
  batchSize: number;
  epochs: number;
  /** Peak rate; default for the paper's schedules: 1.5e-5 x batch size; otherwise 1e-4 (the paper's stated base rate). */
  lr?: number;
  /** The paper's warm-up: start rate and epochs (speech 1e-4 over 3; ESC-50 1e-6 over 4). */
  warmupStart?: number;
  warmupEpochs?: number;
}

/**
 * The rate at `progress` epochs into the run.
 * 'paper' (set at each epoch's start, as the paper's Keras callback did): a linear ramp from warmupStart to
 * lr_max over the warm-up epochs, then (lr_max - 1e-7) * 0.7^(epoch - warmup) + 1e-7.
 * 'paper-scaled': the same shape stretched so that the run's `epochs` span the paper's 20, updated every step: a
 * short run (the CPU demo) gets the paper's warm-up and decay in proportion.
 * 'constant': lr. 'cosine': lr * (1 + cos(pi * epoch / epochs)) / 2, per epoch.
 */
export function learningRate(s: ScheduleOptions, progress: number): number {
  const epoch = Math.floor(progress);
  switch (s.name) {
    case 'paper':
      return paperShape(s, epoch);
    case 'paper-scaled':
      return paperShape(s, (progress * PAPER_EPOCHS) / Math.max(1, s.epochs));
    case 'constant':
      return s.lr ?? 1e-4;
    case 'cosine':
      return ((s.lr ?? 1e-4) * (1 + Math.cos((Math.PI * epoch) / Math.max(1, s.epochs)))) / 2;
  }
}

function paperShape(s: ScheduleOptions, t: number): number {
  const max = s.lr ?? 1.5e-5 * s.batchSize;
  const warmup = s.warmupEpochs ?? 3;
  const start = s.warmupStart ?? 1e-4;
  if (t < warmup) return start + ((max - start) * t) / warmup;
  return (max - 1e-7) * 0.7 ** (t - warmup) + 1e-7;
}
