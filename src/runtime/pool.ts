// A buffer pool keyed by size class and usage, so a training loop that repeats the same work allocates nothing
// after its first step. Counters say how many bytes are allocated from the device and how many are handed out.
import { TokenwaveError } from '../util/errors.js';

export interface PoolStats {
  bytesAllocated: number;
  bytesInUse: number;
  buffersAllocated: number;
  acquires: number;
  reuses: number;
}

/**
 * A buffer larger than the adapter allows (a storage binding, or any buffer), or more memory than the GPU (or the
 * budget TOKENWAVE_GPU_MEMORY_MIB) gives: the work must be split or made smaller.
 */
export class GpuMemoryError extends TokenwaveError {
  override name = 'GpuMemoryError';
  /**
   * What the work needs, against what it may have, to follow "a training step needs ...": 'a buffer of 1,024 MiB,
   * more than this adapter allows (...: 128 MiB)', or 'more GPU memory than ... (...)'.
   */
  readonly need: string;
  constructor(label: string, need: string) {
    super(`allocating a ${label} buffer: ${need}`);
    this.need = need;
  }
}

export const formatBytes = (bytes: number) =>
  bytes < 2 ** 20 ? `${Math.ceil(bytes / 1024).toLocaleString('en-US')} KiB` : `${(bytes / 2 ** 20).toLocaleString('en-US', { maximumFractionDigits: 1 })} MiB`;

export interface PoolOptions {
  /** The most bytes the pool may hold allocated; undefined: what the GPU gives. */
  budgetBytes?: number;
  /** Frees what can be freed (submit pending work, then trim) before the budget refuses a buffer. */
  makeRoom?: () => void;
  /** Hears an allocation the GPU could not make (its out-of-memory error scope answers later). */
  onOutOfMemory?: (err: GpuMemoryError) => void;
}

const STORAGE = 0x80;

/** Rounds a request up to a size class: 256-byte steps below 1 MiB, 64 KiB steps above. */
function sizeClass(bytes: number): number {
  const step = bytes <= 1 << 20 ? 256 : 1 << 16;
  return Math.max(step, Math.ceil(bytes / step) * step);
}

export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly inUse = new Set<GPUBuffer>();
  private readonly stats: PoolStats = {
    bytesAllocated: 0,
    bytesInUse: 0,
    buffersAllocated: 0,
    acquires: 0,
    reuses: 0,
  };

  constructor(
    private readonly device: GPUDevice,
    private readonly options: PoolOptions = {},
  ) {}

  /** A buffer of at least `bytes`; `fresh`: a new one, which no work encoded so far can write (a constant's). */
  acquire(bytes: number, usage: GPUBufferUsageFlags, label = 'tokenwave', fresh = false): GPUBuffer {
    const size = sizeClass(bytes);
    const key = `${usage}:${size}`;
    this.stats.acquires++;
    let buffer = fresh ? undefined : this.free.get(key)?.pop();
    if (buffer) {
      this.stats.reuses++;
    } else {
      const limits = this.device.limits;
      const overLimit = (limit: number, name: string) => new GpuMemoryError(label, `a buffer of ${formatBytes(size)}, more than this adapter allows (${name}: ${formatBytes(limit)})`);
      if (size > limits.maxBufferSize) throw overLimit(limits.maxBufferSize, 'maxBufferSize');
      if (usage & STORAGE && size > limits.maxStorageBufferBindingSize) throw overLimit(limits.maxStorageBufferBindingSize, 'maxStorageBufferBindingSize');
      this.checkBudget(size, label);
      buffer = this.allocate(size, usage, label);
      this.stats.bytesAllocated += size;
      this.stats.buffersAllocated++;
    }
    this.inUse.add(buffer);
    this.stats.bytesInUse += size;
    return buffer;
  }

  private asked(size: number): string {
    return `${formatBytes(this.stats.bytesAllocated)} were allocated when ${formatBytes(size)} more were asked for`;
  }

  private checkBudget(size: number, label: string): void {
    const budget = this.options.budgetBytes;
    if (budget === undefined || this.stats.bytesAllocated + size <= budget) return;
    this.options.makeRoom?.();
    if (this.stats.bytesAllocated + size <= budget) return;
    throw new GpuMemoryError(label, `more GPU memory than tokenwave may use (TOKENWAVE_GPU_MEMORY_MIB: ${formatBytes(budget)}; ${this.asked(size)})`);
  }

  /** Creates a buffer; the GPU says only later (its out-of-memory error scope) when it had no memory for it. */
  private allocate(size: number, usage: GPUBufferUsageFlags, label: string): GPUBuffer {
    this.device.pushErrorScope('out-of-memory');
    const buffer = this.device.createBuffer({ size, usage, label });
    const asked = this.asked(size);
    void this.device.popErrorScope().then((error) => {
      if (error) this.options.onOutOfMemory?.(new GpuMemoryError(label, `more GPU memory than the GPU had free (${asked}: ${error.message})`));
    });
    return buffer;
  }

  /** Returns a buffer for reuse. Safe while earlier encoded work still reads it: the queue keeps order. */
  release(buffer: GPUBuffer): void {
    if (!this.inUse.delete(buffer)) throw new Error(`buffer '${buffer.label}' released twice or not from this pool`);
    this.stats.bytesInUse -= buffer.size;
    const key = `${buffer.usage}:${buffer.size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(buffer);
  }

  /**
   * Takes a buffer that was released back out of the free lists, for an owner that will use it again (a recorded
   * step); false when it is not free (a live tensor holds it). The owner hands it back with release().
   */
  claim(buffer: GPUBuffer): boolean {
    const list = this.free.get(`${buffer.usage}:${buffer.size}`);
    const at = list ? list.indexOf(buffer) : -1;
    if (at < 0) return false;
    list!.splice(at, 1);
    this.inUse.add(buffer);
    this.stats.bytesInUse += buffer.size;
    return true;
  }

  /** Destroys every buffer not in use (call after a flush). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const buffer of list) {
        this.stats.bytesAllocated -= buffer.size;
        this.stats.buffersAllocated--;
        buffer.destroy();
      }
    }
    this.free.clear();
  }

  /** The most bytes the pool may hold allocated (TOKENWAVE_GPU_MEMORY_MIB), if limited. */
  get budgetBytes(): number | undefined {
    return this.options.budgetBytes;
  }

  snapshot(): PoolStats {
    return { ...this.stats };
  }
}
