// The demo's report: the table (accuracy with 95% intervals, the paper's and the exact FLOPs, measured times),
// the paper's picture (accuracy against FLOPs and against time, one point per model) and the one-line verdict.
import type { EpochLog } from '../train/trainer.js';
import { differenceInterval, wilson } from '../util/stats.js';
import { curvesSvg, movingAverage } from '../viz/curves.js';
import { scatterSvg, shortNumber, sideBySide } from '../viz/scatter.js';

export interface DemoRow {
  model: string;
  /** Test clips, and top-1 / top-3 hits among them. */
  clips: number;
  top1Hits: number;
  top3Hits: number;
  paperFlops: number;
  exactFlops: number;
  msPerStep: number;
  msPerClip: number;
  parameters: number;
  history: EpochLog[];
  /** The training loss of every update, in order. */
  stepLosses: number[];
}

/** What the comparison rests on: the updates each model had and the clips, against the paper's. */
export interface VerdictBasis {
  updates: number;
  trainClips: number;
  budgetMinutes: number;
  paperUpdates: number;
  paperTrainClips: number;
}

const COLOURS = ['#1f77b4', '#d62728'];
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const interval = ([lo, hi]: [number, number]) => `[${(100 * lo).toFixed(1)}, ${(100 * hi).toFixed(1)}]`;
const millions = (n: number) => `${(n / 1e6).toFixed(1)} M`;

export function demoTable(rows: readonly DemoRow[], batchSize: number): string {
  const [tl, nt] = rows as [DemoRow, DemoRow];
  const top1 = (r: DemoRow) => r.top1Hits / r.clips;
  const top3 = (r: DemoRow) => r.top3Hits / r.clips;
  const diff = differenceInterval(nt.top1Hits, nt.clips, tl.top1Hits, tl.clips);
  return [
    `| model | top-1 (95% interval) | top-3 | paper FLOPs | exact FLOPs | ms / training step (batch ${batchSize}) | ms / clip inference | parameters |`,
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${pct(top1(r))} ${interval(wilson(r.top1Hits, r.clips))} | ${pct(top3(r))} | ${millions(r.paperFlops)} | ${millions(r.exactFlops)} | ` +
        `${r.msPerStep.toFixed(0)} | ${r.msPerClip.toFixed(2)} | ${(r.parameters / 1e6).toFixed(3)} M |`,
    ),
    `| NT - TL | ${(100 * (top1(nt) - top1(tl))).toFixed(1)} pts ${interval(diff)} | ${(100 * (top3(nt) - top3(tl))).toFixed(1)} pts | ` +
      `${(nt.paperFlops / tl.paperFlops).toFixed(2)}x | ${(nt.exactFlops / tl.exactFlops).toFixed(2)}x | ${(nt.msPerStep / tl.msPerStep).toFixed(2)}x | ` +
      `${(nt.msPerClip / tl.msPerClip).toFixed(2)}x | ${(nt.parameters / tl.parameters).toFixed(3)}x |`,
  ].join('\n');
}

/**
 * One line: what the run shows, TokenLearner (tl) against all patches (nt), and what that rests on. A run shorter
 * than the paper's says how much shorter and that it favours the model that learns fastest per update, instead of
 * calling either better.
 */
export function demoVerdict(rows: readonly DemoRow[], basis: VerdictBasis): string {
  const [tl, nt] = rows as [DemoRow, DemoRow];
  const d = tl.top1Hits / tl.clips - nt.top1Hits / nt.clips;
  const [lo, hi] = differenceInterval(tl.top1Hits, tl.clips, nt.top1Hits, nt.clips);
  const half = (100 * (hi - lo)) / 2;
  const count = (n: number) => Math.round(n).toLocaleString('en-US');
  const rests = `${count(basis.updates)} updates each on ${count(basis.trainClips)} clips (a ${basis.budgetMinutes}-minute budget)`;
  const full = basis.updates >= basis.paperUpdates && basis.trainClips >= basis.paperTrainClips;
  const reading = full
    ? `95%: ${lo > 0 ? 'better' : hi < 0 ? 'worse' : 'no clear difference'}`
    : `95% interval [${(100 * lo).toFixed(1)}, ${(100 * hi).toFixed(1)}]; the paper trains ${count(basis.paperUpdates)} updates on ${count(basis.paperTrainClips)} clips, ` +
      'and a run this short favours the model that learns fastest per update, which need not be the one ahead after a full run: see curves.png';
  return (
    `TokenLearner: ${(nt.exactFlops / tl.exactFlops).toFixed(1)}x fewer FLOPs (exact; ${(nt.paperFlops / tl.paperFlops).toFixed(2)}x by the paper's count), ` +
    `${(nt.msPerClip / tl.msPerClip).toFixed(1)}x faster inference, ${(nt.msPerStep / tl.msPerStep).toFixed(1)}x faster training; ` +
    `after ${rests}: ${d >= 0 ? '+' : ''}${(100 * d).toFixed(1)} +/- ${half.toFixed(1)} points top-1 (${reading})`
  );
}

/**
 * Accuracy (with its 95% interval) against the paper's FLOPs, the exact FLOPs and the measured time per clip, over
 * a dashed line at chance (1 / classes).
 */
export function accuracyCostSvg(rows: readonly DemoRow[], adapter: string, classes: number): string {
  const panel = (xLabel: string, x: (r: DemoRow) => number, xFormat?: (v: number) => string) =>
    scatterSvg(
      {
        rules: [{ y: 1 / classes, label: 'chance' }],
        title: `top-1 against ${xLabel}`,
        xLabel,
        yLabel: 'test top-1 (95% interval)',
        xLog: true,
        points: rows.map((r, i) => ({
          x: x(r),
          y: r.top1Hits / r.clips,
          yRange: wilson(r.top1Hits, r.clips),
          colour: COLOURS[i],
          radius: 6,
          label: r.model,
        })),
        yFormat: (v) => `${(100 * v).toFixed(0)}%`,
        ...(xFormat ? { xFormat } : {}),
      },
      420,
      360,
    );
  const panels = [
    panel('FLOPs per clip, paper count', (r) => r.paperFlops),
    panel('FLOPs per clip, exact', (r) => r.exactFlops),
    panel('ms per clip, inference', (r) => r.msPerClip, (v) => `${shortNumber(v)} ms`),
  ];
  return sideBySide(panels, adapter, 420, 360);
}

/**
 * The training loss of every update (faint) under its moving average, and the validation accuracy after each epoch
 * (dots), one colour per model, against updates.
 */
export function curves(rows: readonly DemoRow[]): string {
  const updates = Math.max(...rows.map((r) => r.stepLosses.length));
  const window = Math.max(1, 2 * Math.round(updates / 40) + 1);
  const at = (values: readonly number[]) => values.map((v, i): [number, number] => [i + 1, v]);
  const lossLines = rows.flatMap((r, i) => [
    { colour: COLOURS[i]!, points: at(r.stepLosses), faint: true },
    { colour: COLOURS[i]!, points: at(movingAverage(r.stepLosses, window)) },
  ]);
  const validationLines = rows.map((r, i) => {
    let done = 0;
    const points = r.history.map((h): [number, number] => [(done += h.steps), h.validationAccuracy]);
    return { colour: COLOURS[i]!, points, markers: true };
  });
  return curvesSvg(
    [
      { title: 'training loss', xLabel: 'update', yLabel: 'cross-entropy', lines: lossLines },
      { title: 'validation accuracy', xLabel: 'update (a dot per epoch)', yLabel: 'top-1', lines: validationLines, yFormat: (v) => `${(100 * v).toFixed(0)}%` },
    ],
    rows.map((r, i) => ({ colour: COLOURS[i]!, name: r.model })),
    `faint: the loss of each update; solid: its moving average over ${window} update${window === 1 ? '' : 's'}`,
  );
}
