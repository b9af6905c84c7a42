// Training curves as a standalone SVG: one panel per metric, one line per run, shared epoch axis.
import { escapeXml } from './scatter.js';

export interface Series {
  name: string;
  colour: string;
  /** y values per epoch (epoch 1 first). */
  values: number[];
}

export interface Panel {
  title: string;
  series: Series[];
  /** Format of the y tick labels. */
  format?: (v: number) => string;
}

export function curvesSvg(panels: readonly Panel[], width = 900, height = 340): string {
  const panelWidth = width / panels.length;
  const [left, right, top, bottom] = [58, 16, 36, 44];
  const parts: string[] = [];
  panels.forEach((panel, p) => {
    const x0 = p * panelWidth + left;
    const plotW = panelWidth - left - right;
    const plotH = height - top - bottom;
    const all = panel.series.flatMap((s) => s.values).filter(Number.isFinite);
    let [lo, hi] = [Math.min(...all), Math.max(...all)];
    if (!(hi > lo)) [lo, hi] = [lo - 0.5, hi + 0.5];
    const pad = (hi - lo) * 0.05;
    [lo, hi] = [lo - pad, hi + pad];
    const epochs = Math.max(...panel.series.map((s) => s.values.length));
    const px = (e: number) => x0 + (epochs <= 1 ? plotW / 2 : ((e - 1) / (epochs - 1)) * plotW);
    const py = (v: number) => top + (1 - (v - lo) / (hi - lo)) * plotH;
    const fmt = panel.format ?? ((v: number) => v.toFixed(2));
    parts.push(`<text x="${x0 + plotW / 2}" y="22" text-anchor="middle" font-weight="bold">${escapeXml(panel.title)}</text>`);
    parts.push(`<rect x="${x0}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`);
    for (let i = 0; i <= 4; i++) {
      const v = lo + ((hi - lo) * i) / 4;
      parts.push(`<line x1="${x0}" x2="${x0 + plotW}" y1="${py(v)}" y2="${py(v)}" stroke="#eee"/>`);
      parts.push(`<text x="${x0 - 6}" y="${py(v) + 4}" text-anchor="end" font-size="11">${fmt(v)}</text>`);
    }
    for (let e = 1; e <= epochs; e++) parts.push(`<text x="${px(e)}" y="${top + plotH + 16}" text-anchor="middle" font-size="11">${e}</text>`);
    parts.push(`<text x="${x0 + plotW / 2}" y="${height - 8}" text-anchor="middle" font-size="12">epoch</text>`);
    panel.series.forEach((s, i) => {
      const points = s.values.map((v, e) => `${px(e + 1).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
      parts.push(`<polyline points="${points}" fill="none" stroke="${s.colour}" stroke-width="2"/>`);
      s.values.forEach((v, e) => parts.push(`<circle cx="${px(e + 1)}" cy="${py(v)}" r="3" fill="${s.colour}"/>`));
      parts.push(`<text x="${x0 + 8}" y="${top + 16 + 15 * i}" font-size="12" fill="${s.colour}">${escapeXml(s.name)}</text>`);
    });
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}
