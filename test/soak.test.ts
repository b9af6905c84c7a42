// A short soak (bench/soak.ts; `npm run bench -- soak` runs thousands of steps): planned training steps of a small
// model, stopped and resumed from the checkpoint every 50 steps, equal bit for bit at every checkpoint to the same
// run with every step unplanned, and the GPU pool flat from the second epoch on, across the resumes.
import { describe, expect, it } from 'vitest';
import { soak } from '../bench/soak.js';
import { useEngine } from './helpers/gpu.js';

describe('soak', () => {
  useEngine();

  it('300 planned steps resumed 5 times: every checkpoint equals the unplanned run bit for bit; pool memory flat', async () => {
    const { segments, poolBytesPerStep, stepsPerEpoch } = await soak({ steps: 300, segments: 6, batchSize: 8 });
    expect(segments.map((s) => s.step)).toEqual([50, 100, 150, 200, 250, 300]);
    for (const s of segments) expect(s.identical, `checkpoint at step ${s.step}`).toBe(true);
    // the comparison has something to compare: the weights move from checkpoint to checkpoint
    expect(new Set(segments.map((s) => s.digest)).size).toBe(segments.length);
    expect(poolBytesPerStep).toHaveLength(300);
    const settled = poolBytesPerStep.slice(2 * stepsPerEpoch);
    expect(Math.max(...settled)).toBe(Math.min(...settled));
    expect(segments.every((s) => s.poolBytes.planned === segments[0]!.poolBytes.planned)).toBe(true);
  }, 300_000);
});
