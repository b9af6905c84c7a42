// Dispatches one declared kernel over tensors (bound by the declaration's names) and records its declared
// primitive counts in the FLOP ledger.
import type { KernelSpec, UniformValues } from '../runtime/kernel.js';
import type { BufferRange } from '../runtime/runtime.js';
import { counts, type OpCounts } from '../tensor/counts.js';
import { engine } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../util/errors.js';

export { read, write, type Binding, type ElementType, type KernelSpec } from '../runtime/kernel.js';

/** Floats of workgroup memory every WebGPU device offers (maxComputeWorkgroupStorageSize is at least 16 KiB). */
export const WORKGROUP_MEMORY_FLOATS = 4096;

export interface Launch {
  kernel: KernelSpec;
  /** Name recorded in the ledger: the op that asked for the kernel (e.g. 'gelu', 'matmul'). */
  op: string;
  uniforms?: UniformValues;
  /** Uniforms that change from step to step, evaluated now and again whenever a recorded step is replayed. */
  replayUniforms?: () => UniformValues;
  /** A tensor for every binding of the declaration, by name. */
  tensors: Readonly<Record<string, Tensor>>;
  /** Invocations of a per-invocation kernel (or workgroups of a per-workgroup one). */
  invocations?: number;
  workgroups?: number;
  counts: Partial<OpCounts>;
  /** Multiply-adds under the MAC convention (matrix products and convolutions only). */
  macs?: number;
  /** Overrides the bytes read (default: every read-only binding once). */
  bytesRead?: number;
  /** Overrides the bytes written (default: every read-write binding once). */
  bytesWritten?: number;
}

export function launch(l: Launch): void {
  const eng = engine();
  const runtime = eng.runtime;
  const kernel = runtime.kernel(l.kernel);
  const buffers: Record<string, GPUBuffer | BufferRange> = {};
  for (const b of l.kernel.bindings) {
    const t = l.tensors[b.name];
    if (t && (t.dtype === 'i32') !== (b.type === 'i32')) {
      throw new ArgumentError(`${l.op}: '${b.name}' takes ${b.type === 'i32' ? 'int32' : 'float32'} values, got an ${t.dtype === 'i32' ? 'int32' : 'float32'} tensor [${t.shape.join(', ')}]`);
    }
  }
  for (const name in l.tensors) buffers[name] = l.tensors[name]!.binding;
  const dispatch = runtime.run(kernel, { uniforms: l.uniforms, replayUniforms: l.replayUniforms, buffers, invocations: l.invocations, workgroups: l.workgroups });
  if (eng.nonFiniteWatch) {
    const label = `kernel '${l.kernel.name}' (op ${l.op}, module ${eng.path || '(top)'}, ${eng.phase})`;
    for (const b of l.kernel.bindings) if (b.access === 'write' && b.type !== 'i32' && b.type !== 'u32') eng.nonFiniteWatch(l.tensors[b.name]!, b.name, label);
  }
  if (eng.ledger.recording) {
    let bytesRead = 0;
    let bytesWritten = 0;
    const shapes: string[] = [];
    for (const b of l.kernel.bindings) {
      const t = l.tensors[b.name]!;
      if (b.access === 'read') {
        bytesRead += t.size * 4;
        shapes.push(`[${t.shape.join('x')}]`);
      } else bytesWritten += t.size * 4;
    }
    eng.ledger.add({
      kernel: l.kernel.name,
      op: l.op,
      path: eng.path,
      phase: eng.phase,
      shape: shapes.join(' '),
      counts: counts({ bytesRead: l.bytesRead ?? bytesRead, bytesWritten: l.bytesWritten ?? bytesWritten, ...l.counts }),
      ...(l.macs !== undefined ? { macs: l.macs } : {}),
      ...(dispatch >= 0 ? { dispatch } : {}),
    });
  }
}
