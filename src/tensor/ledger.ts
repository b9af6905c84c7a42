// The FLOP ledger: one record per dispatched kernel, with the module path and phase it ran under.
import { addCounts, counts, type OpCounts } from './counts.js';

export type Phase = 'forward' | 'backward' | 'optimizer';

export interface KernelRecord {
  kernel: string;
  op: string;
  path: string;
  phase: Phase;
  shape: string;
  counts: OpCounts;
}

export class Ledger {
  records: KernelRecord[] = [];
  recording = false;

  add(record: KernelRecord): void {
    if (this.recording) this.records.push(record);
  }

  /** Records every dispatch made while `fn` runs and returns them. */
  async capture<T>(fn: () => T | Promise<T>): Promise<{ result: T; records: KernelRecord[] }> {
    const outer = this.records;
    const wasRecording = this.recording;
    this.records = [];
    this.recording = true;
    try {
      const result = await fn();
      return { result, records: this.records };
    } finally {
      const inner = this.records;
      this.records = wasRecording ? outer.concat(inner) : outer;
      this.recording = wasRecording;
    }
  }

  static total(records: readonly KernelRecord[], filter: (r: KernelRecord) => boolean = () => true): OpCounts {
    const sum = counts();
    for (const r of records) if (filter(r)) addCounts(sum, r.counts);
    return sum;
  }
}
