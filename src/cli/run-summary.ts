// What a finished training run is worth, measured once for `tokenwave train` (summary.json, which sweeps read) and
// for the demo's table: the best weights tested, their FLOPs counted, inference and training timed.
import { join } from 'node:path';
import type { SpectrogramSet } from '../data/pipeline.js';
import { countForward, countUnder, paperTotal } from '../flops/accounting.js';
import { loadModel } from '../models/checkpoint-folder.js';
import { choicesMade } from '../kernels/tuner.js';
import { engine } from '../tensor/engine.js';
import { evaluate } from '../train/evaluate.js';
import type { RunSummary } from '../train/run-folder.js';
import { recordStepTime } from '../train/step-times.js';
import type { EpochLog, TrainResult } from '../train/trainer.js';

/** Milliseconds per training step over `epochs`. */
function msPerStep(epochs: readonly EpochLog[]): number {
  return (1000 * epochs.reduce((s, h) => s + h.seconds, 0)) / Math.max(1, epochs.reduce((s, h) => s + h.steps, 0));
}

/** Tests `runDir`'s best weights on `test` (top-k for each of `ks`) and summarises the run. */
export async function summarizeRun(model: string, runDir: string, result: TrainResult, test: SpectrogramSet, ks: number[], batchSize: number): Promise<RunSummary> {
  const best = await loadModel(join(runDir, 'best'));
  try {
    const evaluation = await evaluate(best, test, ks);
    const forward = await countForward(best, 1);
    // timed again with pipelines compiled and buffers pooled: what a user's inference costs
    const msPerClip = 1000 / (await evaluate(best, test, ks)).clipsPerSecond;
    const exactFlops = countUnder('exact', forward.records);
    // For later dry runs: the epochs after the first where there are some (the first compiles every kernel).
    const settled = result.history.length > 1 ? result.history.slice(1) : result.history;
    await recordStepTime(best.config, batchSize, msPerStep(settled), exactFlops, 'train');
    return {
      model,
      adapter: engine().runtime.adapterName,
      parameters: best.parameterCount(),
      flops: { paper: paperTotal(forward.tfOps), exact: exactFlops },
      batchSize,
      msPerStep: msPerStep(result.history),
      msPerClip,
      bestEpoch: result.bestEpoch,
      bestValidation: result.bestValidation,
      test: evaluation,
      history: result.history,
      kernels: choicesMade(),
    };
  } finally {
    best.dispose();
  }
}
