// Tuning a model's kernels ahead of its work: the keys one training step (or inference pass) of the model meets
// at a batch size, timed by the autotuner where they are not cached yet (kernels/tuner.ts); and, for the
// benchmark, the model's tuned choices timed against the rules again.
import { compareWithRules, tuneFor, type RuleComparison, type TuneProgress, type TuneResult } from '../kernels/tuner.js';
import type { ModelConfig } from '../models/config.js';
import { onThrowawayStep, type StepKind } from './fits.js';

export async function tuneModel(config: ModelConfig, batch: number, kind: StepKind, onProgress?: (p: TuneProgress) => void): Promise<TuneResult[]> {
  return onThrowawayStep(config, batch, kind, (step) => tuneFor(step, onProgress));
}

export async function compareModelWithRules(config: ModelConfig, batch: number, kind: StepKind): Promise<RuleComparison[]> {
  return onThrowawayStep(config, batch, kind, (step) => compareWithRules(step));
}
