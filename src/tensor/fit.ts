// Work over many items (clips to transform, clips to classify) in batches the GPU has room for: a batch that meets
// a GpuMemoryError (a buffer over the adapter's limits, over TOKENWAVE_GPU_MEMORY_MIB, or more than the GPU had
// free) is halved, and the rest goes at the smaller size.
import { GpuMemoryError } from '../runtime/pool.js';

/**
 * Runs `work(first, size)` over items [0, count) in batches of at most `batch`, halving the batch (down to 1)
 * whenever one does not fit. `work` must leave nothing behind when it throws (tidy() frees its tensors).
 */
export async function inBatchesThatFit(count: number, batch: number, work: (first: number, size: number) => Promise<void>): Promise<void> {
  let size = batch;
  for (let first = 0; first < count; ) {
    const n = Math.min(size, count - first);
    try {
      await work(first, n);
    } catch (err) {
      if (!(err instanceof GpuMemoryError) || n === 1) throw err;
      size = Math.ceil(n / 2);
      continue;
    }
    first += n;
  }
}
