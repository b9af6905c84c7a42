// The FLOP ledger: one record per dispatched kernel, with the module path and phase it ran under, and beside them
// the TensorFlow ops that Keras would have run for the same layers (the paper's convention counts those).
import { addCounts, counts, type OpCounts } from './counts.js';

export type Phase = 'forward' | 'backward' | 'optimizer';

export interface KernelRecord {
  kernel: string;
  op: string;
  path: string;
  phase: Phase;
  shape: string;
  counts: OpCounts;
  /** Multiply-adds as MAC counters (fvcore, thop) count them: matrix products, and convolutions over every kernel
   * tap including those in the padding. Absent for other kernels. */
  macs?: number;
  /** The runtime's dispatch index while dispatches are timed (profiling). */
  dispatch?: number;
}

export type TfOpType =
  | 'Conv2D'
  | 'DepthwiseConv2dNative'
  | 'MatMul'
  | 'BiasAdd'
  | 'AddV2'
  | 'Sub'
  | 'Mul'
  | 'RealDiv'
  | 'Maximum'
  | 'Mean'
  | 'Softmax'
  | 'FusedBatchNormV3'
  | 'LayerNormalization'
  | 'Gelu'
  | 'Einsum'
  | 'ZeroCost';

/** A TensorFlow op as Keras would have run it for a layer. */
export interface TfOp {
  type: TfOpType;
  /** What Keras would call it, for breakdowns (e.g. 'query bias', 'residual'). */
  label: string;
  path: string;
  /** Output elements (input elements for Mean; elements for norms and activations). */
  elements: number;
  /** Conv: kh * kw (* C_in for Conv2D); MatMul and Einsum: the reduced dimension K. */
  reduce?: number;
  /** BatchNorm: channels; LayerNorm: rows. */
  groups?: number;
}

export interface Capture<T> {
  result: T;
  records: KernelRecord[];
  tfOps: TfOp[];
}

export class Ledger {
  records: KernelRecord[] = [];
  tfOps: TfOp[] = [];
  recording = false;

  add(record: KernelRecord): void {
    if (this.recording) this.records.push(record);
  }

  addTf(op: TfOp): void {
    if (this.recording) this.tfOps.push(op);
  }

  /** Records every dispatch (and TensorFlow op) made while `fn` runs and returns them. */
  async capture<T>(fn: () => T | Promise<T>): Promise<Capture<T>> {
    const [outerRecords, outerTf] = [this.records, this.tfOps];
    const wasRecording = this.recording;
    this.records = [];
    this.tfOps = [];
    this.recording = true;
    try {
      const result = await fn();
      return { result, records: this.records, tfOps: this.tfOps };
    } finally {
      const [innerRecords, innerTf] = [this.records, this.tfOps];
      this.records = wasRecording ? outerRecords.concat(innerRecords) : outerRecords;
      this.tfOps = wasRecording ? outerTf.concat(innerTf) : outerTf;
      this.recording = wasRecording;
    }
  }

  static total(records: readonly KernelRecord[], filter: (r: KernelRecord) => boolean = () => true): OpCounts {
    const sum = counts();
    for (const r of records) if (filter(r)) addCounts(sum, r.counts);
    return sum;
  }
}
