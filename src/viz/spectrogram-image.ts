// Renders a spectrogram [frames, bins] as a picture: time across, frequency up, decibels through viridis.
import { viridis } from './colormap.js';
import { encodePng } from './png.js';

export interface ImageOptions {
  /** Decibel range shown below the loudest bin. */
  dynamicRange?: number;
  /** Values are already logarithmic (log-mel): shown as they are. */
  logarithmic?: boolean;
  minWidth?: number;
  minHeight?: number;
}

export function spectrogramPng(values: Float32Array, frames: number, bins: number, options: ImageOptions = {}): Uint8Array {
  const { dynamicRange = 80, logarithmic = false, minWidth = 512, minHeight = 256 } = options;
  const level = Float64Array.from(values, (v) => (logarithmic ? v : 20 * Math.log10(Math.abs(v) + 1e-10)));
  const top = level.reduce((m, v) => Math.max(m, v), -Infinity);
  const bottom = logarithmic ? level.reduce((m, v) => Math.min(m, v), Infinity) : top - dynamicRange;
  const sx = Math.max(1, Math.ceil(minWidth / frames));
  const sy = Math.max(1, Math.ceil(minHeight / bins));
  const [width, height] = [frames * sx, bins * sy];
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const bin = bins - 1 - Math.floor(y / sy); // low frequencies at the bottom
    for (let x = 0; x < width; x++) {
      const frame = Math.floor(x / sx);
      const t = top > bottom ? (level[frame * bins + bin]! - bottom) / (top - bottom) : 0;
      rgb.set(viridis(t), (y * width + x) * 3);
    }
  }
  return encodePng(width, height, rgb);
}
