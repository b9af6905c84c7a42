// Steps planned once per input shape and replayed: the first call with new shapes runs the step and records what it
// encodes (dispatches, bind groups, uniforms, buffers); later calls copy their inputs into the recorded input
// buffers and encode the recording again, with no op-by-op JavaScript, no allocation and no bind-group lookups. The
// plan keeps the buffers its step used, so nothing else can be handed them between replays.
import type { Recording } from '../runtime/runtime.js';
import { engine } from './engine.js';
import { Tensor } from './tensor.js';

interface Plan {
  recording: Recording;
  /** The step's inputs as recorded: each call's inputs are copied here. */
  slots: Tensor[];
  /** The step's outputs as recorded: each call returns copies. */
  outputs: Tensor[];
  /** Pooled buffers the step used for its intermediates, held while the plan lives. */
  held: GPUBuffer[];
}

/** A copy of `t` in a buffer of its own (encoded in the command stream, so it sees all earlier work). */
function copyOf(t: Tensor, into = Tensor.empty(t.shape, t.dtype)): Tensor {
  if (t.size > 0) engine().runtime.copy(t.buffer, t.byteOffset, into.buffer, into.byteOffset, t.size * 4);
  into.intRange = t.intRange;
  return into;
}

const shapesKey = (inputs: readonly Tensor[]) => inputs.map((t) => `${t.dtype}[${t.shape.join(',')}]`).join(' ');

/**
 * A step function over tensors, planned per input shapes. The step must encode the same work for the same shapes
 * (what changes per call, a dropout seed or a learning rate, goes through `replayUniforms` and `onReplay`), and the
 * tensors it reads besides its inputs (parameters, optimizer moments) must outlive the plans (dispose() first).
 * While the FLOP ledger records or dispatches are timed, the step runs as written.
 */
export class StepPlans {
  private readonly plans = new Map<string, Plan | string>();
  /** Set once the GPU memory budget pressed: the plans' buffers were given back, and steps run unplanned. */
  private noRoom = false;
  private replaying = false;
  /** Engine.storageMoves when the plans were recorded: a tensor moved since then leaves them reading old buffers. */
  private movesSeen = -1;
  private stopListening: (() => void) | undefined;

  constructor(private readonly step: (inputs: readonly Tensor[]) => Tensor[]) {}

  /** Runs the step on `inputs` and returns its outputs, the caller's to dispose. */
  run(inputs: readonly Tensor[]): Tensor[] {
    const eng = engine();
    if (eng.ledger.recording || eng.runtime.timing || this.noRoom) return this.step(inputs);
    if (eng.storageMoves !== this.movesSeen) {
      this.dispose();
      this.movesSeen = eng.storageMoves;
    }
    const key = shapesKey(inputs);
    const plan = this.plans.get(key);
    if (typeof plan === 'string') return this.step(inputs);
    if (!plan) return this.record(key, inputs);
    this.replaying = true;
    try {
      plan.slots.forEach((slot, i) => copyOf(inputs[i]!, slot));
      eng.runtime.replay(plan.recording);
      return plan.outputs.map((t) => copyOf(t));
    } finally {
      this.replaying = false;
      if (this.noRoom) this.dispose();
    }
  }

  /** Why the step for these input shapes runs unplanned, if it does (undefined: planned, or not yet run). */
  unplanned(inputs: readonly Tensor[]): string | undefined {
    if (this.noRoom) return 'its plans were given up to stay within the GPU memory budget';
    const plan = this.plans.get(shapesKey(inputs));
    return typeof plan === 'string' ? plan : undefined;
  }

  private record(key: string, inputs: readonly Tensor[]): Tensor[] {
    const runtime = engine().runtime;
    const slots = inputs.map((t) => copyOf(t).keep());
    runtime.startRecording();
    let outputs: Tensor[];
    try {
      outputs = this.step(slots);
    } catch (err) {
      runtime.stopRecording();
      for (const t of slots) t.dispose();
      throw err;
    }
    const recording = runtime.stopRecording();
    if (typeof recording === 'string') {
      this.plans.set(key, `the step cannot be replayed: ${recording}`);
      for (const t of slots) t.dispose();
      return outputs;
    }
    for (const t of outputs) t.keep();
    const held = [...recording.buffers].filter((b) => runtime.pool.claim(b));
    // plans are a cache: under the memory budget's pressure they give their buffers back (at once, or after a replay)
    this.stopListening ??= runtime.onMemoryPressure(() => {
      this.noRoom = true;
      if (!this.replaying) this.dispose();
    });
    this.plans.set(key, { recording, slots, outputs, held });
    return outputs.map((t) => copyOf(t));
  }

  /** Frees every plan's buffers (the next run records again, unless the memory budget pressed). */
  dispose(): void {
    const pool = engine().runtime.pool;
    for (const plan of this.plans.values()) {
      if (typeof plan === 'string') continue;
      for (const t of [...plan.slots, ...plan.outputs]) t.dispose();
      for (const b of plan.held) pool.release(b);
    }
    this.plans.clear();
    this.stopListening?.();
    this.stopListening = undefined;
  }
}
