// Dispatches one kernel over tensors and records its declared primitive counts in the FLOP ledger.
import type { KernelSpec } from '../runtime/kernel.js';
import { counts, type OpCounts } from '../tensor/counts.js';
import { engine } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';

export const WG = 64;

/** Packs a uniform block of 4-byte words; vec4-aligned arrays are written with `vec8`. */
export class Uniforms {
  private readonly view: DataView;
  private offset = 0;
  constructor(bytes: number) {
    this.view = new DataView(new ArrayBuffer(bytes));
  }
  u32(value: number): this {
    this.view.setUint32(this.offset, value >>> 0, true);
    this.offset += 4;
    return this;
  }
  i32(value: number): this {
    this.view.setInt32(this.offset, value, true);
    this.offset += 4;
    return this;
  }
  f32(value: number): this {
    this.view.setFloat32(this.offset, value, true);
    this.offset += 4;
    return this;
  }
  /** Up to 8 values as `array<vec4u, 2>` (i32 values are stored as their two's-complement bits). */
  vec8(values: readonly number[]): this {
    if (values.length > 8) throw new Error(`tensors of rank ${values.length} exceed the supported rank 8`);
    for (let i = 0; i < 8; i++) this.view.setUint32(this.offset + 4 * i, (values[i] ?? 0) >>> 0, true);
    this.offset += 32;
    return this;
  }
  get data(): DataView {
    return this.view;
  }
}

export interface Launch {
  spec: KernelSpec;
  /** Name recorded in the ledger: the op that asked for the kernel (e.g. 'gelu', 'matmul'). */
  op: string;
  uniforms: Uniforms | null;
  inputs: readonly Tensor[];
  outputs: readonly Tensor[];
  workgroups: number;
  counts: Partial<OpCounts>;
  /** Overrides the bytes read (default: every input once). */
  bytesRead?: number;
}

export function launch(l: Launch): void {
  const eng = engine();
  const kernel = eng.runtime.kernel(l.spec);
  const buffers = [...l.inputs, ...l.outputs].map((t) => t.buffer);
  eng.runtime.dispatch(kernel, l.uniforms?.data ?? null, buffers, l.workgroups);
  if (eng.ledger.recording) {
    const bytesRead = l.bytesRead ?? l.inputs.reduce((s, t) => s + t.size * 4, 0);
    const bytesWritten = l.outputs.reduce((s, t) => s + t.size * 4, 0);
    eng.ledger.add({
      kernel: l.spec.name,
      op: l.op,
      path: eng.path,
      phase: eng.phase,
      shape: l.inputs.map((t) => `[${t.shape.join('x')}]`).join(' '),
      counts: counts({ bytesRead, bytesWritten, ...l.counts }),
    });
  }
}

export function groups(invocations: number, perGroup = WG): number {
  return Math.ceil(invocations / perGroup);
}
