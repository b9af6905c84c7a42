// Inference: clips -> spectrograms -> model -> class probabilities, in batches.
import { spectrogram } from '../audio/spectrogram.js';
import { softmax } from '../ops/softmax.js';
import { noGrad, tidy } from '../tensor/engine.js';
import { StepPlans } from '../tensor/plan.js';
import { Tensor } from '../tensor/tensor.js';
import type { AudioModel } from './model.js';

export interface Prediction {
  probabilities: Float32Array;
  top: { index: number; label: string; probability: number }[];
}

function classLabel(model: AudioModel, index: number): string {
  return model.config.classNames[index] ?? `class ${index}`;
}

/**
 * Clips -> class probabilities (spectrogram, model, softmax), planned per batch size (tensor/plan.ts): the first
 * batch of a size records the pass, later ones replay it, bit for bit the same and with a fraction of the
 * JavaScript. A plan keeps its working set (the pass's intermediates at that batch size) until dispose(), which
 * must come before the model's.
 */
export class ClipClassifier {
  private readonly plans: StepPlans;

  constructor(
    readonly model: AudioModel,
    private readonly options: { planned?: boolean } = {},
  ) {
    this.plans = new StepPlans(([audio]) => [this.pass(audio!)]);
  }

  private pass(audio: Tensor): Tensor {
    return noGrad(() => tidy(() => softmax(this.model.forward(spectrogram(audio, this.model.config.spectrogram), { training: false }))));
  }

  /** Probabilities [clips, classes] of `audio` [clips, samples] at the model's rate and length; the caller's to dispose. */
  probabilities(audio: Tensor): Tensor {
    return this.options.planned === false ? this.pass(audio) : this.plans.run([audio])[0]!;
  }

  /** Why passes over batches like `audio` run unplanned, if they do. */
  unplanned(audio: Tensor): string | undefined {
    return this.options.planned === false ? 'asked for' : this.plans.unplanned([audio]);
  }

  /** The top classes of each clip (already at the model's rate and length), `batchSize` clips a pass. */
  async classify(clips: readonly Float32Array[], topK = 3, batchSize = 32): Promise<Prediction[]> {
    const out: Prediction[] = [];
    const length = this.model.config.clipSamples;
    const classes = this.model.config.classes;
    for (let start = 0; start < clips.length; start += batchSize) {
      const batch = clips.slice(start, start + batchSize);
      const data = new Float32Array(batch.length * length);
      batch.forEach((clip, i) => data.set(clip, i * length));
      const probs = tidy(() => this.probabilities(Tensor.from(data, [batch.length, length])));
      const values = await probs.data();
      probs.dispose();
      for (let i = 0; i < batch.length; i++) {
        const p = values.slice(i * classes, (i + 1) * classes);
        out.push({ probabilities: p, top: topClasses(this.model, p, topK) });
      }
    }
    return out;
  }

  dispose(): void {
    this.plans.dispose();
  }
}

/** The `topK` most probable classes of one clip's `probabilities`, most probable first. */
export function topClasses(model: AudioModel, probabilities: Float32Array, topK: number): Prediction['top'] {
  const order = [...probabilities.keys()].sort((a, b) => probabilities[b]! - probabilities[a]!).slice(0, topK);
  return order.map((index) => ({ index, label: classLabel(model, index), probability: probabilities[index]! }));
}

/** Top classes as people read them: 'yes 92.1%, no 4.0%'. */
export function describeTop(top: readonly { label: string; probability: number }[]): string {
  return top.map((t) => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join(', ');
}

/** Class probabilities for clips already at the model's rate and length. */
export async function predictClips(model: AudioModel, clips: readonly Float32Array[], topK = 3, batchSize = 32): Promise<Prediction[]> {
  const classifier = new ClipClassifier(model);
  try {
    return await classifier.classify(clips, topK, batchSize);
  } finally {
    classifier.dispose();
  }
}
