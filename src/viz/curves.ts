// Learning curves as a standalone SVG: panels side by side sharing a legend above them (so no label sits on a
// line), each with its own axes; a line may be faint (raw values under their smoothed version) or carry markers
// (one value per epoch).
import { escapeXml, niceTicks, shortNumber, svgDocument } from './scatter.js';

export interface CurveLine {
  colour: string;
  /** [x, y] in data units. */
  points: [number, number][];
  /** Drawn thin and pale: the raw values a smoothed line summarises. */
  faint?: boolean;
  /** A dot at every point (values per epoch). */
  markers?: boolean;
}

export interface CurvePanel {
  title: string;
  xLabel: string;
  yLabel: string;
  lines: CurveLine[];
  yFormat?: (v: number) => string;
}

/** A centred moving average over `window` values (fewer at the ends): no lag, unlike an exponential one. */
export function movingAverage(values: readonly number[], window: number): number[] {
  const half = Math.floor(window / 2);
  return values.map((_, i) => {
    const part = values.slice(Math.max(0, i - half), i + half + 1).filter(Number.isFinite);
    return part.reduce((s, v) => s + v, 0) / part.length;
  });
}

const MARGIN = { left: 64, right: 18, top: 78, bottom: 46 };

export function curvesSvg(panels: readonly CurvePanel[], legend: readonly { colour: string; name: string }[], note: string, width = 960, height = 380): string {
  const parts: string[] = [];
  let lx = MARGIN.left;
  for (const { colour, name } of legend) {
    parts.push(`<line x1="${lx}" x2="${lx + 22}" y1="18" y2="18" stroke="${colour}" stroke-width="3"/>`);
    parts.push(`<text x="${lx + 28}" y="22" font-size="13">${escapeXml(name)}</text>`);
    lx += 40 + 7.5 * name.length;
  }
  parts.push(`<text x="${MARGIN.left}" y="42" font-size="11" fill="#555">${escapeXml(note)}</text>`);
  const panelWidth = width / panels.length;
  panels.forEach((panel, p) => {
    const x0 = p * panelWidth + MARGIN.left;
    const plotW = panelWidth - MARGIN.left - MARGIN.right;
    const plotH = height - MARGIN.top - MARGIN.bottom;
    const xs = panel.lines.flatMap((l) => l.points.map(([x]) => x));
    const ys = panel.lines.flatMap((l) => l.points.map(([, y]) => y)).filter(Number.isFinite);
    const [xLo, xHi] = [Math.min(0, ...xs), Math.max(1, ...xs)];
    let [yLo, yHi] = [Math.min(...ys), Math.max(...ys)];
    if (!(yHi > yLo)) [yLo, yHi] = [yLo - 0.5, yHi + 0.5];
    const pad = (yHi - yLo) * 0.05;
    [yLo, yHi] = [yLo - pad, yHi + pad];
    const px = (x: number) => x0 + ((x - xLo) / (xHi - xLo)) * plotW;
    const py = (y: number) => MARGIN.top + (1 - (y - yLo) / (yHi - yLo)) * plotH;
    const fy = panel.yFormat ?? shortNumber;
    parts.push(`<text x="${x0 + plotW / 2}" y="${MARGIN.top - 10}" text-anchor="middle" font-weight="bold" font-size="13">${escapeXml(panel.title)}</text>`);
    parts.push(`<rect x="${x0}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`);
    for (const t of niceTicks(yLo, yHi, 5)) {
      parts.push(`<line x1="${x0}" x2="${x0 + plotW}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#eee"/>`);
      parts.push(`<text x="${x0 - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end" font-size="11">${fy(t)}</text>`);
    }
    for (const t of niceTicks(xLo, xHi, 6)) {
      parts.push(`<line x1="${px(t).toFixed(1)}" x2="${px(t).toFixed(1)}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH + 4}" stroke="#888"/>`);
      parts.push(`<text x="${px(t).toFixed(1)}" y="${MARGIN.top + plotH + 17}" text-anchor="middle" font-size="11">${shortNumber(t)}</text>`);
    }
    parts.push(`<text x="${x0 + plotW / 2}" y="${height - 8}" text-anchor="middle" font-size="12">${escapeXml(panel.xLabel)}</text>`);
    parts.push(`<text transform="translate(${x0 - 48} ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(panel.yLabel)}</text>`);
    for (const line of panel.lines) {
      const finite = line.points.filter(([, y]) => Number.isFinite(y));
      const path = finite.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
      const style = line.faint ? 'stroke-width="1" stroke-opacity="0.3"' : 'stroke-width="2"';
      parts.push(`<polyline points="${path}" fill="none" stroke="${line.colour}" ${style}/>`);
      if (line.markers) for (const [x, y] of finite) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="4" fill="${line.colour}"/>`);
    }
  });
  return svgDocument(width, height, parts);
}
