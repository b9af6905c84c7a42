// Anomaly detection (`tokenwave train --detect-anomaly`, like PyTorch's detect_anomaly): while a watch is on, every
// dispatch's float outputs are scanned on the GPU for NaN and infinity, and the first dispatch of the step to
// produce one is named by its kernel, op, module path and phase. One more dispatch per output: slow, off by default.
import type { KernelSpec } from '../runtime/kernel.js';
import { STORAGE_USAGE } from '../runtime/runtime.js';
import { engine } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { read, write } from './launch.js';

const CHECK: KernelSpec = {
  name: 'nonfinite check',
  file: 'nonfinite.wgsl',
  bindings: [read('x'), write('flag', 'u32')],
  uniforms: { index: 'u32' },
};

const NONE = 0xffffffff;

export class NonFiniteWatch {
  private readonly flag: GPUBuffer;
  private labels: string[] = [];

  constructor() {
    const eng = engine();
    this.flag = eng.runtime.pool.acquire(4, STORAGE_USAGE, 'non-finite flag');
    this.reset();
    eng.nonFiniteWatch = (output, name, label) => this.check(output, `output '${name}' of ${label}`);
  }

  private reset(): void {
    engine().runtime.write(this.flag, Uint32Array.of(NONE));
    this.labels = [];
  }

  private check(output: Tensor, label: string): void {
    const runtime = engine().runtime;
    runtime.run(runtime.kernel(CHECK), { uniforms: { index: this.labels.length }, buffers: { x: output.binding, flag: this.flag }, invocations: output.size });
    this.labels.push(label);
  }

  /** The first output that held a NaN or an infinity since the last call (undefined if none); starts watching afresh. */
  async firstNonFinite(): Promise<string | undefined> {
    const [index] = new Uint32Array(await engine().runtime.read(this.flag, 4));
    const found = index === NONE ? undefined : this.labels[index!];
    this.reset();
    return found;
  }

  stop(): void {
    const eng = engine();
    eng.nonFiniteWatch = undefined;
    eng.runtime.pool.release(this.flag);
  }
}
