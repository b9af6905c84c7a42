// `tokenwave explain --checkpoint DIR FILE.wav... [--png OUT.png | --out-dir DIR | --grid OUT.png] [--json]`: what
// each learned token looks at on a clip: the spectrogram with each token's weights carried onto it, and the top
// classes; with --grid, several clips side by side (a row each).
import { basename, join } from 'node:path';
import { Command } from 'commander';
import { prepareClip } from '../audio/clips.js';
import { readWav } from '../audio/wav-files.js';
import { loadModel } from '../models/checkpoint-folder.js';
import { explainClip, explanationSvg, type Explanation } from '../models/explain.js';
import { describeTop } from '../models/predict.js';
import { init, shutdown } from '../tensor/engine.js';
import { makeFolder, writeFileAtomic } from '../util/files.js';
import { svgToPng } from '../viz/render.js';
import { backendOption, integerOption, UsageError } from './options.js';

interface ExplainOptions {
  checkpoint: string;
  png?: string;
  svg?: string;
  outDir?: string;
  grid?: string;
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
  if (files.length > 1 && (o.png || o.svg)) throw new UsageError('--png and --svg name one picture of one file: give one file, or use --out-dir (a picture each) or --grid (one picture, a row each) for several');
  const top = integerOption('top', o.top, 1)!;
  if (o.outDir) await makeFolder(o.outDir);
  await init({ backend: o.backend });
  try {
    const model = await loadModel(o.checkpoint);
    const clips: { file: string; explanation: Explanation }[] = [];
    for (const file of files) {
      const clip = prepareClip(await readWav(file), model.config.spectrogram.sampleRate, model.config.clipSamples);
      clips.push({ file, explanation: await explainClip(model, clip, top) });
    }
    model.dispose();
    const drawEach = !o.grid && (!o.json || o.png || o.svg || o.outDir);
    for (const { file, explanation: e } of clips) {
      const written = drawEach ? await drawn([{ explanation: e, name: basename(file) }], o.png || !o.svg ? picturePath(file, o) : undefined, o.svg) : [];
      if (!o.json) {
        const tokens = e.learners.reduce((s, l) => s + l.weights.length, 0);
        console.log(`${file}: ${describeTop(e.top)}; ${tokens} tokens${written.length ? ` drawn in ${written.join(' and ')}` : ''}`);
      }
    }
    if (o.grid) {
      await drawn(clips.map((c) => ({ explanation: c.explanation, name: basename(c.file) })), o.grid, undefined);
      if (!o.json) console.log(`${clips.length} clips, a row each, drawn in ${o.grid}`);
    }
    if (o.json) {
      const json = clips.map(({ file, explanation: e }) => ({
        file,
        model: e.model,
        top: e.top.map(({ label, probability }) => ({ label, probability })),
        learners: e.learners.map((l) => ({ beforeBlock: l.beforeBlock, layout: l.layout, weights: l.weights.map((w) => [...w].map((v) => +v.toPrecision(6))) })),
      }));
      console.log(JSON.stringify(json, null, 2));
    }
  } finally {
    shutdown();
  }
}

/** Writes the picture of `clips` as PNG and/or SVG; returns the paths written. */
async function drawn(clips: { explanation: Explanation; name: string }[], png: string | undefined, svgPath: string | undefined): Promise<string[]> {
  const svg = explanationSvg(clips);
  if (svgPath) await writeFileAtomic(svgPath, svg);
  if (png) await writeFileAtomic(png, svgToPng(svg));
  return [png, svgPath].filter((p): p is string => p !== undefined);
}

export const explainCommand = new Command('explain')
  .description("draw what a TokenLearner model's learned tokens look at on WAV files: each token's weights over the clip's spectrogram (time and frequency axes), with the top classes")
  .argument('<files...>', 'WAV files')
  .requiredOption('--checkpoint <dir>', 'a checkpoint folder of a model with TokenLearner (a kT name)')
  .option('--png <path>', 'where to write the picture (one file; default: FILE.tokens.png)')
  .option('--svg <path>', 'also (or only) write it as SVG (one file)')
  .option('--out-dir <dir>', 'write each FILE.tokens.png into this folder')
  .option('--grid <path>', 'instead: one PNG of all the files, a row each (the spectrogram, then every token): e.g. one clip per class')
  .option('--top <k>', 'how many classes to name', '3')
  .option('--json', "print each clip's top classes and every token's weights over its positions as JSON")
  .addOption(backendOption())
  .action(explain);
