// A soak: thousands of planned training steps of a small model, stopped and resumed from its checkpoint every
// segment, held at each checkpoint to the same run with every step unplanned (bit for bit), with the GPU pool's
// allocations and the process's memory recorded at every step. `npm run bench -- soak` runs the long one;
// test/soak.test.ts a short one.
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSpeech } from '../src/data/synthetic-speech.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { modelConfig, type ModelConfig } from '../src/models/config.js';
import { engine } from '../src/tensor/engine.js';
import { prepareData, type PreparedData } from '../src/train/data.js';
import { train } from '../src/train/trainer.js';

export interface SoakOptions {
  /** Training steps in all; a multiple of `segments`. */
  steps: number;
  /** How many times the run is stopped at a checkpoint and resumed (the last segment ends the run). */
  segments: number;
  batchSize: number;
  /** Where the data set and the two run folders go (a temporary folder by default; removed after). */
  work?: string;
  onSegment?: (s: SoakSegment) => void;
}

export interface SoakSegment {
  /** Global step at the checkpoint that ends the segment. */
  step: number;
  /** Whether the planned run's checkpoint holds the unplanned run's weights and moments bit for bit. */
  identical: boolean;
  /** SHA-1 of the planned run's checkpointed tensors: it changes from segment to segment as the model learns. */
  digest: string;
  /** The pool's allocated bytes at the segment's last step, planned and unplanned. */
  poolBytes: { planned: number; unplanned: number };
  /** Resident memory of the process after the segment, MiB. */
  rssMiB: number;
  msPerStep: { planned: number; unplanned: number };
}

export interface SoakResult {
  segments: SoakSegment[];
  /** The planned run's pool bytes at every step, in order (every segment, resumes included). */
  poolBytesPerStep: number[];
  stepsPerEpoch: number;
}

const TINY = { mbconvBlocks: 0, width: 16, keyDim: 8, mlp: [32, 16], dropout: 0.1 };

/** A checkpoint's tensors (weights and AdamW moments) as raw bytes, to compare bit for bit. */
async function checkpointBytes(runDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const file of ['model.safetensors', 'optimizer.safetensors']) {
    const path = join(runDir, 'last', file);
    for (const [name, t] of decodeSafetensors(await readFile(path), path).tensors) out.set(`${file}:${name}`, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64'));
  }
  return out;
}

/** Trains `runDir` up to global step `until` (resuming it when it has a checkpoint); returns ms per step. */
async function trainUntil(config: ModelConfig, data: PreparedData, runDir: string, o: SoakOptions, until: number, planned: boolean, onPool: (bytes: number) => void): Promise<number> {
  const stepsPerEpoch = Math.ceil(data.train.labels.length / o.batchSize);
  const epochs = Math.ceil(o.steps / stepsPerEpoch);
  let step = 0;
  let steps = 0;
  const started = performance.now();
  await train(config, data, {
    runDir,
    epochs,
    batchSize: o.batchSize,
    schedule: { name: 'constant', batchSize: o.batchSize, epochs, lr: 1e-3 },
    weightDecay: 1e-4,
    seed: 0,
    saveEvery: 1_000_000,
    resume: 'if-any',
    planned,
    shouldStop: () => step >= until,
    onStep: (p) => {
      step = p.epoch * stepsPerEpoch + p.step;
      steps++;
      onPool(engine().runtime.pool.snapshot().bytesAllocated);
    },
  });
  return (performance.now() - started) / Math.max(1, steps);
}

export async function soak(o: SoakOptions): Promise<SoakResult> {
  const work = o.work ?? mkdtempSync(join(tmpdir(), 'tokenwave-soak-'));
  try {
    const dataDir = join(work, 'speech');
    await generateSpeech({ out: dataDir, perClass: 6, seed: 1 });
    const probe = modelConfig('TASR_1L_4T-2H', TINY);
    const data = await prepareData(dataDir, probe, { split: 'paper', cacheDir: join(work, 'cache') });
    const config = modelConfig('TASR_1L_4T-2H', { ...TINY, classes: data.dataset.classNames.length, classNames: data.dataset.classNames });
    const stepsPerEpoch = Math.ceil(data.train.labels.length / o.batchSize);
    const poolBytesPerStep: number[] = [];
    const segments: SoakSegment[] = [];
    let unplannedPool = 0;
    for (let k = 1; k <= o.segments; k++) {
      const until = (k * o.steps) / o.segments;
      const planned = await trainUntil(config, data, join(work, 'planned'), o, until, true, (b) => poolBytesPerStep.push(b));
      const unplanned = await trainUntil(config, data, join(work, 'unplanned'), o, until, false, (b) => (unplannedPool = b));
      const [a, b] = await Promise.all([checkpointBytes(join(work, 'planned')), checkpointBytes(join(work, 'unplanned'))]);
      const segment: SoakSegment = {
        step: until,
        identical: a.size === b.size && [...a].every(([name, bytes]) => b.get(name) === bytes),
        digest: createHash('sha1').update([...a].join()).digest('hex'),
        poolBytes: { planned: poolBytesPerStep.at(-1)!, unplanned: unplannedPool },
        rssMiB: process.memoryUsage().rss / 2 ** 20,
        msPerStep: { planned, unplanned },
      };
      segments.push(segment);
      o.onSegment?.(segment);
    }
    return { segments, poolBytesPerStep, stepsPerEpoch };
  } finally {
    if (!o.work) await rm(work, { recursive: true, force: true });
  }
}
