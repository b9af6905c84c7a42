// A heat map as a standalone SVG: a grid of values (columns across, rows up from the bottom) coloured through
// viridis, with labelled axes, a colour bar and a title. Spectrograms, and anything else drawn over time and
// frequency, use it. The image itself is a PNG inside the SVG, sampled to the plot's pixels.
import { viridis } from './colormap.js';
import { encodePng } from './png.js';
import { escapeXml, svgDocument } from './scatter.js';

export interface Tick {
  /** Where, in columns (x) or rows (y) from the grid's first, fractions allowed; for the colour bar, a value. */
  at: number;
  label: string;
}

export interface Heatmap {
  /** values[column * rows + row]; row 0 is drawn at the bottom. */
  values: Float32Array | Float64Array;
  columns: number;
  rows: number;
  title: string;
  /** A second, smaller title line (the settings). */
  subtitle?: string;
  x: { title: string; ticks: Tick[] };
  y: { title: string; ticks: Tick[] };
  /** The colour scale: values at or below lo are darkest, at or above hi brightest. */
  colour: { title: string; lo: number; hi: number; ticks: Tick[] };
}

const MARGIN = { left: 84, right: 110, top: 58, bottom: 52 };

/** Nearest-neighbour for upsampling; the loudest of the covered cells where a pixel covers several (transients stay visible). */
function raster(h: Heatmap, width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  const span = (pixel: number, pixels: number, cells: number): [number, number] => {
    const a = Math.floor((pixel * cells) / pixels);
    return [a, Math.max(a + 1, Math.floor(((pixel + 1) * cells) / pixels))];
  };
  const colourOf = (v: number) => viridis((v - h.colour.lo) / (h.colour.hi - h.colour.lo));
  for (let px = 0; px < width; px++) {
    const [c0, c1] = span(px, width, h.columns);
    for (let py = 0; py < height; py++) {
      const [r0, r1] = span(height - 1 - py, height, h.rows);
      let v = -Infinity;
      for (let c = c0; c < c1; c++) for (let r = r0; r < r1; r++) v = Math.max(v, h.values[c * h.rows + r]!);
      rgb.set(colourOf(v), (py * width + px) * 3);
    }
  }
  return rgb;
}

function base64(bytes: Uint8Array): string {
  let text = '';
  // String.fromCharCode takes its arguments on the stack: a chunk at a time
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

const dataUri = (png: Uint8Array) => `data:image/png;base64,${base64(png)}`;

export function heatmapSvg(h: Heatmap, width = 900, height = 440): string {
  return svgDocument(width, height, heatmapParts(h, width, height));
}

/** The heat map's SVG elements in a width x height box from (0, 0): for pictures made of several panels. */
export function heatmapParts(h: Heatmap, width: number, height: number): string[] {
  if (h.values.length !== h.columns * h.rows) throw new Error(`heatmapSvg: ${h.values.length} values for ${h.columns} x ${h.rows}`);
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const [x0, y0] = [MARGIN.left, MARGIN.top];
  const px = (column: number) => x0 + (column / h.columns) * plotW;
  const py = (row: number) => y0 + plotH - (row / h.rows) * plotH;
  const parts: string[] = [];
  parts.push(`<text x="${x0}" y="22" font-size="15" font-weight="bold">${escapeXml(h.title)}</text>`);
  if (h.subtitle) parts.push(`<text x="${x0}" y="40" font-size="11" fill="#444">${escapeXml(h.subtitle)}</text>`);
  parts.push(`<image x="${x0}" y="${y0}" width="${plotW}" height="${plotH}" preserveAspectRatio="none" href="${dataUri(encodePng(plotW, plotH, raster(h, plotW, plotH)))}"/>`);
  parts.push(`<rect x="${x0}" y="${y0}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  for (const t of h.x.ticks) {
    const x = px(t.at).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${y0 + plotH}" y2="${y0 + plotH + 5}" stroke="#333"/>`);
    parts.push(`<text x="${x}" y="${y0 + plotH + 18}" text-anchor="middle" font-size="11">${escapeXml(t.label)}</text>`);
  }
  for (const t of h.y.ticks) {
    const y = py(t.at).toFixed(1);
    parts.push(`<line x1="${x0 - 5}" x2="${x0}" y1="${y}" y2="${y}" stroke="#333"/>`);
    parts.push(`<text x="${x0 - 8}" y="${(py(t.at) + 4).toFixed(1)}" text-anchor="end" font-size="11">${escapeXml(t.label)}</text>`);
  }
  parts.push(`<text x="${x0 + plotW / 2}" y="${height - 12}" text-anchor="middle" font-size="12">${escapeXml(h.x.title)}</text>`);
  parts.push(`<text transform="translate(16 ${y0 + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(h.y.title)}</text>`);
  // the colour bar: a column of the scale, brightest at the top
  const [barX, barW] = [x0 + plotW + 18, 16];
  const steps = 128;
  const bar = new Uint8Array(steps * 3);
  for (let i = 0; i < steps; i++) bar.set(viridis(1 - i / (steps - 1)), i * 3);
  parts.push(`<image x="${barX}" y="${y0}" width="${barW}" height="${plotH}" preserveAspectRatio="none" href="${dataUri(encodePng(1, steps, bar))}"/>`);
  parts.push(`<rect x="${barX}" y="${y0}" width="${barW}" height="${plotH}" fill="none" stroke="#333"/>`);
  const { lo, hi } = h.colour;
  for (const t of h.colour.ticks) {
    const y = y0 + (1 - (t.at - lo) / (hi - lo)) * plotH;
    parts.push(`<line x1="${barX + barW}" x2="${barX + barW + 4}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#333"/>`);
    parts.push(`<text x="${barX + barW + 7}" y="${(y + 4).toFixed(1)}" font-size="11">${escapeXml(t.label)}</text>`);
  }
  parts.push(`<text transform="translate(${width - 10} ${y0 + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(h.colour.title)}</text>`);
  return parts;
}
