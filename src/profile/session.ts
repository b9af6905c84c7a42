// Profiling a paper model: warm-up passes, then N timed forward passes (or training steps: forward, loss,
// backward, AdamW) on random input or on given clips, each step's dispatches timed and joined to the ledger; and
// the JavaScript a step costs, unplanned and replayed from a plan, which the profiled steps cannot show.
import { spectrogram } from '../audio/spectrogram.js';
import type { AudioModel } from '../models/model.js';
import { buildModel } from '../models/registry.js';
import type { ModelConfig } from '../models/config.js';
import { AdamW } from '../optim/adamw.js';
import type { TimingMethod } from '../runtime/timer.js';
import { engine, tidy, type ProfiledRecord } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { inferenceStep, PlannedInference, PlannedTrainingStep, trainingStep } from '../train/step.js';
import { cyclingLabels, randomBatch } from '../train/step-times.js';
import { median } from '../util/timing.js';
import { choicesMade, type KernelChoices } from '../kernels/tuner.js';

export interface ProfileOptions {
  train: boolean;
  batch: number;
  steps: number;
  warmup: number;
  method?: TimingMethod;
  /** Clips at the model's rate and length (cycled to fill the batch); default: random spectrograms. */
  clips?: Float32Array[];
}

export interface ProfiledStep {
  records: ProfiledRecord[];
  wallMs: number;
  kernelMs: number;
}

export interface ModelProfile {
  model: string;
  mode: 'training step' | 'inference';
  batch: number;
  adapter: string;
  backend: string;
  kernelVariants: string;
  method: TimingMethod;
  /** The GPU timestamps' effective resolution over the profiled steps, ns (timestamps only). */
  timestampResolutionNs?: number;
  parameters: number;
  steps: ProfiledStep[];
  /** JavaScript per step: the call that builds and encodes it, before the result is read back (median, ms). */
  encodeMs: number;
  /** The same for a step replayed from its plan (as the trainer and the evaluator run full batches). */
  plannedEncodeMs: number;
  /** The kernel variants the profiled steps used and what chose each. */
  kernels: KernelChoices;
}

function inputs(config: ModelConfig, o: ProfileOptions): { x: Tensor; y: Tensor } {
  if (!o.clips || o.clips.length === 0) return randomBatch(config, o.batch);
  const data = new Float32Array(o.batch * config.clipSamples);
  for (let i = 0; i < o.batch; i++) data.set(o.clips[i % o.clips.length]!, i * config.clipSamples);
  const x = tidy(() => spectrogram(Tensor.from(data, [o.batch, config.clipSamples]), config.spectrogram)).keep();
  return { x, y: cyclingLabels(config, o.batch) };
}


/** Steps whose JavaScript is timed: enough for V8 to have compiled the hot paths, as in a training run. */
export const HOST_STEPS = 10;

export interface StepJavaScript {
  /** The call that builds and encodes a step, before its result is read back (median, ms). */
  encodeMs: number;
  /** The same for a step replayed from its plan. */
  plannedEncodeMs: number;
  /** Dispatches in one unplanned step. */
  dispatches: number;
}

/**
 * The JavaScript a step of `model` on (x, y) costs: a training step when `optimizer` is given, else an inference
 * batch; unplanned, then replayed from its plan. The median of `steps` calls after `warmup` untimed ones.
 */
export async function stepJavaScript(model: AudioModel, optimizer: AdamW | undefined, x: Tensor, y: Tensor, steps = HOST_STEPS, warmup = 2): Promise<StepJavaScript> {
  const runtime = engine().runtime;
  const time = async (call: () => Tensor) => {
    const ms: number[] = [];
    let dispatches = 0;
    for (let i = 0; i < warmup + steps; i++) {
      const before = runtime.stats.dispatches;
      const start = performance.now();
      const out = call();
      if (i >= warmup) ms.push(performance.now() - start);
      dispatches = runtime.stats.dispatches - before;
      await out.data();
      out.dispose();
    }
    return { ms: median(ms), dispatches };
  };
  const unplanned = await time(() => (optimizer ? trainingStep(model, optimizer, x, y) : inferenceStep(model, x)));
  const trainer = optimizer && new PlannedTrainingStep(model, optimizer);
  const passes = optimizer ? undefined : new PlannedInference(model);
  try {
    const planned = await time(() => (trainer ? trainer.step(x, y).loss : passes!.logits(x)));
    return { encodeMs: unplanned.ms, plannedEncodeMs: planned.ms, dispatches: unplanned.dispatches };
  } finally {
    trainer?.dispose();
    passes?.dispose();
  }
}

export async function profileModel(config: ModelConfig, o: ProfileOptions): Promise<ModelProfile> {
  const eng = engine();
  const model = buildModel(config);
  const optimizer = o.train ? new AdamW(model.parameters(), { lr: 1e-5 }) : undefined;
  const { x, y } = inputs(config, o);
  const step = async () => {
    const out = optimizer ? trainingStep(model, optimizer, x, y) : inferenceStep(model, x);
    await out.data(); // the result read back, as a training loop reads its loss
    out.dispose();
  };
  try {
    for (let i = 0; i < o.warmup; i++) await step();
    const steps: ProfiledStep[] = [];
    let method: TimingMethod | undefined;
    let resolutionNs: number | undefined;
    for (let i = 0; i < o.steps; i++) {
      const p = await eng.profile(step, { method: o.method });
      method = p.method;
      if (p.resolutionNs !== undefined) resolutionNs = Math.min(resolutionNs ?? Infinity, p.resolutionNs);
      steps.push({ records: p.records, wallMs: p.wallMs, kernelMs: p.kernelMs });
    }
    // Timed at batch 1, where steps are quick enough to run the many that V8 needs to warm up: a step's
    // dispatches, and so its JavaScript, hardly depend on the batch.
    const one = inputs(config, { ...o, batch: 1, clips: o.clips?.slice(0, 1) });
    const { encodeMs, plannedEncodeMs } = await stepJavaScript(model, optimizer, one.x, one.y).finally(() => {
      one.x.dispose();
      one.y.dispose();
    });
    const r = eng.runtime;
    return {
      model: config.name,
      mode: o.train ? 'training step' : 'inference',
      batch: o.batch,
      adapter: r.adapterName,
      backend: `${r.backend} (${r.featureLevel})`,
      kernelVariants: r.kernelVariants,
      method: method!,
      ...(resolutionNs !== undefined ? { timestampResolutionNs: resolutionNs } : {}),
      parameters: model.parameterCount(),
      steps,
      encodeMs,
      plannedEncodeMs,
      kernels: choicesMade(),
    };
  } finally {
    x.dispose();
    y.dispose();
    optimizer?.dispose();
    model.dispose();
  }
}

/**
 * One step that stands for all profiled ones, robust to a noisy machine: each dispatch's median time across the
 * steps (they run the same dispatches in the same order), and the median wall time.
 */
export function medianStep(steps: readonly ProfiledStep[]): ProfiledStep {
  const first = steps[0]!;
  const same = steps.every((s) => s.records.length === first.records.length && s.records.every((r, i) => r.kernel === first.records[i]!.kernel));
  if (!same) throw new Error('the profiled steps ran different dispatches; profile them one at a time');
  const records = first.records.map((r, i) => ({ ...r, ms: median(steps.map((s) => s.records[i]!.ms)) }));
  return { records, wallMs: median(steps.map((s) => s.wallMs)), kernelMs: records.reduce((sum, r) => sum + r.ms, 0) };
}
