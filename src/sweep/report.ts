// A sweep's report in the paper's table layout: one row per model (its runs over seeds averaged, with 95% t
// intervals), as Markdown, CSV and JSON, and the Pareto picture: accuracy against exact FLOPs and against measured
// inference time, the front drawn, models with and without TokenLearner told apart.
import { join } from 'node:path';
import type { RunSummary } from '../train/run-folder.js';
import { writeFileAtomic } from '../util/files.js';
import { meanInterval } from '../util/stats.js';
import { svgToPng } from '../viz/render.js';
import { scatterSvg, shortNumber, sideBySide } from '../viz/scatter.js';
import { groupKey, runId, type RunSpec } from './grid.js';
import { runSummary } from './run.js';

export interface FinishedRun {
  spec: RunSpec;
  summary: RunSummary;
}

interface Estimate {
  mean: number;
  /** Half-width of the 95% interval over seeds; NaN with one seed. */
  half: number;
}

export interface ModelRow {
  /** The model's name, and the settings that set it apart from the grid's other models with that name. */
  label: string;
  model: string;
  tokenLearner: boolean;
  seeds: number[];
  parameters: number;
  paperFlops: number;
  exactFlops: number;
  top1: Estimate;
  top3: Estimate;
  top5?: Estimate;
  msPerStep: Estimate;
  msPerClip: Estimate;
  batchSize: number;
  adapter: string;
  runs: string[];
}

/** The finished runs grouped by everything but their seed, in the grid's order. */
export function modelRows(runs: readonly FinishedRun[]): ModelRow[] {
  const groups = new Map<string, FinishedRun[]>();
  for (const r of runs) groups.set(groupKey(r.spec), [...(groups.get(groupKey(r.spec)) ?? []), r]);
  const sameName = (model: string) => [...groups.values()].filter((g) => g[0]!.spec.model === model).length;
  return [...groups.values()].map((group) => {
    const { spec, summary } = group[0]!;
    const over = (f: (s: RunSummary) => number) => meanInterval(group.map((g) => f(g.summary)));
    const adapters = [...new Set(group.map((g) => g.summary.adapter))];
    return {
      label: sameName(spec.model) > 1 ? `${spec.model} ${distinguishing(spec, [...groups.values()].map((g) => g[0]!.spec))}` : spec.model,
      model: spec.model,
      tokenLearner: !/_NT-/.test(spec.model),
      seeds: group.map((g) => g.spec.seed),
      parameters: summary.parameters,
      paperFlops: summary.flops.paper,
      exactFlops: summary.flops.exact,
      top1: over((s) => s.test.top1),
      top3: over((s) => s.test.topK[3] ?? Number.NaN),
      ...(summary.test.topK[5] !== undefined ? { top5: over((s) => s.test.topK[5]!) } : {}),
      msPerStep: over((s) => s.msPerStep),
      msPerClip: over((s) => s.msPerClip),
      batchSize: summary.batchSize,
      adapter: adapters.join(' + '),
      runs: group.map((g) => runId(g.spec)),
    };
  });
}

/** The settings in which `spec` differs from some other model of the same name, as key=value. */
function distinguishing(spec: RunSpec, all: readonly RunSpec[]): string {
  const others = all.filter((o) => o.model === spec.model && o !== spec);
  const keys = (Object.keys(spec) as (keyof RunSpec)[]).filter((k) => k !== 'seed' && others.some((o) => JSON.stringify(o[k]) !== JSON.stringify(spec[k])));
  return keys.map((k) => `${k}=${typeof spec[k] === 'string' ? spec[k] : JSON.stringify(spec[k])}`).join(' ');
}

const percent = (e: Estimate) => `${(100 * e.mean).toFixed(1)}%${Number.isNaN(e.half) ? '' : ` +/- ${(100 * e.half).toFixed(1)}`}`;
const plain = (e: Estimate, digits: number) => `${e.mean.toFixed(digits)}${Number.isNaN(e.half) ? '' : ` +/- ${e.half.toFixed(digits)}`}`;

function resultsMarkdown(rows: readonly ModelRow[], missing: readonly string[], title: string): string {
  const top5 = rows.some((r) => r.top5);
  const lines = [
    `# ${title}`,
    '',
    'Top-k on each run\'s test split with its best-validation weights; mean +/- half the 95% t interval over seeds ' +
      '(none with one seed). FLOPs per clip, forward; times measured by each run on its adapter.',
    '',
    `| model | seeds | parameters | paper FLOPs | exact FLOPs | top-1 | top-3 |${top5 ? ' top-5 |' : ''} ms / training step | batch | ms / clip inference | adapter |`,
    `|---|---|---|---|---|---|---|${top5 ? '---|' : ''}---|---|---|---|`,
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.seeds.length} | ${r.parameters.toLocaleString('en-US')} | ${r.paperFlops.toLocaleString('en-US')} | ${r.exactFlops.toLocaleString('en-US')} | ` +
        `${percent(r.top1)} | ${percent(r.top3)} |${top5 ? ` ${r.top5 ? percent(r.top5) : ''} |` : ''} ${plain(r.msPerStep, 0)} | ${r.batchSize} | ${plain(r.msPerClip, 2)} | ${r.adapter} |`,
    ),
  ];
  if (missing.length) lines.push('', `Not finished (${missing.length}): ${missing.join(', ')}`);
  lines.push('', '![accuracy against cost](pareto.png)', '');
  return lines.join('\n');
}

function resultsCsv(rows: readonly ModelRow[]): string {
  const header = 'model,seeds,parameters,paper_flops,exact_flops,top1,top1_ci95,top3,top3_ci95,top5,top5_ci95,ms_per_step,ms_per_step_ci95,batch,ms_per_clip,ms_per_clip_ci95,adapter';
  const cell = (v: string | number) => (typeof v === 'string' && /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v));
  const pair = (e: Estimate | undefined) => (e ? [e.mean, Number.isNaN(e.half) ? '' : e.half] : ['', '']);
  return [
    header,
    ...rows.map((r) =>
      [r.label, r.seeds.length, r.parameters, r.paperFlops, r.exactFlops, ...pair(r.top1), ...pair(r.top3), ...pair(r.top5), ...pair(r.msPerStep), r.batchSize, ...pair(r.msPerClip), r.adapter]
        .map(cell)
        .join(','),
    ),
  ].join('\n') + '\n';
}

/** The models no other model beats on both cost and accuracy, by increasing cost. */
export function paretoFront<T>(items: readonly T[], cost: (t: T) => number, accuracy: (t: T) => number): T[] {
  const front: T[] = [];
  for (const t of [...items].sort((a, b) => cost(a) - cost(b) || accuracy(b) - accuracy(a))) {
    if (front.length === 0 || accuracy(t) > accuracy(front.at(-1)!)) front.push(t);
  }
  return front;
}

const TL_COLOUR = '#1f77b4';
const NT_COLOUR = '#d62728';

function paretoSvg(rows: readonly ModelRow[], caption: string): string {
  const panel = (xLabel: string, x: (r: ModelRow) => number, xFormat?: (v: number) => string) => {
    const front = paretoFront(rows, x, (r) => r.top1.mean);
    return scatterSvg(
      {
        title: `top-1 against ${xLabel}`,
        xLabel,
        yLabel: 'test top-1 (mean, 95% interval over seeds, within 0-100%)',
        xLog: true,
        points: rows.map((r) => ({
          x: x(r),
          y: r.top1.mean,
          ...(Number.isNaN(r.top1.half) ? {} : { yRange: [Math.max(0, r.top1.mean - r.top1.half), Math.min(1, r.top1.mean + r.top1.half)] as [number, number] }),
          colour: r.tokenLearner ? TL_COLOUR : NT_COLOUR,
          label: r.label,
        })),
        lines: front.length > 1 ? [{ points: front.map((r) => [x(r), r.top1.mean]), colour: '#555', dashed: true, label: 'Pareto front' }] : [],
        legend: [[TL_COLOUR, 'TokenLearner'], [NT_COLOUR, 'no TokenLearner (NT)']],
        yFormat: (v) => `${(100 * v).toFixed(0)}%`,
        ...(xFormat ? { xFormat } : {}),
      },
      560,
      440,
    );
  };
  return sideBySide(
    [panel('exact FLOPs per clip', (r) => r.exactFlops), panel('ms per clip, inference', (r) => r.msPerClip.mean, (v) => `${shortNumber(v)} ms`)],
    caption,
    560,
    440,
  );
}

/** Reads every finished run of `runs` under `out` and writes results.md, .csv, .json and pareto.svg/.png there. */
export async function writeReport(out: string, runs: readonly RunSpec[], title: string): Promise<{ rows: ModelRow[]; missing: string[] }> {
  const finished: FinishedRun[] = [];
  const missing: string[] = [];
  for (const spec of runs) {
    const summary = await runSummary(out, spec);
    if (summary) finished.push({ spec, summary });
    else missing.push(runId(spec));
  }
  const rows = modelRows(finished);
  const adapters = [...new Set(rows.map((r) => r.adapter))].join('; ');
  await writeFileAtomic(join(out, 'results.md'), resultsMarkdown(rows, missing, title));
  await writeFileAtomic(join(out, 'results.csv'), resultsCsv(rows));
  await writeFileAtomic(join(out, 'results.json'), JSON.stringify({ title, models: rows, missing, runs: finished.map((f) => ({ id: runId(f.spec), ...f })) }, null, 2));
  if (rows.length) {
    const svg = paretoSvg(rows, `${title} (${adapters})`);
    await writeFileAtomic(join(out, 'pareto.svg'), svg);
    await writeFileAtomic(join(out, 'pareto.png'), svgToPng(svg));
  }
  return { rows, missing };
}
