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

/** A buffer larger than the adapter allows (a storage binding, or any buffer): the work must be split or made smaller. */
export class GpuMemoryError extends TokenwaveError {
  override name = 'GpuMemoryError';
  /** The size against the limit, in words: '1,024 MiB, more than this adapter allows (...: 128 MiB)'. */
  readonly excess: string;
  constructor(bytes: number, limit: number, limitName: string, what: string) {
    const excess = `${mebibytes(bytes)}, more than this adapter allows (${limitName}: ${mebibytes(limit)})`;
    super(`a ${what} of ${excess}`);
    this.excess = excess;
  }
}

const mebibytes = (bytes: number) => `${(bytes / 2 ** 20).toLocaleString('en-US', { maximumFractionDigits: 1 })} MiB`;

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

  constructor(private readonly device: GPUDevice) {}

  acquire(bytes: number, usage: GPUBufferUsageFlags, label = 'tokenwave'): GPUBuffer {
    const size = sizeClass(bytes);
    const key = `${usage}:${size}`;
    this.stats.acquires++;
    let buffer = this.free.get(key)?.pop();
    if (buffer) {
      this.stats.reuses++;
    } else {
      const limits = this.device.limits;
      if (size > limits.maxBufferSize) throw new GpuMemoryError(size, limits.maxBufferSize, 'maxBufferSize', `${label} buffer`);
      if (usage & STORAGE && size > limits.maxStorageBufferBindingSize) {
        throw new GpuMemoryError(size, limits.maxStorageBufferBindingSize, 'maxStorageBufferBindingSize', `${label} buffer`);
      }
      buffer = this.device.createBuffer({ size, usage, label });
      this.stats.bytesAllocated += size;
      this.stats.buffersAllocated++;
    }
    this.inUse.add(buffer);
    this.stats.bytesInUse += size;
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

  snapshot(): PoolStats {
    return { ...this.stats };
  }
}
