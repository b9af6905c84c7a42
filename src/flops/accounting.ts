// FLOP accounting of a model under named conventions, from a real forward pass (and training step): the kernel
// ledger gives the exact counts, the recorded TensorFlow ops the paper's.
import type { AudioModel } from '../models/model.js';
import { inputShape } from '../models/config.js';
import { AdamW } from '../optim/adamw.js';
import { counts as emptyCounts, exactFlops, type OpCounts } from '../tensor/counts.js';
import { engine } from '../tensor/engine.js';
import { Ledger, type KernelRecord, type Phase, type TfOp } from '../tensor/ledger.js';
import { Tensor } from '../tensor/tensor.js';
import { inferenceStep, trainingStep } from '../train/step.js';
import { paperFlops } from './tf-ops.js';

export const CONVENTIONS = ['exact', 'macs', 'paper'] as const;
export type Convention = (typeof CONVENTIONS)[number];

export const CONVENTION_HELP: Record<Convention, string> = {
  exact: 'what the dispatched kernels do: every primitive 1, a fused multiply-add 2 (transcendentals listed too)',
  macs: 'multiply-adds of matrix products, attention products and convolutions only, convolutions with every kernel tap (as fvcore/thop report)',
  paper: "the TensorFlow 2.10 profiler's rules the paper used: batch 1, forward only, attention einsums count 0",
};

/** The multiply-adds a MAC counter (fvcore, thop) reports: each kernel declares them beside its exact counts. */
export function macs(records: readonly KernelRecord[]): number {
  return records.reduce((s, r) => s + (r.macs ?? 0), 0);
}

export function countUnder(convention: Exclude<Convention, 'paper'>, records: readonly KernelRecord[]): number {
  return convention === 'exact' ? exactFlops(Ledger.total(records)) : macs(records);
}

export interface ForwardCount {
  records: KernelRecord[];
  tfOps: TfOp[];
  batch: number;
}

/** Encodes one inference forward pass on zeros, without running it, and returns what it dispatched and what Keras would have run. */
export async function countForward(model: AudioModel, batch = 1): Promise<ForwardCount> {
  const eng = engine();
  const input = Tensor.zeros(inputShape(model.config, batch)).keep();
  try {
    const { records, tfOps } = await eng.runtime.withoutRunning(() => eng.ledger.capture(() => inferenceStep(model, input).dispose()));
    return { records, tfOps, batch };
  } finally {
    input.dispose();
  }
}

export interface TrainingCount {
  batch: number;
  byPhase: Record<Phase, OpCounts>;
  records: KernelRecord[];
}

/** Encodes one training step (forward with dropout, backward, AdamW) on a batch of zeros, without running it, and records it. */
export async function countTrainingStep(model: AudioModel, batch: number): Promise<TrainingCount> {
  const eng = engine();
  const input = Tensor.zeros(inputShape(model.config, batch)).keep();
  const labels = Tensor.from(new Int32Array(batch), [batch], 'i32').keep();
  const optimizer = new AdamW(model.parameters(), { lr: 0 });
  try {
    const { records } = await eng.runtime.withoutRunning(() => eng.ledger.capture(() => trainingStep(model, optimizer, input, labels).dispose()));
    const byPhase = { forward: emptyCounts(), backward: emptyCounts(), optimizer: emptyCounts() };
    for (const phase of Object.keys(byPhase) as Phase[]) byPhase[phase] = Ledger.total(records, (r) => r.phase === phase);
    return { batch, byPhase, records };
  } finally {
    optimizer.dispose();
    input.dispose();
    labels.dispose();
  }
}

export function paperTotal(ops: readonly TfOp[]): number {
  return ops.reduce((s, op) => s + paperFlops(op), 0);
}

/** Sums per module path, cut to `depth` path components (e.g. 'blocks.0/attention'). */
export function breakdown<T>(items: readonly T[], path: (t: T) => string, value: (t: T) => number, depth = 2): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of items) {
    const key = path(item).split('/').slice(0, depth).join('/') || '(model)';
    out.set(key, (out.get(key) ?? 0) + value(item));
  }
  return out;
}
