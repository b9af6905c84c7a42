// Inference: clips -> spectrograms -> model -> class probabilities, in batches.
import { spectrogram } from '../audio/spectrogram.js';
import { softmax } from '../ops/softmax.js';
import { noGrad, tidy } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import type { AudioTransformer } from './audio-transformer.js';

export interface Prediction {
  probabilities: Float32Array;
  top: { index: number; label: string; probability: number }[];
}

function classLabel(model: AudioTransformer, index: number): string {
  return model.config.classNames[index] ?? `class ${index}`;
}

/** Class probabilities for clips already at the model's rate and length. */
export async function predictClips(model: AudioTransformer, clips: readonly Float32Array[], topK = 3, batchSize = 32): Promise<Prediction[]> {
  const out: Prediction[] = [];
  const length = model.config.clipSamples;
  const classes = model.config.classes;
  for (let start = 0; start < clips.length; start += batchSize) {
    const batch = clips.slice(start, start + batchSize);
    const data = new Float32Array(batch.length * length);
    batch.forEach((clip, i) => data.set(clip, i * length));
    const probs = noGrad(() =>
      tidy(() => softmax(model.forward(spectrogram(Tensor.from(data, [batch.length, length]), model.config.spectrogram), { training: false }))),
    );
    const values = await probs.data();
    probs.dispose();
    for (let i = 0; i < batch.length; i++) {
      const p = values.slice(i * classes, (i + 1) * classes);
      const order = [...p.keys()].sort((a, b) => p[b]! - p[a]!).slice(0, Math.min(topK, classes));
      out.push({ probabilities: p, top: order.map((index) => ({ index, label: classLabel(model, index), probability: p[index]! })) });
    }
  }
  return out;
}
