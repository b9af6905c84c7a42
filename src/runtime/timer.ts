// Per-dispatch GPU timing for the profiler, by one of two methods:
// - 'timestamps': where the device has `timestamp-query`, each dispatch runs in its own compute pass with a
//   query pair written at its start and end; the queries are resolved once per submit and read back later.
// - 'isolated': where it has none (llvmpipe through OpenGL ES), the dispatches are logged as they are encoded
//   (pipeline, bind group, uniforms, workgroups) and, once the profiled work is done, each one is replayed alone:
//   submitted by itself and waited for, minus the measured cost of an empty submit.
// Neither is ever active outside profiling, so normal runs pay nothing.
import { platform } from './platform.js';
import { median } from '../util/timing.js';

export type TimingMethod = 'timestamps' | 'isolated';

export interface DispatchTiming {
  /** Order of the dispatch since timing started. */
  index: number;
  kernel: string;
  workgroups: number;
  /** Kernel time in milliseconds. */
  ms: number;
  /** Start in milliseconds from the first timed dispatch: the GPU clock (timestamps), or the kernels laid end to
   * end in dispatch order (isolated). */
  startMs: number;
}

/** What a timing session measured: every dispatch, and the finest step the GPU's timestamps took (timestamps only). */
export interface TimedDispatches {
  timings: DispatchTiming[];
  /**
   * The greatest common divisor of every timestamp's distance from the first, in nanoseconds: the clock's effective
   * resolution (Dawn rounds timestamps to 65,536 ns unless its timestamp_quantization toggle is off). Undefined
   * where timestamps were not used or all were equal (a resolution coarser than everything timed).
   */
  resolutionNs?: number;
}

/** Greatest common divisor of two non-negative integers. */
const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));

/** The finest step between timestamps (ns): the GCD of their distances from the first; undefined if all are equal. */
export function clockStepNs(times: Iterable<bigint>): number | undefined {
  let origin: bigint | undefined;
  let step = 0n;
  for (const t of times) {
    origin ??= t;
    step = gcd(step, t > origin ? t - origin : origin - t);
  }
  return step > 0n ? Number(step) : undefined;
}

interface LoggedDispatch {
  index: number;
  kernel: string;
  pipeline: GPUComputePipeline;
  group: GPUBindGroup;
  offset: number | undefined;
  x: number;
  y: number;
}

interface Batch {
  /** The uniform arena's bytes as this batch submitted them. */
  uniforms: Uint8Array<ArrayBuffer>;
  dispatches: LoggedDispatch[];
}

/** Query pairs per resolve: past this many dispatches the runtime submits early. */
const QUERY_PAIRS = 2048;


export class DispatchTimer {
  private count = 0;
  private readonly workgroups: number[] = [];
  private readonly kernels: string[] = [];
  // timestamps
  private querySet: GPUQuerySet | undefined;
  private resolveBuffer: GPUBuffer | undefined;
  private pairsInBatch = 0;
  private firstInBatch = 0;
  private readonly reads: Promise<{ first: number; times: BigInt64Array }>[] = [];
  // isolated
  private pending: LoggedDispatch[] = [];
  private readonly batches: Batch[] = [];

  constructor(
    private readonly device: GPUDevice,
    readonly method: TimingMethod,
    private readonly arena: GPUBuffer,
  ) {
    if (method === 'timestamps') {
      this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * QUERY_PAIRS, label: 'profiler' });
      this.resolveBuffer = device.createBuffer({ size: 16 * QUERY_PAIRS, usage: 0x200 /* QUERY_RESOLVE */ | 0x4 /* COPY_SRC */, label: 'profiler resolve' });
    }
  }

  /** True when the query set is full: the runtime must submit before the next dispatch. */
  get full(): boolean {
    return this.pairsInBatch >= QUERY_PAIRS;
  }

  /** The pass descriptor for the next dispatch (timestamps: its own pass with a query pair). */
  passDescriptor(): GPUComputePassDescriptor | undefined {
    if (!this.querySet) return undefined;
    const pair = this.pairsInBatch;
    return { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * pair, endOfPassWriteIndex: 2 * pair + 1 } };
  }

  /** Notes one encoded dispatch; returns its index. */
  note(kernel: string, pipeline: GPUComputePipeline, group: GPUBindGroup, offset: number | undefined, x: number, y: number): number {
    const index = this.count++;
    this.kernels.push(kernel);
    this.workgroups.push(x * y);
    if (this.querySet) this.pairsInBatch++;
    else this.pending.push({ index, kernel, pipeline, group, offset, x, y });
    return index;
  }

  /** Before a submit: resolve this batch's queries (timestamps) or keep its uniforms (isolated). */
  beforeSubmit(encoder: GPUCommandEncoder, arenaBytes: Uint8Array<ArrayBuffer>): GPUBuffer | undefined {
    if (!this.querySet) {
      if (this.pending.length > 0) this.batches.push({ uniforms: arenaBytes.slice(), dispatches: this.pending });
      this.pending = [];
      return undefined;
    }
    if (this.pairsInBatch === 0) return undefined;
    const bytes = 16 * this.pairsInBatch;
    const staging = this.device.createBuffer({ size: bytes, usage: 0x1 /* MAP_READ */ | 0x8 /* COPY_DST */, label: 'profiler readback' });
    encoder.resolveQuerySet(this.querySet, 0, 2 * this.pairsInBatch, this.resolveBuffer!, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer!, 0, staging, 0, bytes);
    return staging;
  }

  /** After the submit: start reading the resolved queries back. */
  afterSubmit(staging: GPUBuffer | undefined): void {
    if (!staging) return;
    const first = this.firstInBatch;
    this.firstInBatch += this.pairsInBatch;
    this.pairsInBatch = 0;
    this.reads.push(
      staging.mapAsync(1 /* READ */).then(() => {
        const times = new BigInt64Array(staging.getMappedRange().slice(0));
        staging.unmap();
        staging.destroy();
        return { first, times };
      }),
    );
  }

  /** Every dispatch's time. Call once the timed work is submitted and done. */
  async finish(): Promise<TimedDispatches> {
    const ms = new Array<number>(this.count).fill(0);
    const start = new Array<number>(this.count).fill(0);
    const stamps: bigint[] = [];
    if (this.querySet) {
      let origin: bigint | undefined;
      for (const { first, times } of await platform.waitForGpu(Promise.all(this.reads))) {
        for (let k = 0; k < times.length / 2; k++) {
          const [begin, end] = [times[2 * k]!, times[2 * k + 1]!];
          origin ??= begin;
          ms[first + k] = Math.max(0, Number(end - begin) / 1e6);
          start[first + k] = Number(begin - origin) / 1e6;
          stamps.push(begin, end);
        }
      }
      this.querySet.destroy();
      this.resolveBuffer!.destroy();
    } else {
      await this.replay(ms, start);
    }
    const timings = ms.map((t, index) => ({ index, kernel: this.kernels[index]!, workgroups: this.workgroups[index]!, ms: t, startMs: start[index]! }));
    const resolutionNs = clockStepNs(stamps);
    return resolutionNs !== undefined ? { timings, resolutionNs } : { timings };
  }

  /** The cost of submitting an empty command buffer and waiting for it (median of a few). */
  private async emptySubmitMs(): Promise<number> {
    const samples: number[] = [];
    for (let i = 0; i < 15; i++) {
      const buffer = this.device.createCommandEncoder().finish();
      const t0 = performance.now();
      this.device.queue.submit([buffer]);
      await this.device.queue.onSubmittedWorkDone();
      samples.push(performance.now() - t0);
    }
    return median(samples);
  }

  private async replay(ms: number[], start: number[]): Promise<void> {
    const empty = await this.emptySubmitMs();
    let clock = 0;
    for (const batch of this.batches) {
      this.device.queue.writeBuffer(this.arena, 0, batch.uniforms);
      await this.device.queue.onSubmittedWorkDone();
      for (const d of batch.dispatches) {
        const encoder = this.device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        pass.setPipeline(d.pipeline);
        if (d.offset === undefined) pass.setBindGroup(0, d.group);
        else pass.setBindGroup(0, d.group, [d.offset]);
        pass.dispatchWorkgroups(d.x, d.y);
        pass.end();
        const buffer = encoder.finish();
        const t0 = performance.now();
        this.device.queue.submit([buffer]);
        await this.device.queue.onSubmittedWorkDone();
        ms[d.index] = Math.max(0, performance.now() - t0 - empty);
        start[d.index] = clock;
        clock += ms[d.index]!;
      }
    }
  }
}
