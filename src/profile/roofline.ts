// The roofline of a profile: log-log GFLOP/s against arithmetic intensity, the roof min(peak GFLOP/s,
// intensity x peak GB/s) from the machine's measured peaks, and one dot per kernel sized by its share of the time.
import { scatterSvg } from '../viz/scatter.js';
import type { Peaks } from './peaks.js';
import type { ProfileRow } from './report.js';

export function rooflineSvg(rows: readonly ProfileRow[], peaks: Peaks, title: string): string {
  const timed = rows.filter((r) => r.flops > 0 && r.ms > 0 && r.intensity > 0);
  const total = timed.reduce((s, r) => s + r.ms, 0) || 1;
  const intensities = timed.map((r) => r.intensity);
  const lo = Math.min(0.01, ...intensities) / 2;
  const hi = Math.max(100, ...intensities) * 2;
  const ridge = peaks.gflops / peaks.gbps;
  const labelled = new Set(timed.slice().sort((a, b) => b.ms - a.ms).slice(0, 6));
  return scatterSvg({
    title,
    xLabel: 'arithmetic intensity (FLOP per byte read or written)',
    yLabel: 'achieved GFLOP/s',
    xLog: true,
    yLog: true,
    lines: [
      {
        points: [[lo, lo * peaks.gbps], [ridge, peaks.gflops], [hi, peaks.gflops]],
        colour: '#d62728',
        label: `roof: ${peaks.gflops.toFixed(1)} GFLOP/s (best matmul), ${peaks.gbps.toFixed(1)} GB/s (copy)`,
      },
    ],
    points: timed.map((r) => ({
      x: r.intensity,
      y: Math.max(r.gflops, 1e-4),
      radius: 3 + 22 * Math.sqrt(r.ms / total),
      label: labelled.has(r) ? `${r.name} ${(100 * r.share).toFixed(0)}%` : undefined,
    })),
  });
}
