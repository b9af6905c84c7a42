// `tokenwave explain --checkpoint DIR FILE.wav... [--png OUT.png] [--json]`: what each learned token looks at on a
// clip: the spectrogram with each token's weights carried onto it, and the top classes.
import { basename, join } from 'node:path';
import { Command } from 'commander';
import { prepareClip } from '../audio/clips.js';
import { readWav } from '../audio/wav.js';
import { loadModel } from '../models/checkpoint.js';
import { explainClip, explanationSvg } from '../models/explain.js';
import { init, shutdown } from '../tensor/engine.js';
import { makeFolder, writeFileAtomic } from '../util/files.js';
import { svgToPng } from '../viz/render.js';
import { backendOption, integerOption, UsageError } from './options.js';

interface ExplainOptions {
  checkpoint: string;
  png?: string;
  svg?: string;
  outDir?: string;
  top: string;
  json?: boolean;
  backend?: string;
}

/** Where a file's picture goes: --png for one file, else FILE.tokens.png beside it or in --out-dir. */
function picturePath(file: string, o: ExplainOptions): string {
  if (o.png) return o.png;
  const name = basename(file).replace(/\.wav$/i, '') + '.tokens.png';
  return o.outDir ? join(o.outDir, name) : file.replace(/\.wav$/i, '') + '.tokens.png';
}

async function explain(files: string[], o: ExplainOptions): Promise<void> {
  if (files.length > 1 && (o.png || o.svg)) throw new UsageError('--png and --svg name one picture: give one file, or use --out-dir for several');
  const top = integerOption('top', o.top, 1)!;
  if (o.outDir) await makeFolder(o.outDir);
  await init({ backend: o.backend });
  try {
    const model = await loadModel(o.checkpoint);
    const results = [];
    for (const file of files) {
      const clip = prepareClip(await readWav(file), model.config.spectrogram.sampleRate, model.config.clipSamples);
      const e = await explainClip(model, clip, top);
      if (o.json) {
        results.push({
          file,
          model: e.model,
          top: e.top,
          learners: e.learners.map((l) => ({ beforeBlock: l.beforeBlock, layout: l.layout, weights: l.weights.map((w) => [...w].map((v) => +v.toPrecision(6))) })),
        });
      }
      if (!o.json || o.png || o.svg || o.outDir) {
        const svg = explanationSvg(e, basename(file));
        const written: string[] = [];
        if (o.svg) {
          await writeFileAtomic(o.svg, svg);
          written.push(o.svg);
        }
        if (o.png || !o.svg) {
          const png = picturePath(file, o);
          await writeFileAtomic(png, svgToPng(svg));
          written.push(png);
        }
        if (!o.json) {
          const tokens = e.learners.reduce((s, l) => s + l.weights.length, 0);
          console.log(`${file}: ${e.top.map((t) => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join(', ')}; ${tokens} tokens drawn in ${written.join(' and ')}`);
        }
      }
    }
    if (o.json) console.log(JSON.stringify(results, null, 2));
    model.dispose();
  } finally {
    shutdown();
  }
}

export const explainCommand = new Command('explain')
  .description("draw what a TokenLearner model's learned tokens look at on WAV files: each token's weights over the clip's spectrogram (time and frequency axes), with the top classes")
  .argument('<files...>', 'WAV files')
  .requiredOption('--checkpoint <dir>', 'a checkpoint folder of a model with TokenLearner (a kT name)')
  .option('--png <path>', 'where to write the picture (one file; default: FILE.tokens.png)')
  .option('--svg <path>', 'also (or only) write it as SVG (one file)')
  .option('--out-dir <dir>', 'write each FILE.tokens.png into this folder')
  .option('--top <k>', 'how many classes to name', '3')
  .option('--json', "print each clip's top classes and every token's weights over its positions as JSON")
  .addOption(backendOption())
  .action(explain);
