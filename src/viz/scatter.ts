// A scatter plot as a standalone SVG, with linear or logarithmic axes, labelled points (sized and coloured each
// their own way) and reference lines: the roofline, accuracy against FLOPs, Pareto fronts.

export interface ScatterPoint {
  x: number;
  y: number;
  label?: string;
  colour?: string;
  /** Radius in pixels (default 5). */
  radius?: number;
  /** Optional error bar on y: [low, high]. */
  yRange?: [number, number];
}

export interface ScatterLine {
  points: [number, number][];
  colour: string;
  dashed?: boolean;
  label?: string;
}

export interface ScatterPlot {
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  points: ScatterPoint[];
  lines?: ScatterLine[];
  /** Dashed horizontal lines across the whole plot at these heights (chance, a target). */
  rules?: { y: number; label: string }[];
  /** Legend entries (colour, text). */
  legend?: [string, string][];
  xFormat?: (v: number) => string;
  yFormat?: (v: number) => string;
}

/** Text for SVG markup. */
export const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Compact number for tick labels: 1.5k, 2M, 0.01. */
export function shortNumber(v: number): string {
  const abs = Math.abs(v);
  if (abs >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
  if (abs >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (abs >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}

interface Axis {
  lo: number;
  hi: number;
  log: boolean;
  ticks: number[];
}

function axis(values: number[], log: boolean): Axis {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (!Number.isFinite(lo)) [lo, hi] = log ? [1, 10] : [0, 1];
  if (log) {
    const [a, b] = [Math.floor(Math.log10(lo)), Math.ceil(Math.log10(hi * 1.5))];
    const [l, h] = [a, b > a ? b : a + 1];
    return { lo: 10 ** l, hi: 10 ** h, log, ticks: Array.from({ length: h - l + 1 }, (_, i) => 10 ** (l + i)) };
  }
  if (!(hi > lo)) [lo, hi] = [lo - 0.5, hi + 0.5];
  const pad = (hi - lo) * 0.08;
  [lo, hi] = [lo - pad, hi + pad];
  return { lo, hi, log, ticks: niceTicks(lo, hi) };
}

/** Round values (1, 2 or 5 times a power of ten apart) from lo to hi, at most `most` of them. */
export function niceTicks(lo: number, hi: number, most = 6): number[] {
  if (!(hi > lo)) return [lo];
  const step = 10 ** Math.floor(Math.log10((hi - lo) / most));
  const unit = [1, 2, 5, 10, 20].map((m) => m * step).find((s) => (hi - lo) / s <= most)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / unit - 1e-9) * unit; t <= hi + unit * 1e-9; t += unit) ticks.push(+t.toPrecision(12));
  return ticks;
}

function scale(a: Axis, from: number, to: number): (v: number) => number {
  if (a.log) {
    const [l, h] = [Math.log10(a.lo), Math.log10(a.hi)];
    return (v) => from + ((Math.log10(Math.max(v, a.lo / 1e3)) - l) / (h - l)) * (to - from);
  }
  return (v) => from + ((v - a.lo) / (a.hi - a.lo)) * (to - from);
}

export function scatterSvg(plot: ScatterPlot, width = 760, height = 500): string {
  const [left, right, top, bottom] = [72, 24, 40, 52];
  const lines = plot.lines ?? [];
  const xs = [...plot.points.map((p) => p.x), ...lines.flatMap((l) => l.points.map(([x]) => x))];
  const rules = plot.rules ?? [];
  const ys = [...plot.points.flatMap((p) => [p.y, ...(p.yRange ?? [])]), ...lines.flatMap((l) => l.points.map(([, y]) => y)), ...rules.map((r) => r.y)];
  const ax = axis(xs, !!plot.xLog);
  const ay = axis(ys, !!plot.yLog);
  const px = scale(ax, left, width - right);
  const py = scale(ay, height - bottom, top);
  const fx = plot.xFormat ?? shortNumber;
  const fy = plot.yFormat ?? shortNumber;
  const parts: string[] = [];
  parts.push(`<text x="${(left + width - right) / 2}" y="24" text-anchor="middle" font-weight="bold">${escapeXml(plot.title)}</text>`);
  parts.push(`<rect x="${left}" y="${top}" width="${width - left - right}" height="${height - top - bottom}" fill="none" stroke="#888"/>`);
  for (const t of ax.ticks) {
    parts.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${top}" y2="${height - bottom}" stroke="#eee"/>`);
    // the last label ends at the plot's edge rather than run past the picture's
    const anchor = px(t) > width - right - 12 ? 'end' : 'middle';
    parts.push(`<text x="${px(t)}" y="${height - bottom + 16}" text-anchor="${anchor}" font-size="11">${fx(t)}</text>`);
  }
  for (const t of ay.ticks) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${py(t)}" y2="${py(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 6}" y="${py(t) + 4}" text-anchor="end" font-size="11">${fy(t)}</text>`);
  }
  parts.push(`<text x="${(left + width - right) / 2}" y="${height - 12}" text-anchor="middle" font-size="12">${escapeXml(plot.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${(top + height - bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(plot.yLabel)}</text>`);
  for (const l of lines) {
    const points = l.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${l.colour}" stroke-width="1.5"${l.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    if (l.label) {
      const [x, y] = l.points[l.points.length - 1]!;
      parts.push(`<text x="${px(x) - 4}" y="${py(y) - 6}" text-anchor="end" font-size="11" fill="${l.colour}">${escapeXml(l.label)}</text>`);
    }
  }
  for (const r of rules) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${py(r.y).toFixed(1)}" y2="${py(r.y).toFixed(1)}" stroke="#888" stroke-dasharray="5 4"/>`);
    parts.push(`<text x="${width - right - 4}" y="${(py(r.y) - 5).toFixed(1)}" text-anchor="end" font-size="11" fill="#888">${escapeXml(r.label)}</text>`);
  }
  const placed: { x: number; y: number; w: number }[] = [];
  for (const p of plot.points) {
    const colour = p.colour ?? '#1f77b4';
    if (p.yRange) parts.push(`<line x1="${px(p.x)}" x2="${px(p.x)}" y1="${py(p.yRange[0])}" y2="${py(p.yRange[1])}" stroke="${colour}" stroke-width="1.5"/>`);
    parts.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="${(p.radius ?? 5).toFixed(1)}" fill="${colour}" fill-opacity="0.6" stroke="${colour}"/>`);
    if (!p.label) continue;
    // A label goes right of its point, or left where it would leave the plot; it moves down a line at a time
    // until it clears the ones already placed.
    const w = 6.2 * p.label.length;
    const gap = (p.radius ?? 5) + 3;
    const x = px(p.x) + gap + w <= width - right ? px(p.x) + gap : px(p.x) - gap - w;
    let y = py(p.y) + 4;
    while (placed.some((q) => Math.abs(q.y - y) < 12 && x < q.x + q.w && q.x < x + w)) y += 12;
    placed.push({ x, y, w });
    parts.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="11">${escapeXml(p.label)}</text>`);
  }
  (plot.legend ?? []).forEach(([colour, text], i) => {
    parts.push(`<circle cx="${left + 14}" cy="${top + 14 + 16 * i}" r="5" fill="${colour}"/>`);
    parts.push(`<text x="${left + 24}" y="${top + 18 + 16 * i}" font-size="12">${escapeXml(text)}</text>`);
  });
  return svgDocument(width, height, parts);
}

/** Plots of equal size side by side in one SVG, under a caption line (the adapter, the data). */
export function sideBySide(plots: readonly string[], caption: string, width: number, height: number): string {
  const inner = plots.map((svg, i) => svg.replace('<svg ', `<svg x="${width * i}" y="24" `));
  return svgDocument(width * plots.length, height + 24, [`<text x="8" y="16" font-size="12">${escapeXml(caption)}</text>`, ...inner]);
}

/** A standalone SVG of `parts` on a white background: every picture tokenwave draws (its viewBox lets a page scale it to fit). */
export function svgDocument(width: number, height: number, parts: readonly string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}
