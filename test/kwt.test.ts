// Beyond the paper: the MFCC front end against a float64 pipeline written from TensorFlow's definitions, KWT's
// post-LN block against a float64 forward pass, KWT's parameter counts against hand-derived formulas and the
// published sizes, gradients against finite differences, TokenLearner's maps, names and checkpoints.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mfccMatrix, spectrogram, spectrogramShape, type SpectrogramConfig } from '../src/audio/spectrogram.js';
import { countForward, countUnder } from '../src/flops/accounting.js';
import { loadModel, saveModel } from '../src/models/checkpoint-folder.js';
import { inputShape, modelConfig, ModelConfigError, protocolOf } from '../src/models/config.js';
import { KWT_SIZES, KWT_SPECTROGRAM } from '../src/models/kwt-config.js';
import { cellWeights, explainClip, explanationSvg } from '../src/models/explain.js';
import { buildModel } from '../src/models/registry.js';
import { PostNormTransformerBlock, TokenLearnerV1 } from '../src/nn/blocks.js';
import { crossEntropy } from '../src/ops/softmax.js';
import { noGrad, tidy } from '../src/tensor/engine.js';
import { Tensor } from '../src/tensor/tensor.js';
import { seededRandom } from '../src/util/random.js';
import { expectClose, randomArray, useEngine } from './helpers/gpu.js';
import { directionalCheck } from './helpers/gradients.js';
import { erf64 } from './reference/counter.js';

useEngine();

/** TensorFlow's linear_to_mel_weight_matrix in float64 (HTK mel, bins at k * rate / n, the DC row zero), 20 Hz to Nyquist. */
function melWeights64(bins: number, bands: number, rate: number): Float64Array {
  const mel = (hz: number) => 1127 * Math.log(1 + hz / 700);
  const [lo, hi] = [mel(20), mel(rate / 2)];
  const edge = (i: number) => lo + ((hi - lo) * i) / (bands + 1);
  const w = new Float64Array(bins * bands);
  for (let k = 1; k < bins; k++) {
    const m = mel((k * rate) / (2 * (bins - 1)));
    for (let b = 0; b < bands; b++) {
      const rising = (m - edge(b)) / (edge(b + 1) - edge(b));
      const falling = (edge(b + 2) - m) / (edge(b + 2) - edge(b + 1));
      w[k * bands + b] = Math.max(0, Math.min(rising, falling));
    }
  }
  return w;
}

/** MFCCs in float64 as TensorFlow computes them: periodic Hann, |DFT|^2, mel, ln(. + 1e-6), DCT-II (2 sum ...) / sqrt(2N). */
function mfcc64(x: Float64Array, c: SpectrogramConfig): Float64Array[] {
  const bins = c.fftLength / 2 + 1;
  const mel = melWeights64(bins, c.melBins, c.sampleRate);
  const out: Float64Array[] = [];
  for (let start = 0; start + c.frameLength <= x.length; start += c.hop) {
    const power = new Float64Array(bins);
    for (let k = 0; k < bins; k++) {
      let [re, im] = [0, 0];
      for (let j = 0; j < c.frameLength; j++) {
        const v = x[start + j]! * (0.5 - 0.5 * Math.cos((2 * Math.PI * j) / c.frameLength));
        re += v * Math.cos((2 * Math.PI * k * j) / c.fftLength);
        im -= v * Math.sin((2 * Math.PI * k * j) / c.fftLength);
      }
      power[k] = re * re + im * im;
    }
    const logMel = Array.from({ length: c.melBins }, (_, b) => Math.log(power.reduce((s, p, k) => s + p * mel[k * c.melBins + b]!, 0) + 1e-6));
    const N = c.melBins;
    out.push(Float64Array.from({ length: c.mfccs }, (_, k) => (2 * logMel.reduce((s, v, n) => s + v * Math.cos((Math.PI * k * (2 * n + 1)) / (2 * N)), 0)) / Math.sqrt(2 * N)));
  }
  return out;
}

describe('MFCC front end', () => {
  it("the DCT is TensorFlow's HTK scaling: orthonormal columns but the first, whose squared norm is 2", () => {
    const N = 40;
    const d = mfccMatrix(N, N);
    for (let k = 0; k < N; k++) {
      for (let j = 0; j < N; j++) {
        let dot = 0;
        for (let n = 0; n < N; n++) dot += d[n * N + k]! * d[n * N + j]!;
        expect(dot).toBeCloseTo(k !== j ? 0 : k === 0 ? 2 : 1, 5);
      }
    }
  });

  it("KWT's front end: a 1 s clip at 16 kHz gives 98 frames x 40 MFCCs matching a float64 pipeline", async () => {
    const config: SpectrogramConfig = { ...KWT_SPECTROGRAM };
    expect(spectrogramShape(16000, config)).toEqual([98, 40]);
    const signal = Float64Array.from(Float32Array.from(randomArray(16000, 9, -0.3, 0.3)));
    for (let i = 0; i < 16000; i++) signal[i] = Math.fround(0.5 * Math.sin((2 * Math.PI * 700 * i) / 16000) + signal[i]!);
    const out = spectrogram(Tensor.from(signal, [1, 16000]), config);
    expect(out.shape).toEqual([1, 98, 40]);
    const expected = Float64Array.from(mfcc64(signal, config).flatMap((f) => [...f]));
    // log-mel values are ~1-10 in magnitude: float32 rounding of the power spectrum shows in the 4th-5th digit
    expectClose(await out.data(), expected, 2e-3, 1e-3);
    out.dispose();
  });

  it('keeps the first mfccs coefficients of melBins, and refuses more', async () => {
    const signal = Tensor.from(randomArray(8000, 3, -0.5, 0.5), [1, 8000]);
    const all = await spectrogram(signal, { ...KWT_SPECTROGRAM, mfccs: 40 }).data();
    const first13 = await spectrogram(signal, { ...KWT_SPECTROGRAM, mfccs: 13 }).data();
    const frames = first13.length / 13;
    for (let f = 0; f < frames; f++) expectClose(first13.subarray(f * 13, f * 13 + 13), all.subarray(f * 40, f * 40 + 13), 1e-4, 1e-4);
    expect(() => spectrogram(signal, { ...KWT_SPECTROGRAM, mfccs: 41 })).toThrow(/mfccs must be from 1 to melBins \(40\)/);
  });
});

const layerNorm64 = (row: number[], gamma: Float32Array, beta: Float32Array) => {
  const mean = row.reduce((s, v) => s + v, 0) / row.length;
  const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / row.length;
  return row.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-6)) * gamma[i]! + beta[i]!);
};
const matmul64 = (x: number[][], w: Float32Array, cols: number, bias?: Float32Array) =>
  x.map((row) => Array.from({ length: cols }, (_, j) => row.reduce((s, v, i) => s + v * w[i * cols + j]!, bias ? bias[j]! : 0)));
const gelu64 = (v: number) => 0.5 * v * (1 + erf64(v / Math.SQRT2));

describe("KWT's post-LN block", () => {
  it('LN(x + MHA(x)) then LN(. + MLP(.)) matches a float64 forward pass (Q, K, V without biases)', async () => {
    const [T, C, H, D, M] = [7, 12, 3, 4, 20];
    const block = new PostNormTransformerBlock({ width: C, heads: H, headDim: D, mlp: M, dropout: 0 }, seededRandom(4));
    const p = new Map<string, Float32Array>();
    for (const [name, t] of block.namedParameters()) p.set(name, await t.data());
    expect([...p.keys()].filter((n) => n.includes('bias')).sort()).toEqual(['attention.output.bias', 'mlp0.bias', 'mlp1.bias']);
    // non-trivial norms and biases, so that every parameter shows in the output
    for (const [name, t] of block.namedParameters()) {
      if (/gamma|beta|bias/.test(name)) {
        const values = randomArray(t.size, name.length, -0.5, 0.5).map((v) => (name.endsWith('gamma') ? 1 + v : v));
        t.write(values);
        p.set(name, Float32Array.from(values));
      }
    }
    const input = randomArray(T * C, 5);
    const x = Array.from({ length: T }, (_, t) => [...input.subarray(t * C, (t + 1) * C)]);
    const [q, k, v] = ['query', 'key', 'value'].map((n) => matmul64(x, p.get(`attention.${n}.kernel`)!, H * D)) as [number[][], number[][], number[][]];
    const heads = x.map(() => new Array<number>(H * D).fill(0));
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const scores = Array.from({ length: T }, (_, j) => Array.from({ length: D }, (_, d) => q[i]![h * D + d]! * k[j]![h * D + d]!).reduce((s, z) => s + z, 0) / Math.sqrt(D));
        const top = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - top));
        const total = e.reduce((s, z) => s + z, 0);
        for (let d = 0; d < D; d++) heads[i]![h * D + d] = e.reduce((s, w, j) => s + (w / total) * v[j]![h * D + d]!, 0);
      }
    }
    const attended = matmul64(heads, p.get('attention.output.kernel')!, C, p.get('attention.output.bias'));
    const h1 = x.map((row, t) => layerNorm64(row.map((z, i) => z + attended[t]![i]!), p.get('norm1.gamma')!, p.get('norm1.beta')!));
    const hidden = matmul64(h1, p.get('mlp0.kernel')!, M, p.get('mlp0.bias')).map((row) => row.map(gelu64));
    const mlp = matmul64(hidden, p.get('mlp1.kernel')!, C, p.get('mlp1.bias'));
    const expected = h1.flatMap((row, t) => layerNorm64(row.map((z, i) => z + mlp[t]![i]!), p.get('norm2.gamma')!, p.get('norm2.beta')!));
    const out = noGrad(() => tidy(() => block.call(Tensor.from(input, [1, T, C]), { training: false })));
    expectClose(await out.data(), expected, 2e-5, 1e-4);
    out.dispose();
    block.dispose();
  });
});

describe('KWT models', () => {
  /** KWT's parameters by hand: projection, class token, positions, 12 x (Q/K/V without bias, output, MLP, 2 LayerNorms), head. */
  function kwtParameters(width: number, heads: number, mlp: number, classes: number, frames = 98, features = 40, headDim = 64): number {
    const inner = heads * headDim;
    const block = 3 * width * inner + (inner * width + width) + (width * mlp + mlp) + (mlp * width + width) + 2 * 2 * width;
    return features * width + width + width + (frames + 1) * width + 12 * block + width * classes + classes;
  }

  it('KWT-1/2/3 have the parameters the formula gives, within 1% of the published 607 K, 2.4 M and 5.4 M (35 classes)', () => {
    for (const size of [1, 2, 3]) {
      const model = buildModel(modelConfig(`KWT-${size}`, { classes: 35 }));
      const { width, heads, mlp, publishedParameters } = KWT_SIZES[size]!;
      expect(model.parameterCount()).toBe(kwtParameters(width, heads, mlp, 35));
      expect(Math.abs(model.parameterCount() / publishedParameters - 1)).toBeLessThan(0.01);
      model.dispose();
    }
  });

  it('names say the size, the learned tokens and where they are learned; wrong names and options say what is valid', () => {
    expect(modelConfig('KWT-2')).toMatchObject({ family: 'KWT', width: 128, heads: 2, mlp: 512, blocks: 12, tokens: 0 });
    expect(modelConfig('KWT-1_8T')).toMatchObject({ tokens: 8, tokenLearnerAt: 0, tokenLearnerVersion: 'v1.1' });
    expect(modelConfig('KWT-1_4T@6', { tokenLearnerVersion: 'v1' })).toMatchObject({ tokens: 4, tokenLearnerAt: 6, tokenLearnerVersion: 'v1' });
    expect(inputShape(modelConfig('KWT-1'), 5)).toEqual([5, 98, 40]);
    expect(protocolOf(modelConfig('KWT-1'))).toMatchObject({ batchSize: 64, schedule: 'cosine', lr: 2e-4, topK: [3] });
    expect(protocolOf(modelConfig('TESC_4L_8T-8H'))).toMatchObject({ batchSize: 32, schedule: 'paper', warmup: { warmupStart: 1e-6, warmupEpochs: 4 }, topK: [3, 5] });
    expect(() => modelConfig('KWT-4')).toThrow(/KWT comes in sizes 1, 2 and 3/);
    expect(() => modelConfig('KWT-1_8T@12')).toThrow(/from 0 to 11, got 12/);
    expect(() => modelConfig('KWT-1_0T')).toThrow(ModelConfigError);
    expect(() => modelConfig('KWT-1', { patch: 4 } as never)).toThrow(/unknown model option 'patch'. Valid options: classes, tokenLearnerVersion/);
    expect(() => modelConfig('KWT-1', { spectrogram: { output: 'magnitude' } })).toThrow(/KWT takes MFCCs or log-mel frames/);
    expect(() => modelConfig('KWT1')).toThrow(/KWT-\{1,2,3\}/);
  });

  it('TokenLearner over time: v1.1 weights sum to 1 over the frames, v1 maps lie in (0, 1); k tokens before block 0 cut the exact FLOPs more than k tokens before block 6', async () => {
    const x = Tensor.from(randomArray(2 * 98 * 40, 6, -2, 2), [2, 98, 40]);
    for (const [version, at] of [['v1.1', 0], ['v1', 5]] as const) {
      const model = buildModel(modelConfig(`KWT-1_6T@${at}`, { tokenLearnerVersion: version }));
      const { logits, maps } = model.forwardWithTokenMaps(x);
      expect(logits.shape).toEqual([2, 8]);
      expect(maps).toHaveLength(1);
      expect(maps[0]).toMatchObject({ layout: { kind: 'time', frames: 98 }, beforeBlock: at });
      expect(maps[0]!.weights.shape).toEqual([2, 6, 98]);
      const w = await maps[0]!.weights.data();
      if (version === 'v1.1') {
        for (let r = 0; r < 12; r++) expect(w.subarray(r * 98, (r + 1) * 98).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
      } else {
        expect(w.every((v) => v > 0 && v < 1)).toBe(true);
      }
      // the maps come from the same pass as the logits
      const plain = noGrad(() => tidy(() => model.forward(x, { training: false })));
      expect([...(await plain.data())]).toEqual([...(await logits.data())]);
      for (const t of [plain, logits, maps[0]!.weights]) t.dispose();
      model.dispose();
    }
    const exact = async (name: string) => {
      const model = buildModel(modelConfig(name));
      const { records } = await countForward(model);
      model.dispose();
      return countUnder('exact', records);
    };
    const [none, late, early] = [await exact('KWT-1'), await exact('KWT-1_6T@6'), await exact('KWT-1_6T@0')];
    expect(early).toBeLessThan(late);
    expect(late).toBeLessThan(none);
    // 7 tokens instead of 99 in 12 blocks: the blocks' work falls more than tenfold
    expect(early / none).toBeLessThan(0.1);
  });

  it('the 1-D TokenLearner v1 and a whole KWT with TokenLearner: gradients against finite differences', async () => {
    const input = (shape: number[], seed: number) => {
      const t = Tensor.from(randomArray(shape.reduce((a, b) => a * b, 1), seed), shape).keep();
      t.requiresGrad = true;
      return t;
    };
    const tl = new TokenLearnerV1(6, 3, seededRandom(2), [3, 1]);
    const frames = input([2, 9, 1, 6], 3);
    await directionalCheck(tl, frames, (f) => tl.forward(f, { training: false }), [frames, ...tl.parameters()]);
    tl.dispose();

    const model = buildModel(modelConfig('KWT-1_4T@3', { tokenLearnerVersion: 'v1', seed: 5 }));
    const features = Tensor.from(randomArray(2 * 98 * 40, 8, -1, 1), [2, 98, 40]).keep();
    const labels = Tensor.from([1, 6], [2], 'i32').keep();
    const named = new Map(model.namedParameters());
    const picks = ['projection.kernel', 'class_token', 'position.table', 'token_learner.conv0.kernel', 'blocks.3.attention.query.kernel', 'blocks.11.norm2.gamma', 'head.bias'].map((n) => named.get(n)!);
    await directionalCheck(model, features, (f) => crossEntropy(model.forward(f, { training: true }), labels), picks, 1e-3, 5e-2);
    model.dispose();
  });

  it('save -> load gives the same logits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-kwt-'));
    const model = buildModel(modelConfig('KWT-1_8T@2', { seed: 7, classes: 5 }));
    const x = Tensor.from(randomArray(98 * 40, 2), [1, 98, 40]);
    const before = noGrad(() => tidy(() => model.forward(x, { training: false })));
    await saveModel(dir, model);
    const loaded = await loadModel(dir);
    expect(loaded.config).toEqual(model.config);
    const after = noGrad(() => tidy(() => loaded.forward(x, { training: false })));
    expect([...(await after.data())]).toEqual([...(await before.data())]);
    for (const t of [before, after]) t.dispose();
    model.dispose();
    loaded.dispose();
  });
});

describe('what the learned tokens look at', () => {
  it("carries a patch grid's weights back to the spectrogram cells each patch covers (half-pixel resize), and a frame's to its column", () => {
    // TASR: 124 frames x 129 bins resized to 64 x 64, 8 x 8 patches of 8 pixels: frame f lies in image row floor((f + 0.5) 64 / 124)
    const tasr = { kind: 'grid', rows: 8, columns: 8, patch: 8, imageSize: 64 } as const;
    const weights = Float32Array.from({ length: 64 }, (_, p) => p);
    const cells = cellWeights(tasr, weights, 124, 129);
    const at = (f: number, b: number) => cells[f * 129 + b];
    // frames 0-14 fall in image rows 0-7 (grid row 0), frame 15 in row 8; bins 0-15 in columns 0-7, bin 16 in column 8
    expect([at(0, 0), at(123, 128), at(14, 0), at(15, 0), at(0, 15), at(0, 16)]).toEqual([0, 63, 0, 8, 0, 1]);
    // TESC: 10 x 10 patches of 6 cover 60 of 64 rows: the last frames and bins belong to no patch
    const tesc = { kind: 'grid', rows: 10, columns: 10, patch: 6, imageSize: 64 } as const;
    const esc = cellWeights(tesc, Float32Array.from({ length: 100 }, () => 1), 124, 129);
    expect([esc[0], esc[123 * 129], esc[116 * 129], esc[115 * 129]]).toEqual([1, 0, 0, 1]);
    const time = cellWeights({ kind: 'time', frames: 3 }, Float32Array.from([0.2, 0.5, 0.3]), 3, 2);
    expect([...time]).toEqual([0.2, 0.2, 0.5, 0.5, 0.3, 0.3].map(Math.fround));
  });

  it('explains a clip: the top classes, each token over the drawn spectrogram (log-mel for MFCC models); a model without TokenLearner is refused', async () => {
    const clip = Float32Array.from({ length: 16000 }, (_, i) => 0.3 * Math.sin(i / 7) * (i > 6000 && i < 9000 ? 1 : 0.01));
    const model = buildModel(modelConfig('KWT-1_4T@2', { classNames: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] }));
    const e = await explainClip(model, clip, 2);
    expect(e.top).toHaveLength(2);
    expect(e.top[0]!.probability).toBeGreaterThanOrEqual(e.top[1]!.probability);
    expect(e.picture).toMatchObject({ frames: 98, bins: 40, config: { output: 'logmel' } });
    expect(e.learners).toHaveLength(1);
    expect(e.learners[0]!.weights).toHaveLength(4);
    expect(e.learners[0]!.cells[3]![50 * 40 + 7]).toBe(e.learners[0]!.weights[3]![50]);
    expect(explanationSvg([{ explanation: e, name: 'clip.wav' }])).toContain('token 3 (before block 2, over the 98 frames)');
    model.dispose();
    const nt = buildModel(modelConfig('KWT-1'));
    await expect(explainClip(nt, clip)).rejects.toThrow(/KWT-1 has no TokenLearner/);
    nt.dispose();
  });
});
