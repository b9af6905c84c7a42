// `tokenwave predict --checkpoint DIR FILE.wav...`: the top classes of each file.
import { Command } from 'commander';
import { prepareClip } from '../audio/clips.js';
import { readWav } from '../audio/wav.js';
import { loadModel } from '../models/checkpoint.js';
import { predictClips } from '../models/predict.js';
import { init, shutdown } from '../tensor/engine.js';
import { backendOption, integerOption } from './options.js';

async function predict(files: string[], o: { checkpoint: string; top: string; json?: boolean; backend?: string }): Promise<void> {
  const top = integerOption('top', o.top)!;
  await init({ backend: o.backend });
  try {
    const model = await loadModel(o.checkpoint);
    const { spectrogram, clipSamples } = model.config;
    const clips = [];
    for (const file of files) clips.push(prepareClip(await readWav(file), spectrogram.sampleRate, clipSamples));
    const predictions = await predictClips(model, clips, top);
    if (o.json) {
      console.log(JSON.stringify(files.map((file, i) => ({ file, top: predictions[i]!.top })), null, 2));
    } else {
      files.forEach((file, i) => {
        console.log(`${file}: ${predictions[i]!.top.map((t) => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join(', ')}`);
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
  .addOption(backendOption())
  .action(predict);
