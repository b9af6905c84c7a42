// The paper's models end to end, clips per second: a training step (forward with dropout, loss, backward, AdamW,
// the loss read back) and an inference batch (logits read back), tokenwave against the same models written with
// TensorFlow.js ops (bench/tfjs-model.ts) on its WebGPU backend (same Dawn adapter) and its WASM backend.
import * as tf from '@tensorflow/tfjs-core';
import { transformerConfig } from '../src/models/audio-transformer-config.js';
import { modelConfig } from '../src/models/config.js';
import { buildModel } from '../src/models/registry.js';
import { AdamW } from '../src/optim/adamw.js';
import { tuneMode } from '../src/kernels/tuner.js';
import { stepJavaScript } from '../src/profile/session.js';
import { Tensor } from '../src/tensor/tensor.js';
import { PlannedInference, PlannedTrainingStep } from '../src/train/step.js';
import { tuneModel } from '../src/train/tune.js';
import { seededRandom } from '../src/util/random.js';
import { medianMsAfterWarmUp } from '../src/util/timing.js';
import { JaxjsTasr, jaxjsInference, jaxjsTrainer } from './jaxjs-model.js';
import { TfjsTasr, tfjsTrainer } from './tfjs-model.js';

export interface Workload {
  model: string;
  batch: number;
  mode: 'train' | 'infer';
}

export interface Measured {
  clipsPerSecond: number;
  parameters: number;
}

const FRAMES = 124;
const BINS = 129;

function inputs(batch: number, seed: number): { x: Float32Array; labels: Int32Array } {
  const r = seededRandom(seed);
  return { x: Float32Array.from({ length: batch * FRAMES * BINS }, () => 2 * r()), labels: Int32Array.from({ length: batch }, (_, i) => i % 8) };
}

/** Seconds per call: one warm-up call, then the median of `runs` timed calls. */
const secondsPerCall = async (call: () => Promise<void>, runs: number) => (await medianMsAfterWarmUp(call, runs)) / 1000;

export async function tokenwaveModel(w: Workload, runs: number): Promise<Measured> {
  // as `train` and `profile` do before they run: the shapes not tuned yet on this adapter are timed and cached
  // first (TOKENWAVE_TUNE=on), so the figure is what a user's run gets (the tune section times `off` and `cached`)
  if (tuneMode() === 'on') await tuneModel(modelConfig(w.model), w.batch, w.mode === 'train' ? 'training' : 'inference');
  const model = buildModel(modelConfig(w.model));
  const optimizer = w.mode === 'train' ? new AdamW(model.parameters(), { lr: 1e-4, weightDecay: 1e-4 }) : undefined;
  const data = inputs(w.batch, 1);
  const x = Tensor.from(data.x, [w.batch, FRAMES, BINS]).keep();
  const y = Tensor.from(data.labels, [w.batch], 'i32').keep();
  // As the trainer and the evaluator run them: planned once per batch shape (the warm-up call records), then replayed.
  const steps = optimizer && new PlannedTrainingStep(model, optimizer);
  const passes = optimizer ? undefined : new PlannedInference(model);
  const seconds = await secondsPerCall(async () => {
    const out = steps ? steps.step(x, y).loss : passes!.logits(x);
    await out.data();
    out.dispose();
  }, runs);
  const parameters = model.parameterCount();
  steps?.dispose();
  passes?.dispose();
  x.dispose();
  y.dispose();
  optimizer?.dispose();
  model.dispose();
  return { clipsPerSecond: w.batch / seconds, parameters };
}

/** The same workload on TF.js's current backend (set by the caller). */
export async function tfjsModel(w: Workload, runs: number): Promise<Measured> {
  const model = new TfjsTasr(transformerConfig(w.model));
  const data = inputs(w.batch, 1);
  const x = tf.tensor3d(data.x, [w.batch, FRAMES, BINS]);
  const labels = tf.oneHot(tf.tensor1d(data.labels, 'int32'), 8) as tf.Tensor2D;
  const step = tfjsTrainer(model);
  const seconds = await secondsPerCall(async () => {
    if (w.mode === 'train') {
      await step(x, labels);
      return;
    }
    const logits = tf.tidy(() => model.forward(x, false));
    await logits.data();
    logits.dispose();
  }, runs);
  const parameters = model.parameterCount();
  tf.dispose([x, labels, ...Object.values(model.vars)]);
  tf.disposeVariables();
  return { clipsPerSecond: w.batch / seconds, parameters };
}

/** The same workload in jax-js on its WebGPU device (set up by useJaxjs), each step or pass one jit-compiled call. */
export async function jaxjsModel(w: Workload, runs: number): Promise<Measured> {
  const { numpy: np, nn } = await import('@jax-js/jax');
  const model = new JaxjsTasr(transformerConfig(w.model));
  const data = inputs(w.batch, 1);
  const x = np.array(data.x).reshape([w.batch, FRAMES, BINS]);
  const labels = nn.oneHot(np.array(data.labels), 8);
  const trainer = w.mode === 'train' ? jaxjsTrainer(model, FRAMES, BINS) : undefined;
  const passes = trainer ? undefined : jaxjsInference(model, FRAMES, BINS);
  try {
    // the warm-up call traces and compiles (a minute for a training step on llvmpipe); the timed calls replay
    const seconds = await secondsPerCall(async () => void (trainer ? await trainer.step(x, labels) : await passes!.logits(x)), runs);
    return { clipsPerSecond: w.batch / seconds, parameters: model.parameterCount() };
  } finally {
    trainer?.dispose();
    passes?.dispose();
    model.dispose();
    x.dispose();
    labels.dispose();
  }
}

/**
 * JavaScript milliseconds a training step spends before its GPU work is all encoded (the call, not the wait): what
 * bounds a step on a GPU fast enough to finish its kernels sooner. Median of `runs` steps after two warm-ups,
 * unplanned (op by op) and planned (replayed).
 */
export async function hostMilliseconds(model: string, batch: number, runs: number): Promise<{ unplanned: number; planned: number; dispatches: number }> {
  const net = buildModel(modelConfig(model));
  const optimizer = new AdamW(net.parameters(), { lr: 1e-4, weightDecay: 1e-4 });
  const data = inputs(batch, 2);
  const x = Tensor.from(data.x, [batch, FRAMES, BINS]).keep();
  const y = Tensor.from(data.labels, [batch], 'i32').keep();
  try {
    const h = await stepJavaScript(net, optimizer, x, y, runs);
    return { unplanned: h.encodeMs, planned: h.plannedEncodeMs, dispatches: h.dispatches };
  } finally {
    for (const t of [x, y]) t.dispose();
    optimizer.dispose();
    net.dispose();
  }
}
