// Evaluation: top-k accuracy, per-class accuracy and the confusion matrix, in inference mode.
import type { SpectrogramSet } from '../data/pipeline.js';
import { batchOf } from '../data/pipeline.js';
import type { AudioModel } from '../models/model.js';
import { tidy } from '../tensor/engine.js';
import { inBatchesThatFit } from '../tensor/fit.js';
import { PlannedInference } from './step.js';

export interface Evaluation {
  clips: number;
  top1: number;
  /** Top-k accuracy for each k asked for. */
  topK: Record<number, number>;
  perClass: { label: string; clips: number; accuracy: number }[];
  /** confusion[true][predicted] */
  confusion: number[][];
  clipsPerSecond: number;
}

/** Clips per inference batch when evaluating. */
export const EVALUATION_BATCH = 64;

export async function evaluate(model: AudioModel, set: SpectrogramSet, ks: readonly number[] = [3], batch = EVALUATION_BATCH): Promise<Evaluation> {
  const classes = model.config.classes;
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const hits: Record<number, number> = Object.fromEntries(ks.map((k) => [k, 0]));
  const start = performance.now();
  const n = set.labels.length;
  // planned only for the evaluation: its working set is given back at the end, not held beside training's
  const passes = new PlannedInference(model);
  await inBatchesThatFit(n, batch, async (first, size) => {
    const indices = Array.from({ length: size }, (_, i) => first + i);
    const logits = tidy(() => passes.logits(batchOf(set, indices).x));
    let values: Float32Array;
    try {
      values = await logits.data();
    } finally {
      logits.dispose();
    }
    indices.forEach((idx, row) => {
      const scores = values.subarray(row * classes, (row + 1) * classes);
      const label = set.labels[idx]!;
      // rank of the true class: classes scoring higher, ties to the lower index (as the top-k kernel)
      let rank = 0;
      let best = 0;
      for (let c = 0; c < classes; c++) {
        if (scores[c]! > scores[label]! || (scores[c] === scores[label] && c < label)) rank++;
        if (scores[c]! > scores[best]!) best = c;
      }
      confusion[label]![best]!++;
      for (const k of ks) if (rank < k) hits[k]!++;
    });
  }).finally(() => passes.dispose());
  const seconds = (performance.now() - start) / 1000;
  const names = model.config.classNames;
  return {
    clips: n,
    top1: n ? confusion.reduce((s, row, i) => s + row[i]!, 0) / n : 0,
    topK: Object.fromEntries(ks.map((k) => [k, n ? hits[k]! / n : 0])),
    perClass: confusion.map((row, i) => {
      const total = row.reduce((s, v) => s + v, 0);
      return { label: names[i] ?? `class ${i}`, clips: total, accuracy: total ? row[i]! / total : 0 };
    }),
    confusion,
    clipsPerSecond: n / Math.max(seconds, 1e-9),
  };
}
