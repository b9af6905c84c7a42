// The demo's report: intervals and verdicts from published worked examples, ratios by hand.
import { describe, expect, it } from 'vitest';
import { accuracyCostSvg, demoTable, demoVerdict, type DemoRow } from '../src/cli/demo-report.js';

const row = (model: string, clips: number, top1Hits: number, exactFlops: number, paperFlops: number, msPerClip: number): DemoRow => ({
  model, clips, top1Hits, top3Hits: clips, exactFlops, paperFlops, msPerStep: 10 * msPerClip, msPerClip, parameters: 1000, history: [],
});

describe('demo report', () => {
  // Newcombe (1998), Table II: 56/70 against 48/80, a difference of 0.2000 with 95% interval 0.0524 to 0.3339.
  const tl = row('TL', 70, 56, 100e6, 40e6, 2);
  const nt = row('NT', 80, 48, 550e6, 70e6, 8);

  it('states FLOP and time ratios and the accuracy difference with its interval', () => {
    const verdict = demoVerdict([tl, nt]);
    expect(verdict).toContain('5.5x fewer FLOPs (exact; 1.75x by the paper');
    expect(verdict).toContain('4.0x faster inference');
    // half the interval's width: (0.3339 - 0.0524) / 2 = 0.1408
    expect(verdict).toContain('+20.0 +/- 14.1 points top-1 (95%: better)');
    expect(demoVerdict([nt, tl])).toContain('-20.0 +/- 14.1 points top-1 (95%: worse)');
  });

  it('calls an interval that spans zero no clear difference', () => {
    expect(demoVerdict([row('TL', 400, 200, 1, 1, 1), row('NT', 400, 210, 1, 1, 1)])).toContain('(95%: no clear difference)');
  });

  it('prints each accuracy with its Wilson interval', () => {
    // Newcombe (1998), Table I: 81/263 has the Wilson interval 0.2553 to 0.3662.
    const table = demoTable([row('TL', 263, 81, 1, 1, 1), row('NT', 263, 81, 1, 1, 1)], 16);
    expect(table).toContain('| TL | 30.8% [25.5, 36.6] |');
    expect(table).toContain('ms / training step (batch 16)');
  });

  it("draws one point per model on each of the paper's three axes, with chance marked", () => {
    const svg = accuracyCostSvg([tl, nt], 'adapter <x>', 8);
    expect(svg.match(/<circle /g)).toHaveLength(6);
    expect(svg.match(/>chance</g)).toHaveLength(3);
    expect(svg).toContain('adapter &lt;x&gt;');
  });
});
