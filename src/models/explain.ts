// What the learned tokens look at: one clip through a model with TokenLearner, each token's weights carried back
// onto the clip's spectrogram cells (TASR/TESC: the patch a grid position covers in the resized image; KWT: the
// frame), the top classes, and a picture of it all with time and frequency axes.
import { colouring, DYNAMIC_RANGE_DB, spectrogramAxes } from '../audio/picture.js';
import { spectrogram, type SpectrogramConfig } from '../audio/spectrogram.js';
import { softmax } from '../ops/softmax.js';
import { noGrad, tidy } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { heatmapParts, type Heatmap } from '../viz/heatmap.js';
import { escapeXml, svgDocument } from '../viz/scatter.js';
import { ModelConfigError } from './config.js';
import type { AudioModel, TokenMaps } from './model.js';
import { describeTop, topClasses, type Prediction } from './predict.js';

export interface TokenLearnerView {
  beforeBlock: number;
  layout: TokenMaps['layout'];
  /** Per token, its weight on each position (as the TokenLearner applies it). */
  weights: Float32Array[];
  /** Per token, that weight on each drawn cell [frames * bins] (frame-major). */
  cells: Float32Array[];
}

export interface Explanation {
  model: string;
  top: Prediction['top'];
  /** The spectrogram drawn: the model's own input, or log-mel with the same framing where the input is MFCCs. */
  picture: { values: Float32Array; frames: number; bins: number; config: SpectrogramConfig };
  learners: TokenLearnerView[];
}

/** The drawn spectrogram's settings: the model's, MFCCs shown as the log-mel spectrogram they come from. */
function pictureConfig(c: SpectrogramConfig): SpectrogramConfig {
  return c.output === 'mfcc' ? { ...c, output: 'logmel' } : c;
}

/** A position's weight on each cell of a frames x bins spectrogram. */
export function cellWeights(layout: TokenMaps['layout'], weights: Float32Array, frames: number, bins: number): Float32Array {
  const cells = new Float32Array(frames * bins);
  if (layout.kind === 'time') {
    for (let f = 0; f < frames; f++) cells.fill(weights[f]!, f * bins, (f + 1) * bins);
    return cells;
  }
  // The resize maps frame f to image row floor((f + 1/2) S / frames) (half-pixel centres), bin b to a column alike;
  // rows and columns past the grid's last patch are covered by no position.
  const { rows, columns, patch, imageSize } = layout;
  const cellOf = (index: number, count: number, positions: number) => {
    const p = Math.floor(Math.floor(((index + 0.5) * imageSize) / count) / patch);
    return p < positions ? p : -1;
  };
  for (let f = 0; f < frames; f++) {
    const r = cellOf(f, frames, rows);
    if (r < 0) continue;
    for (let b = 0; b < bins; b++) {
      const c = cellOf(b, bins, columns);
      if (c >= 0) cells[f * bins + b] = weights[r * columns + c]!;
    }
  }
  return cells;
}

/** Runs `clip` (samples at the model's rate and length) through the model and carries its tokens' weights back to the spectrogram. */
export async function explainClip(model: AudioModel, clip: Float32Array, topK = 3): Promise<Explanation> {
  const c = model.config;
  const audio = Tensor.from(clip, [1, clip.length]);
  const made: Tensor[] = [audio];
  try {
    const features = noGrad(() => tidy(() => spectrogram(audio, c.spectrogram)));
    made.push(features);
    const drawn = pictureConfig(c.spectrogram);
    const pictureTensor = drawn === c.spectrogram ? features : noGrad(() => tidy(() => spectrogram(audio, drawn)));
    if (pictureTensor !== features) made.push(pictureTensor);
    const { logits, maps } = model.forwardWithTokenMaps(features);
    made.push(logits, ...maps.map((m) => m.weights));
    if (maps.length === 0) throw new ModelConfigError(`${c.name} has no TokenLearner: there are no learned tokens to show (explain a kT model, e.g. TASR_4L_8T-8H or KWT-1_8T)`);
    const probabilities = noGrad(() => tidy(() => softmax(logits)));
    made.push(probabilities);
    const top = topClasses(model, await probabilities.data(), topK);
    const [, frames, bins] = pictureTensor.shape as [number, number, number];
    const learners: TokenLearnerView[] = [];
    for (const m of maps) {
      const [, tokens, positions] = m.weights.shape as [number, number, number];
      const all = await m.weights.data();
      const weights = Array.from({ length: tokens }, (_, t) => all.slice(t * positions, (t + 1) * positions));
      learners.push({ beforeBlock: m.beforeBlock, layout: m.layout, weights, cells: weights.map((w) => cellWeights(m.layout, w, frames, bins)) });
    }
    return { model: c.name, top, picture: { values: await pictureTensor.data(), frames, bins, config: drawn }, learners };
  } finally {
    for (const t of made) t.dispose();
  }
}

/** One clip: 600 x 300 panels, 3 to a row. Several clips: a row each (spectrogram, then each token), smaller panels. */
const PANEL = { one: { width: 600, height: 300, columns: 3 }, row: { width: 440, height: 240 } };
const TITLE_HEIGHT = 40;

interface Panel {
  title: string;
  subtitle?: string;
  values: Float64Array;
  colour: Heatmap['colour'];
}

const RELATIVE: Heatmap['colour'] = { title: 'level x weight', lo: 0, hi: 1, ticks: [0, 0.5, 1].map((v) => ({ at: v, label: `${v}` })) };

/**
 * A clip's panels: the spectrogram (headed by the top classes), then one per token: the spectrogram's level (0 at
 * DYNAMIC_RANGE_DB below the loudest, 1 at the loudest) times the token's weight on the cell (relative to its
 * largest), so each panel shows the part of the sound that token gathers.
 */
function panelsOf(e: Explanation, name: string, short: boolean): Panel[] {
  const { values, config } = e.picture;
  const base = colouring(values, config.output);
  const level = Float64Array.from(base.values, (v) => Math.min(1, Math.max(0, (v - base.colour.lo) / (base.colour.hi - base.colour.lo))));
  // a row's narrow panel has room for the first class only
  const classes = describeTop(short ? e.top.slice(0, 1) : e.top);
  // heatmaps take values column-major (values[column * rows + row]); the cells are frame-major, the same order
  const panels: Panel[] = [{ title: `${name}: ${classes}`, subtitle: short ? undefined : spectrogramAxes(e.picture.frames, e.picture.bins, config).subtitle, values: Float64Array.from(base.values), colour: base.colour }];
  for (const [l, learner] of e.learners.entries()) {
    const where = learner.layout.kind === 'grid' ? `${learner.layout.rows}x${learner.layout.columns} patch grid` : `${learner.layout.frames} frames`;
    for (const [t, cells] of learner.cells.entries()) {
      const largest = cells.reduce((m, v) => Math.max(m, v), 0) || 1;
      const shown = Float64Array.from(cells, (w, i) => (w / largest) * level[i]!);
      const learnerName = e.learners.length > 1 ? `TokenLearner ${l} ` : '';
      panels.push({ title: short ? `${learnerName}token ${t}` : `${learnerName}token ${t} (before block ${learner.beforeBlock}, over the ${where})`, values: shown, colour: RELATIVE });
    }
  }
  return panels;
}

/**
 * The picture of one clip (its spectrogram and every token, three panels to a row), or of several clips of one
 * model (a row each: e.g. one clip per class, to compare what each token gathers across the classes).
 */
export function explanationSvg(clips: readonly { explanation: Explanation; name: string }[]): string {
  const first = clips[0]!.explanation;
  const { frames, bins, config } = first.picture;
  const axes = spectrogramAxes(frames, bins, config);
  const one = clips.length === 1;
  const rows = clips.map((c) => panelsOf(c.explanation, c.name, !one));
  const size = one ? PANEL.one : { ...PANEL.row, columns: Math.max(...rows.map((r) => r.length)) };
  const placed = one ? rows[0]!.map((p, i) => ({ p, column: i % size.columns, row: Math.floor(i / size.columns) })) : rows.flatMap((r, row) => r.map((p, column) => ({ p, column, row })));
  const height = TITLE_HEIGHT + (Math.max(...placed.map((x) => x.row)) + 1) * size.height;
  const where = first.learners.map((l) => `before block ${l.beforeBlock}`).join(', ');
  const parts = [
    `<text x="16" y="26" font-size="17" font-weight="bold">${escapeXml(`What ${first.model}'s learned tokens look at (${where}; ${config.output === 'logmel' ? 'log-mel' : config.output} spectrogram, ${DYNAMIC_RANGE_DB} dB range)`)}</text>`,
  ];
  for (const { p, column, row } of placed) {
    const heatmap = { values: p.values, columns: frames, rows: bins, title: p.title, subtitle: p.subtitle, x: axes.x, y: axes.y, colour: p.colour };
    parts.push(`<g transform="translate(${column * size.width} ${TITLE_HEIGHT + row * size.height})">${heatmapParts(heatmap, size.width, size.height).join('')}</g>`);
  }
  return svgDocument(size.columns * size.width, height, parts);
}
