// `tokenwave predict --checkpoint DIR FILE.wav...`: the top classes of each file.
import { Command } from 'commander';
import { prepareClip } from '../audio/clips.js';
import { readWav } from '../audio/wav-files.js';
import { loadModel } from '../models/checkpoint-folder.js';
import type { AudioModel } from '../models/model.js';
import { ClipClassifier, describeTop, predictClips } from '../models/predict.js';
import { engine, init, shutdown, tidy } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { msAfterWarmUp, quantile } from '../util/timing.js';
import { backendOption, integerOption } from './options.js';
import { tuneSteps } from './tune.js';

interface PredictOptions {
  checkpoint: string;
  top: string;
  json?: boolean;
  latency?: string;
  backend?: string;
}

const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)} ms`;

/**
 * One clip at a time, end to end (its samples uploaded, spectrogram, model, softmax, the probabilities read
 * back), `calls` times after a warm-up, planned and unplanned: the latency a keyword spotter answers with.
 */
async function latency(model: AudioModel, clip: Float32Array, file: string, calls: number): Promise<void> {
  console.log(`latency of one clip (${file}): its samples in, probabilities out (spectrogram, ${model.config.name}, softmax); ${calls} calls after a warm-up`);
  for (const planned of [true, false]) {
    const classifier = new ClipClassifier(model, { planned });
    try {
      const call = async () => {
        const probabilities = tidy(() => classifier.probabilities(Tensor.from(clip, [1, clip.length])));
        await probabilities.data();
        probabilities.dispose();
      };
      const times = await msAfterWarmUp(call, calls);
      const before = engine().runtime.stats.dispatches;
      await call();
      const dispatches = engine().runtime.stats.dispatches - before;
      const shape = Tensor.zeros([1, clip.length]);
      const why = classifier.unplanned(shape);
      shape.dispose();
      console.log(
        `  ${(planned ? 'planned' : 'unplanned').padEnd(9)} median ${ms(quantile(times, 0.5))}, p99 ${ms(quantile(times, 0.99))}, fastest ${ms(times[0]!)} ` +
          `(${dispatches} dispatches a call${planned && why ? `; unplanned after all: ${why}` : ''})`,
      );
    } finally {
      classifier.dispose();
    }
  }
}

async function predict(files: string[], o: PredictOptions): Promise<void> {
  const top = integerOption('top', o.top)!;
  const calls = integerOption('latency', o.latency, 1, 1_000_000);
  await init({ backend: o.backend });
  try {
    const model = await loadModel(o.checkpoint);
    await tuneSteps(model.config, [{ batch: 1, kind: 'inference' }]);
    const { spectrogram, clipSamples } = model.config;
    const clips = [];
    for (const file of files) clips.push(prepareClip(await readWav(file), spectrogram.sampleRate, clipSamples));
    if (calls !== undefined) {
      await latency(model, clips[0]!, files[0]!, calls);
      model.dispose();
      return;
    }
    const predictions = await predictClips(model, clips, top);
    if (o.json) {
      console.log(JSON.stringify(files.map((file, i) => ({ file, top: predictions[i]!.top })), null, 2));
    } else {
      files.forEach((file, i) => {
        console.log(`${file}: ${describeTop(predictions[i]!.top)}`);
      });
    }
    model.dispose();
  } finally {
    shutdown();
  }
}

export const predictCommand = new Command('predict')
  .description('classify WAV files with a trained checkpoint: the top classes with probabilities')
  .argument('<files...>', 'WAV files')
  .requiredOption('--checkpoint <dir>', 'a checkpoint folder (config.json + model.safetensors)')
  .option('--top <k>', 'how many classes to show', '3')
  .option('--json', 'print JSON')
  .option('--latency <calls>', 'instead: time the first file end to end (samples in, probabilities out), one clip a call, planned and unplanned; median and p99')
  .addOption(backendOption())
  .action(predict);
