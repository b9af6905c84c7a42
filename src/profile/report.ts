// Profile tables: the timed dispatches of one or more steps grouped by kernel (variant), module, op or phase,
// each group with its time, share of the step, exact FLOPs, bytes, achieved rates, arithmetic intensity and the
// fraction of the roofline bound it reaches.
import { exactFlops } from '../tensor/counts.js';
import type { ProfiledRecord } from '../tensor/engine.js';
import type { Peaks } from './peaks.js';

export const GROUPINGS = ['kernel', 'module', 'op', 'phase'] as const;
export type Grouping = (typeof GROUPINGS)[number];

export interface ProfileRow {
  name: string;
  /** Dispatches per step. */
  dispatches: number;
  /** Kernel time per step, ms. */
  ms: number;
  meanMs: number;
  /** Share of the measured step time. */
  share: number;
  /** Exact FLOPs per step. */
  flops: number;
  bytesRead: number;
  bytesWritten: number;
  gflops: number;
  gbps: number;
  /** FLOPs per byte moved. */
  intensity: number;
  /** Achieved GFLOP/s over the roofline bound min(peak GFLOP/s, intensity x peak GB/s); null without FLOPs. */
  roofline: number | null;
}

/** A record's group name: module paths are cut to `depth` components ('blocks.0/attention'). */
export function groupName(r: ProfiledRecord, by: Grouping, depth = 2): string {
  switch (by) {
    case 'kernel':
      return r.kernel;
    case 'op':
      return r.op;
    case 'phase':
      return r.phase;
    case 'module':
      return r.path.split('/').slice(0, depth).join('/') || '(model)';
  }
}

export function rooflineBound(intensity: number, peaks: Peaks): number {
  return Math.min(peaks.gflops, intensity * peaks.gbps);
}

/**
 * Groups the records of `steps` profiled steps (all concatenated), per step, sorted by time. `stepMs` is the
 * measured wall time of one step, the denominator of the shares.
 */
export function groupRecords(records: readonly ProfiledRecord[], by: Grouping, steps: number, stepMs: number, peaks: Peaks): ProfileRow[] {
  const groups = new Map<string, ProfiledRecord[]>();
  for (const r of records) {
    const key = groupName(r, by);
    let list = groups.get(key);
    if (!list) groups.set(key, (list = []));
    list.push(r);
  }
  const rows = [...groups].map(([name, list]) => summarize(name, list, steps, stepMs, peaks));
  return rows.sort((a, b) => b.ms - a.ms);
}

export function summarize(name: string, list: readonly ProfiledRecord[], steps: number, stepMs: number, peaks: Peaks): ProfileRow {
  let ms = 0;
  let flops = 0;
  let bytesRead = 0;
  let bytesWritten = 0;
  for (const r of list) {
    ms += r.ms;
    flops += exactFlops(r.counts);
    bytesRead += r.counts.bytesRead;
    bytesWritten += r.counts.bytesWritten;
  }
  const seconds = ms / 1000;
  const bytes = bytesRead + bytesWritten;
  const intensity = bytes > 0 ? flops / bytes : 0;
  const gflops = seconds > 0 ? flops / seconds / 1e9 : 0;
  return {
    name,
    dispatches: list.length / steps,
    ms: ms / steps,
    meanMs: ms / list.length,
    share: stepMs > 0 ? ms / steps / stepMs : 0,
    flops: flops / steps,
    bytesRead: bytesRead / steps,
    bytesWritten: bytesWritten / steps,
    gflops,
    gbps: seconds > 0 ? bytes / seconds / 1e9 : 0,
    intensity,
    roofline: flops > 0 && seconds > 0 ? gflops / rooflineBound(intensity, peaks) : null,
  };
}

const si = (n: number) => {
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (abs >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(0);
};

/** The profile table's cells, header first: the first `top` rows, the rest summed into one row (the CLI prints
 * them as text, the page as an HTML table). */
export function profileTable(rows: readonly ProfileRow[], top: number): string[][] {
  const shown = rows.slice(0, top);
  const rest = rows.slice(top);
  const lines: string[][] = [['', 'disp', 'total ms', 'mean ms', '% step', 'FLOPs', 'read', 'written', 'GFLOP/s', 'GB/s', 'FLOP/B', 'roofline']];
  const cells = (r: ProfileRow): string[] => [
    r.name,
    Number.isInteger(r.dispatches) ? String(r.dispatches) : r.dispatches.toFixed(1),
    r.ms.toFixed(2),
    r.dispatches > 0 ? r.meanMs.toFixed(3) : '-',
    (100 * r.share).toFixed(1),
    si(r.flops),
    `${si(r.bytesRead)}B`,
    `${si(r.bytesWritten)}B`,
    r.gflops.toFixed(2),
    r.gbps.toFixed(2),
    r.intensity.toFixed(2),
    r.roofline === null ? '-' : `${(100 * r.roofline).toFixed(0)}%`,
  ];
  for (const r of shown) lines.push(cells(r));
  if (rest.length > 0) {
    const sum = (f: (r: ProfileRow) => number) => rest.reduce((s, r) => s + f(r), 0);
    lines.push([`(${rest.length} more)`, sum((r) => r.dispatches).toFixed(0), sum((r) => r.ms).toFixed(2), '', (100 * sum((r) => r.share)).toFixed(1), si(sum((r) => r.flops)), '', '', '', '', '', '']);
  }
  return lines;
}

/** A plain-text table of the first `top` rows (the rest summed into one row). */
export function formatRows(rows: readonly ProfileRow[], top: number, title: string): string {
  const lines = profileTable(rows, top);
  const widths = lines[0]!.map((_, c) => Math.max(...lines.map((l) => l[c]!.length)));
  const text = lines.map((l) => l.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  return [`by ${title}:`, ...text.map((t) => `  ${t}`)].join('\n');
}
