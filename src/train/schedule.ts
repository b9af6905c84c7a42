// Learning-rate schedules, per epoch (0-based).

export type ScheduleName = 'paper' | 'constant' | 'cosine';
export const SCHEDULES: ScheduleName[] = ['paper', 'constant', 'cosine'];

export interface ScheduleOptions {
  name: ScheduleName;
  batchSize: number;
  epochs: number;
  /** Peak rate; default for 'paper': 1.5e-5 x batch size; otherwise 1e-4 (the paper's stated base rate). */
  lr?: number;
  /** The paper's warm-up: start rate and epochs (speech 1e-4 over 3; ESC-50 1e-6 over 4). */
  warmupStart?: number;
  warmupEpochs?: number;
}

/**
 * 'paper': linear ramp from warmupStart to lr_max over the warm-up epochs, then
 * (lr_max - 1e-7) * 0.7^(epoch - warmup) + 1e-7. 'constant': lr. 'cosine': lr * (1 + cos(pi * epoch / epochs)) / 2.
 */
export function learningRate(s: ScheduleOptions, epoch: number): number {
  switch (s.name) {
    case 'paper': {
      const max = s.lr ?? 1.5e-5 * s.batchSize;
      const warmup = s.warmupEpochs ?? 3;
      const start = s.warmupStart ?? 1e-4;
      if (epoch < warmup) return start + ((max - start) * epoch) / warmup;
      return (max - 1e-7) * 0.7 ** (epoch - warmup) + 1e-7;
    }
    case 'constant':
      return s.lr ?? 1e-4;
    case 'cosine':
      return ((s.lr ?? 1e-4) * (1 + Math.cos((Math.PI * epoch) / Math.max(1, s.epochs)))) / 2;
  }
}
