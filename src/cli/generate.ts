// `tokenwave generate speech|sounds --out DIR`: a synthetic data set in a real layout.
import { Command } from 'commander';
import { generateSounds } from '../data/synthetic-sounds.js';
import { generateSpeech } from '../data/synthetic-speech.js';
import { integerOption, UsageError } from './options.js';
import { progressBar } from './progress.js';

async function generate(kind: string, o: { out: string; perClass?: string; seed: string }): Promise<void> {
  if (kind !== 'speech' && kind !== 'sounds') throw new UsageError(`unknown data set kind '${kind}': valid kinds are 'speech' and 'sounds'`);
  const perClass = integerOption('per-class', o.perClass ?? (kind === 'speech' ? '100' : '40'), 1, 10_000)!;
  const seed = integerOption('seed', o.seed, 0)!;
  const bar = progressBar('generate');
  const start = performance.now();
  const onProgress = (d: number, t: number) => bar.update(d, t);
  const result = kind === 'speech' ? await generateSpeech({ out: o.out, perClass, seed, onProgress }) : await generateSounds({ out: o.out, perClass, seed, onProgress });
  bar.stop();
  console.log(
    `${o.out}: ${result.written} clips written, ${result.kept} already there (${kind === 'speech' ? '8 words' : '50 classes'} x ${perClass}, seed ${seed}) in ${((performance.now() - start) / 1000).toFixed(1)} s`,
  );
}

export const generateCommand = new Command('generate')
  .description("generate a synthetic data set: 'speech' (the 8 mini_speech_commands words, eSpeak NG voices) or 'sounds' (ESC-50 layout)")
  .argument('<kind>', "'speech' or 'sounds'")
  .requiredOption('--out <dir>', 'where to write the data set')
  .option('--per-class <n>', 'clips per class (default: 100 words, 40 sounds)')
  .option('--seed <n>', 'random seed (same seed and version: identical files)', '0')
  .action(generate);
