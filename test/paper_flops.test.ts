// The paper's FLOP convention, derived from the model's structure, reproduces its published counts.
import { describe, expect, it } from 'vitest';
import { countForward, paperTotal } from '../src/flops/accounting.js';
import { buildModel } from '../src/models/registry.js';
import { modelConfig } from '../src/models/config.js';
import { useEngine } from './helpers/gpu.js';

useEngine();

describe('paper convention', () => {
  const published: [string, number][] = [
    ['TASR_4L_NT-8H', 68_792_913],
    ['TASR_4L_8T-8H', 38_369_577],
    ['TESC_4L_NT-8H', 58_609_593],
    ['TESC_4L_8T-8H', 7_968_945],
  ];
  for (const [name, flops] of published) {
    it(`${name}: ${flops.toLocaleString('en-US')} FLOPs, as published`, async () => {
      const model = buildModel(modelConfig(name));
      const { tfOps } = await countForward(model, 1);
      expect(paperTotal(tfOps)).toBe(flops);
      model.dispose();
    });
  }
});

/** The paper's rules applied by hand (an independent derivation, as in the spec's worked example). */
function handPaperCount(family: 'TASR' | 'TESC', L: number, k: number, H: number): number {
  const C = 128;
  const K = family === 'TASR' ? 8 : 50;
  const [G, P, cin] = family === 'TASR' ? [8, 8, 16] : [10, 6, 1];
  const block = (T: number) => 36 * T * C + 6 * T + 4 * T * H * 128 + 5 * H * T * T + 8 * T * C * C;
  const e = 64 * 64 * 64;
  const o = 64 * 64 * 16;
  const mbconv = 2 * e + e + (2 * e + 6 * 64) + (2 * e * 9 + e + 2 * e + 6 * 64) + (2 * o * 64 + o + 2 * o + 6 * 16) + o;
  const S = G * G;
  const tokenLearner = 9 * S * C + 3 * S + (2 * S * k * 9 * C + 4 * S * k) + 2 * (2 * S * k * 9 * k + 4 * S * k) + 2 * S * k * 9 * k + 2 * k * S * C;
  const T = k > 0 ? k : S;
  return (
    2 * 4096 + 1 +
    (family === 'TASR' ? mbconv : 0) +
    2 * S * C * P * P * cin + S * C +
    (k > 0 ? tokenLearner : 0) +
    T * C +
    L * block(T) +
    9 * T * C + 3 * T + T * C + 2 * C * K + K + 5 * K
  );
}

describe("the rest of the paper's grid", () => {
  it('the spec\'s worked block example: T = 8, H = 8 gives 1,120,816 per block', () => {
    expect(handPaperCount('TASR', 5, 8, 8) - handPaperCount('TASR', 4, 8, 8)).toBe(1_120_816);
  });
  for (const name of ['TASR_8L_4T-12H', 'TASR_10L_NT-8H', 'TASR_12L_8T-12H', 'TESC_8L_4T-12H', 'TESC_12L_NT-12H']) {
    it(`${name} matches the rules applied by hand`, async () => {
      const [, family, L, k, H] = /^(TASR|TESC)_(\d+)L_(\d+|N)T-(\d+)H$/.exec(name)!;
      const model = buildModel(modelConfig(name));
      const { tfOps } = await countForward(model, 1);
      expect(paperTotal(tfOps)).toBe(handPaperCount(family as 'TASR', Number(L), k === 'N' ? 0 : Number(k), Number(H)));
      model.dispose();
    });
  }
});
