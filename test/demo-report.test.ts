// The demo's report and budget: intervals and verdicts from published worked examples, ratios, budgets and
// curves by hand.
import { describe, expect, it } from 'vitest';
import { planBudget, predict, type BudgetInputs } from '../src/cli/demo-budget.js';
import { accuracyCostSvg, curves, demoTable, demoVerdict, type DemoRow, type VerdictBasis } from '../src/cli/demo-report.js';
import { movingAverage } from '../src/viz/curves.js';

const row = (model: string, clips: number, top1Hits: number, exactFlops: number, paperFlops: number, msPerClip: number): DemoRow => ({
  model, clips, top1Hits, top3Hits: clips, exactFlops, paperFlops, msPerStep: 10 * msPerClip, msPerClip, parameters: 1000, history: [], stepLosses: [],
});

/** The paper's protocol run in full: a verdict may then say better or worse. */
const FULL: VerdictBasis = { updates: 2000, trainClips: 6400, budgetMinutes: 60, paperUpdates: 2000, paperTrainClips: 6400 };
const SHORT: VerdictBasis = { updates: 144, trainClips: 1152, budgetMinutes: 12, paperUpdates: 2000, paperTrainClips: 6400 };

describe('demo report', () => {
  // Newcombe (1998), Table II: 56/70 against 48/80, a difference of 0.2000 with 95% interval 0.0524 to 0.3339.
  const tl = row('TL', 70, 56, 100e6, 40e6, 2);
  const nt = row('NT', 80, 48, 550e6, 70e6, 8);

  it('states FLOP and time ratios and the accuracy difference with its interval', () => {
    const verdict = demoVerdict([tl, nt], FULL);
    expect(verdict).toContain('5.5x fewer FLOPs (exact; 1.75x by the paper');
    expect(verdict).toContain('4.0x faster inference');
    // half the interval's width: (0.3339 - 0.0524) / 2 = 0.1408
    expect(verdict).toContain('+20.0 +/- 14.1 points top-1 (95%: better)');
    expect(demoVerdict([nt, tl], FULL)).toContain('-20.0 +/- 14.1 points top-1 (95%: worse)');
  });

  it('calls an interval that spans zero no clear difference', () => {
    expect(demoVerdict([row('TL', 400, 200, 1, 1, 1), row('NT', 400, 210, 1, 1, 1)], FULL)).toContain('(95%: no clear difference)');
  });

  it('a run shorter than the paper names its updates, clips and budget, and calls nothing better', () => {
    const verdict = demoVerdict([tl, nt], SHORT);
    expect(verdict).toContain('after 144 updates each on 1,152 clips (a 12-minute budget): +20.0 +/- 14.1 points top-1');
    expect(verdict).toContain('95% interval [5.2, 33.4]');
    expect(verdict).toContain('the paper trains 2,000 updates on 6,400 clips');
    expect(verdict).toContain('favours the model that learns fastest per update');
    expect(verdict).not.toMatch(/better|worse/);
    // enough updates but less data is short too
    expect(demoVerdict([tl, nt], { ...FULL, trainClips: 1000 })).not.toContain('95%: better');
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

  it('draws every update faint under its centred moving average, and the validation accuracy as a dot per epoch at its last update', () => {
    expect(movingAverage([1, 2, 3, 4, 5, 6], 3)).toEqual([1.5, 2, 3, 4, 5, 5.5]);
    const losses = Array.from({ length: 80 }, (_, i) => 2 - i / 80);
    const history = [1, 2].map((epoch) => ({ epoch, steps: 40, validationAccuracy: 0.25 * epoch }) as DemoRow['history'][number]);
    const svg = curves([{ ...tl, stepLosses: losses, history }, { ...nt, stepLosses: losses.slice(0, 60), history: history.slice(0, 1) }]);
    expect(svg.match(/stroke-opacity="0.3"/g)).toHaveLength(2); // the raw losses, one line a model
    expect(svg.match(/<polyline /g)).toHaveLength(2 * 2 + 2);
    expect(svg.match(/<circle /g)).toHaveLength(3); // two epochs and one
    // 80 updates: a window of 2 round(80 / 40) + 1 = 5
    expect(svg).toContain('moving average over 5 updates');
    expect(svg).toContain('>update (a dot per epoch)</text>');
    // the legend sits above the panels (y < 78), clear of the plots
    for (const name of ['TL', 'NT']) expect(svg).toMatch(new RegExp(`<text x="[\\d.]+" y="22" font-size="13">${name}</text>`));
  });
});

describe('demo budget', () => {
  // A machine where a clip costs 20 ms to make, TL 0.8 s and NT 2.9 s a step at batch 16, 14 and 60 ms a clip to infer.
  const inputs: BudgetInputs = {
    seconds: 600, batchSize: 16, dataClipSeconds: 0.02, testClips: 400, words: 8,
    models: [{ name: 'TL', stepSeconds: 0.8, clipSeconds: 0.014 }, { name: 'NT', stepSeconds: 2.9, clipSeconds: 0.06 }],
    maxPerClass: 1000, maxEpochs: 20, minPerClass: 20, baseEpochs: 2,
  };

  it('predicts generation, both models\' updates, validation each epoch and the test set twice', () => {
    // 160 per word: 1,280 clips, 1,024 to train on (64 steps an epoch), 128 to validate
    const p = predict(inputs, 160, 2);
    expect(p.updates).toBe(128);
    expect(p.trainClips).toBe(1024);
    const byHand = 1280 * 0.02 + (128 * 0.8 + (2 * 128 + 800) * 0.014) + (128 * 2.9 + (2 * 128 + 800) * 0.06);
    expect(p.seconds).toBeCloseTo(byHand, 9);
  });

  it('chooses the most clips per word (a multiple of 10) that fit at two epochs, each model the same updates', () => {
    const b = planBudget(inputs);
    expect(b.epochs).toBe(2);
    expect(b.perClass % 10).toBe(0);
    expect(b.predictedSeconds).toBeLessThanOrEqual(600);
    expect(predict(inputs, b.perClass + 10, 2).seconds).toBeGreaterThan(600);
    expect(b.tooSmall).toBe(false);
  });

  it("adds epochs only once the paper's 1,000 clips per word fit, up to its 20", () => {
    const fast = { ...inputs, models: inputs.models.map((m) => ({ ...m, stepSeconds: m.stepSeconds / 1000, clipSeconds: m.clipSeconds / 1000 })), dataClipSeconds: 0.0001 };
    const b = planBudget({ ...fast, seconds: 60 });
    expect(b.perClass).toBe(1000);
    expect(b.epochs).toBeGreaterThan(2);
    expect(b.epochs).toBeLessThanOrEqual(20);
    expect(planBudget({ ...fast, seconds: 1e6 }).epochs).toBe(20);
  });

  it('keeps what the user fixed, and says when even the smallest run does not fit', () => {
    const fixed = planBudget({ ...inputs, perClass: 100, epochs: 3 });
    expect([fixed.perClass, fixed.epochs]).toEqual([100, 3]);
    const tiny = planBudget({ ...inputs, seconds: 5 });
    expect([tiny.perClass, tiny.epochs, tiny.tooSmall]).toEqual([20, 1, true]);
  });
});
