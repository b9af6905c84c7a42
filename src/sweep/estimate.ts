// `tokenwave sweep --dry-run`: each run's FLOPs (counted) and time (one training step measured on this adapter,
// times the steps the run will take), before anything is trained.
import { countForward, paperTotal, countUnder } from '../flops/accounting.js';
import { spectrogramShape } from '../audio/spectrogram.js';
import { AudioTransformer } from '../models/audio-transformer.js';
import { modelConfig } from '../models/config.js';
import { AdamW } from '../optim/adamw.js';
import { Tensor } from '../tensor/tensor.js';
import { splitData } from '../train/data.js';
import { trainingStep } from '../train/step.js';
import { seededRandom } from '../util/random.js';
import { groupKey, runId, type RunSpec } from './grid.js';

export interface RunEstimate {
  id: string;
  spec: RunSpec;
  trainClips: number;
  steps: number;
  paperFlops: number;
  exactFlops: number;
  msPerStep: number;
  minutes: number;
}

/** Times a training step of `model` at `batch` on random spectrograms, after one warm-up step. */
async function measureStep(model: AudioTransformer, batch: number): Promise<number> {
  const optimizer = new AdamW(model.parameters(), { lr: 1e-5 });
  const [frames, bins] = spectrogramShape(model.config.clipSamples, model.config.spectrogram);
  const random = seededRandom(1);
  const x = Tensor.from(Float32Array.from({ length: batch * frames * bins }, () => 2 * random()), [batch, frames, bins]).keep();
  const y = Tensor.from(Int32Array.from({ length: batch }, (_, i) => i % model.config.classes), [batch], 'i32').keep();
  try {
    const step = async () => {
      const loss = trainingStep(model, optimizer, x, y);
      await loss.data();
      loss.dispose();
    };
    await step();
    const start = performance.now();
    await step();
    return performance.now() - start;
  } finally {
    x.dispose();
    y.dispose();
    optimizer.dispose();
  }
}

/** Estimates each run in order, measuring each model once; `onEstimate` hears each as it is ready. */
export async function estimateRuns(runs: readonly RunSpec[], onEstimate: (e: RunEstimate) => void = () => {}): Promise<RunEstimate[]> {
  const measured = new Map<string, { paperFlops: number; exactFlops: number; msPerStep: number; trainClips: number; batch: number }>();
  const out: RunEstimate[] = [];
  for (const spec of runs) {
    const key = groupKey(spec);
    let m = measured.get(key);
    if (!m) {
      const { dataset, parts } = await splitData(spec.data, { split: spec.split ?? 'paper', limitPerClass: spec.limitPerClass, condensed: spec.condensed, esc10: spec.esc10 });
      const config = modelConfig(spec.model, { ...spec.modelOptions, classes: dataset.classNames.length });
      const batch = spec.batchSize ?? (config.family === 'TASR' ? 64 : 32);
      const model = new AudioTransformer(config);
      try {
        const forward = await countForward(model, 1);
        m = { paperFlops: paperTotal(forward.tfOps), exactFlops: countUnder('exact', forward.records), msPerStep: await measureStep(model, batch), trainClips: parts.train.length, batch };
      } finally {
        model.dispose();
      }
      measured.set(key, m);
    }
    const steps = Math.ceil(m.trainClips / m.batch) * spec.epochs;
    const estimate = { id: runId(spec), spec, trainClips: m.trainClips, steps, paperFlops: m.paperFlops, exactFlops: m.exactFlops, msPerStep: m.msPerStep, minutes: (steps * m.msPerStep) / 60_000 };
    onEstimate(estimate);
    out.push(estimate);
  }
  return out;
}
