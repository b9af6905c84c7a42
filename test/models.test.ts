// The paper's modules and models: exact FLOPs against hand-derived formulas, gradients against finite
// differences, names and options, checkpoints.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countForward, countUnder } from '../src/flops/accounting.js';
import { CheckpointError } from '../src/models/checkpoint.js';
import { saveModel, loadModel, readCheckpointConfig } from '../src/models/checkpoint-folder.js';
import { ClipClassifier, predictClips } from '../src/models/predict.js';
import { buildModel } from '../src/models/registry.js';
import { modelConfig, ModelConfigError } from '../src/models/config.js';
import { MBConv, TokenFuser, TokenLearnerV1, TokenLearnerV11, TransformerBlock, MultiHeadAttention, ClassifierHead } from '../src/nn/blocks.js';
import { BatchNorm, Conv2d, Dense, LayerNorm } from '../src/nn/layers.js';
import type { Module } from '../src/nn/module.js';
import { backward } from '../src/ops/autograd.js';
import { crossEntropy } from '../src/ops/softmax.js';
import { mul, sum } from '../src/ops/index.js';
import { exactFlops, Ledger } from '../src/index.js';
import { engine, noGrad, tidy } from '../src/tensor/engine.js';
import { packTensors } from '../src/tensor/pack.js';
import { withVariant } from '../src/kernels/tuner.js';
import { Tensor } from '../src/tensor/tensor.js';
import { seededRandom } from '../src/util/random.js';
import { expectClose, randomArray, useEngine } from './helpers/gpu.js';
import { directionalCheck } from './helpers/gradients.js';

const env = useEngine();

async function exactOf(fn: () => void): Promise<number> {
  const { records } = await env.engine.ledger.capture(() => noGrad(() => tidy(fn)));
  return exactFlops(Ledger.total(records));
}

describe('exact FLOPs against hand-derived formulas (inference, batch 1)', () => {
  // a row per invocation; with the GPU kernel variants (untuned), a workgroup per row whose L lanes (the largest
  // power of two up to 64 not above n) each sum from zero, their parts added: 2 (L - 1) + 1 more adds
  const layerNorm = (rows: number, n: number) =>
    8 * rows * n + 3 * rows + (env.engine.runtime.kernelVariants === 'gpu' ? rows * (2 * Math.min(64, 2 ** Math.floor(Math.log2(n))) - 1) : 0);
  const gelu = (n: number) => 5 * n;
  const linear = (rows: number, fin: number, fout: number) => 2 * rows * fin * fout + rows * fout;

  it('a transformer block: LayerNorms, Q/K/V/output projections, both attention products, softmax, MLP', async () => {
    const [T, C, H, D, M] = [10, 16, 3, 8, 24];
    const block = new TransformerBlock({ width: C, heads: H, keyDim: D, mlp: [M, C], dropout: 0.1 }, seededRandom(1));
    const x = Tensor.from(randomArray(T * C, 2), [1, T, C]);
    const got = await exactOf(() => void block.call(x, { training: false }));
    // softmax per row: T-1 compares, 2T adds, T exps, 1 divide, T multiplies; fused (the GPU kernel variants'
    // attention): T compares (from a floor), 2T adds and 3 per score totalling its vec4 dot product's lanes, T exps,
    // 1 divide, T multiplies
    const softmax = env.engine.runtime.kernelVariants === 'gpu' ? H * T * (8 * T + 1) : 5 * H * T * T;
    const attention =
      3 * linear(T, C, H * D) + // projections
      (2 * H * T * T * D + H * T * T) + // scores with the 1/sqrt(D) scale
      softmax +
      2 * H * T * T * D + // weighted values
      linear(T, H * D, C);
    const mlp = linear(T, C, M) + gelu(T * M) + linear(T, M, C) + gelu(T * C);
    // the second LayerNorm runs in the MLP's first product (layerNormThen), 8 lanes summing each row; the first,
    // before Q, K and V unpacked (three products), on its own
    const inProduct = 8 * T * C + 3 * T + T * (2 * 8 - 1);
    expect(got).toBe(layerNorm(T, C) + inProduct + attention + 2 * T * C + mlp);
    block.dispose();
  });

  it('TokenLearner v1 on a G x G grid: LayerNorm, four 3x3 convolutions (padding taps skipped), GELUs, sigmoid, pooling', async () => {
    const [G, C, k] = [5, 12, 4];
    const tl = new TokenLearnerV1(C, k, seededRandom(3));
    const x = Tensor.from(randomArray(G * G * C, 4), [1, G, G, C]);
    const got = await exactOf(() => void tl.call(x, { training: false }));
    const S = G * G;
    const taps = (3 * G - 2) ** 2; // valid (position, tap) pairs of a 3x3 'same' convolution on a G x G grid
    const convs = 2 * k * C * taps + 3 * 2 * k * k * taps;
    const expected = layerNorm(S, C) + convs + 3 * gelu(S * k) + 4 * S * k + (2 * k * C * S + k * C);
    expect(got).toBe(expected);
    tl.dispose();
  });

  it('MBConv on 64 x 64 x 1 in inference: BatchNorms folded into the 1x1 expand, depthwise 3x3 and 1x1 project, ReLU6, residual', async () => {
    const block = new MBConv(1, 64, 16, seededRandom(5));
    const x = Tensor.from(randomArray(64 * 64, 6), [1, 64, 64, 1]);
    const got = await exactOf(() => void block.call(x, { training: false }));
    const P = 64 * 64;
    // Folding a BatchNorm into n weights of C output channels: per max(n, C) invocations a scale
    // gamma * rsqrt(var + eps) (add, rsqrt, mul); a multiply per weight; per channel (b - mean) * s + beta (add, fma).
    const fold = (n: number, C: number) => 3 * Math.max(n, C) + n + 3 * C;
    const relu6 = 2 * P * 64;
    const expand = 2 * P * 64 + P * 64 + relu6 + fold(64, 64);
    const depthwise = 2 * 64 * (3 * 64 - 2) ** 2 + P * 64 + relu6 + fold(9 * 64, 64);
    const project = 2 * P * 64 * 16 + P * 16 + fold(64 * 16, 16);
    expect(got).toBe(expand + depthwise + project + P * 16);
    block.dispose();
  });

  for (const packed of [false, true]) {
    it(`MBConv in inference gives what its layers give one by one (BatchNorm folded into the convolutions${packed ? ', all three by one dispatch where a model packs them' : ''})`, async () => {
      const block = new MBConv(1, 8, 4, seededRandom(7));
      if (packed) {
        packTensors(block.parameters());
        packTensors(block.namedState().map(([, t]) => t));
      }
      const x = Tensor.from(randomArray(2 * 9 * 9, 8), [2, 9, 9, 1]);
      // Move the running averages away from (0, 1) first, so the fold has something to fold.
      tidy(() => void block.call(Tensor.from(randomArray(2 * 9 * 9, 9, 0, 3), [2, 9, 9, 1]), { training: true }));
      const { result, records } = await env.engine.ledger.capture(() => noGrad(() => block.call(x, { training: false })));
      // three convolutions (the residual in the projection's epilogue) and the folds
      expect(records.map((r) => r.op).filter((op) => op === 'batchnorm-fold')).toHaveLength(packed ? 1 : 3);
      expect(records).toHaveLength(packed ? 4 : 6);
      // With gradients on, inference runs convolution and BatchNorm as separate kernels.
      const separate = await tidy(() => block.call(x, { training: false })).data();
      expectClose(await result.data(), separate, 1e-5, 1e-4);
      block.dispose();
    });
  }

  it('the MAC convention counts every kernel tap of a convolution, padding included, as fvcore and thop do', async () => {
    const model = buildModel(modelConfig('TASR_4L_8T-8H'));
    const { records } = await countForward(model, 1);
    const [P, T, C, H, D] = [64 * 64, 8, 128, 8, 128];
    const mbconv = P * 64 * 1 + P * 64 * 9 + P * 16 * 64; // 1x1 expand, 3x3 depthwise (all 9 taps), 1x1 project
    const patch = 64 * C * (8 * 8 * 16);
    const tokenLearner = 64 * 8 * 9 * C + 3 * 64 * 8 * 9 * 8 + 8 * C * 64; // four 3x3 convolutions, pooling
    const block = 3 * T * C * H * D + 2 * H * T * T * D + T * H * D * C + T * C * 256 + T * 256 * C;
    expect(countUnder('macs', records)).toBe(mbconv + patch + tokenLearner + 4 * block + C * 8);
    model.dispose();
  });

  it("a whole model's exact count is the sum of its forward ledger, and TokenLearner cuts it", async () => {
    const nt = buildModel(modelConfig('TASR_2L_NT-2H'));
    const tl = buildModel(modelConfig('TASR_2L_8T-2H'));
    const a = await countForward(nt, 1);
    const b = await countForward(tl, 1);
    expect(countUnder('exact', a.records)).toBe(a.records.reduce((s, r) => s + exactFlops(r.counts), 0));
    expect(countUnder('exact', b.records)).toBeLessThan(countUnder('exact', a.records));
    nt.dispose();
    tl.dispose();
  });
});

describe('module gradients against finite differences (random directions, float32 forward passes)', () => {
  const random = () => seededRandom(11);
  const ctx = { training: false };
  const input = (shape: number[], seed = 1) => {
    const t = Tensor.from(randomArray(shape.reduce((p, d) => p * d, 1), seed), shape).keep();
    t.requiresGrad = true;
    return t;
  };
  // ReLU6 has kinks: modules with it take a smaller step so few elements cross one.
  const cases: [string, () => { module: Module; x: Tensor; run: (x: Tensor) => Tensor; h?: number }][] = [
    ['Dense', () => { const m = new Dense(6, 5, random(), { activation: 'gelu' }); return { module: m, x: input([3, 6]), run: (x) => m.forward(x) }; }],
    ['Conv2d', () => { const m = new Conv2d(3, 4, 3, random(), { padding: 'same' }); return { module: m, x: input([2, 5, 5, 3]), run: (x) => m.forward(x) }; }],
    ['LayerNorm', () => { const m = new LayerNorm(7); return { module: m, x: input([4, 7]), run: (x) => m.forward(x) }; }],
    ['BatchNorm (training)', () => { const m = new BatchNorm(3); return { module: m, x: input([2, 4, 4, 3]), run: (x) => m.forward(x, { training: true }) }; }],
    ['MBConv', () => { const m = new MBConv(1, 8, 4, random()); return { module: m, x: input([2, 6, 6, 1]), run: (x) => m.forward(x, { training: true }), h: 1e-3 }; }],
    ['MultiHeadAttention', () => { const m = new MultiHeadAttention(8, 2, 4, 0, random()); return { module: m, x: input([2, 5, 8]), run: (x) => m.forward(x, ctx) }; }],
    ['TransformerBlock', () => { const m = new TransformerBlock({ width: 8, heads: 2, keyDim: 4, mlp: [12, 8], dropout: 0 }, random()); return { module: m, x: input([1, 6, 8]), run: (x) => m.forward(x, ctx) }; }],
    ['TokenLearner v1', () => { const m = new TokenLearnerV1(6, 3, random()); return { module: m, x: input([2, 4, 4, 6]), run: (x) => m.forward(x, ctx) }; }],
    ['TokenLearner v1.1', () => { const m = new TokenLearnerV11(6, 3, random(), 8); return { module: m, x: input([2, 10, 6]), run: (x) => m.forward(x, ctx) }; }],
    ['ClassifierHead', () => { const m = new ClassifierHead(6, 4, random()); return { module: m, x: input([2, 5, 6]), run: (x) => m.forward(x, ctx) }; }],
  ];
  for (const [name, make] of cases) {
    it(`${name}: input and parameter gradients`, async () => {
      const { module, x, run, h } = make();
      await directionalCheck(module, x, run, [x, ...module.parameters()], h);
      module.dispose();
      x.dispose();
    });
  }

  it('TokenFuser: gradients of tokens, original features and parameters', async () => {
    const m = new TokenFuser(6, 3, random(), 8);
    // A non-zero mixing kernel, so that every path carries a gradient.
    const mix = m.namedParameters().find(([n]) => n === 'mix.kernel')![1];
    mix.write(randomArray(9, 5));
    const tokens = input([2, 3, 6], 3);
    const original = input([2, 10, 6], 4);
    await directionalCheck(m, tokens, (t) => m.forward(t, original, ctx), [tokens, original, ...m.parameters()]);
    m.dispose();
  });

  it('a whole TASR model: loss gradient along random directions of several parameters', async () => {
    const model = buildModel(modelConfig('TASR_1L_4T-2H', { dropout: 0, mlp: [32, 128] }));
    const spectrograms = Tensor.from(randomArray(2 * 124 * 129, 8, 0, 2), [2, 124, 129]).keep();
    const labels = Tensor.from([1, 5], [2], 'i32').keep();
    const named = new Map(model.namedParameters());
    const picks = ['patch_embed.kernel', 'token_learner.conv0.kernel', 'blocks.0.attention.query.kernel', 'head.dense.bias', 'mbconv0.depthwise.kernel'].map((n) => named.get(n)!);
    // BatchNorm in training mode moves its running averages; the loss does not depend on them.
    await directionalCheck(model, spectrograms, (x) => crossEntropy(model.forward(x, { training: true }), labels), picks, 1e-3, 5e-2);
    model.dispose();
  });
});

describe('model names, options and checkpoints', () => {
  it('parses the paper\'s names and rejects unknown names and options, listing what is valid', () => {
    expect(modelConfig('TASR_8L_8T-12H')).toMatchObject({ family: 'TASR', blocks: 8, tokens: 8, heads: 12, classes: 8, patch: 8 });
    expect(modelConfig('TESC_4L_NT-8H', { classes: 5 })).toMatchObject({ tokens: 0, classes: 5, patch: 6, mbconvBlocks: 0 });
    expect(() => modelConfig('TASR_4L-8H')).toThrow(/unknown model name 'TASR_4L-8H'.*TASR_4L_NT-8H/);
    expect(() => modelConfig('TASR_4L_8T-8H', { heads: 3 } as never)).toThrow(/unknown model option 'heads'. Valid options: classes/);
    expect(() => modelConfig('TASR_4L_8T-8H', { tokenLearnerAt: 4 })).toThrow(ModelConfigError);
  });

  it('batchNormMomentum sets how much of its running mean a BatchNorm keeps per training step', async () => {
    expect(() => modelConfig('TASR_1L_4T-2H', { batchNormMomentum: 1 })).toThrow(/batchNormMomentum must be a number in \[0, 1\)/);
    const x = Tensor.from(Float32Array.from(randomArray(2 * 124 * 129, 4, 0, 2)), [2, 124, 129]).keep();
    const movingMean = async (batchNormMomentum: number) => {
      const model = buildModel(modelConfig('TASR_1L_4T-2H', { batchNormMomentum }));
      noGrad(() => tidy(() => model.forward(x, { training: true }))).dispose();
      const mean = await new Map(model.namedState()).get('mbconv0.expand_bn.moving_mean')!.data();
      model.dispose();
      return mean;
    };
    // From zero, one step leaves (1 - momentum) x the batch mean: the same batch, so 0.5 / 0.01 = 50 times more.
    const [keras, fast] = [await movingMean(0.99), await movingMean(0.5)];
    expect(keras.some((v) => Math.abs(v) > 1e-4)).toBe(true);
    expectClose(fast, Array.from(keras, (v) => 50 * v), 1e-4, 1e-5);
    x.dispose();
  });

  it('TokenLearner can sit before a later block, in v1.1, and repeat with TokenFuser', async () => {
    for (const options of [{ tokenLearnerAt: 1 }, { tokenLearnerVersion: 'v1.1' as const, tokenLearnerAt: 1 }, { tokenFuser: true, tokenLearnerAt: 1 }]) {
      const model = buildModel(modelConfig('TASR_2L_4T-2H', options));
      const logits = noGrad(() => tidy(() => model.forward(Tensor.zeros([1, 124, 129]), { training: false })));
      expect(logits.shape).toEqual([1, 8]);
      expect((await logits.data()).every(Number.isFinite)).toBe(true);
      logits.dispose();
      model.dispose();
    }
  });

  it("a packed model's inference with each LayerNorm in the product after it and TokenLearner's convolutions chained gives the logits of the separate kernels", async () => {
    const model = buildModel(modelConfig('TASR_2L_8T-2H', { seed: 6 }));
    const x = Tensor.from(Float32Array.from(randomArray(2 * 124 * 129, 7, 0, 2)), [2, 124, 129]).keep();
    const pass = () => noGrad(() => tidy(() => model.forward(x, { training: false })));
    const fused = await env.engine.ledger.capture(pass);
    const apart = await env.engine.ledger.capture(() => withVariant('layernorm-linear', 'apart', () => withVariant('conv-chain', 'apart', pass)));
    const kernels = fused.records.map((r) => r.op);
    // two blocks' Q/K/V and first MLP layers, the head; the three map convolutions after the first
    expect(kernels.filter((k) => k === 'layernorm-linear')).toHaveLength(4);
    expect(kernels.filter((k) => k === 'layernorm-mean-linear')).toHaveLength(1);
    expect(kernels.filter((k) => k === 'conv2d-chain')).toHaveLength(1);
    expect(apart.records.length - fused.records.length).toBe(5 + 2);
    expectClose(await fused.result.data(), Float64Array.from(await apart.result.data()), 1e-4, 1e-4);
    for (const t of [fused.result, apart.result, x]) t.dispose();
    model.dispose();
  });

  it('a planned ClipClassifier (samples in, probabilities out) replays the unplanned pass bit for bit, with no upload midway', async () => {
    const model = buildModel(modelConfig('TASR_1L_4T-2H', { seed: 4 }));
    const planned = new ClipClassifier(model);
    const unplanned = new ClipClassifier(model, { planned: false });
    for (let i = 0; i < 3; i++) {
      const clip = Tensor.from(Float32Array.from(randomArray(2 * 16000, 30 + i, -0.5, 0.5)), [2, 16000]).keep();
      const [a, b] = [planned.probabilities(clip), unplanned.probabilities(clip)];
      const [pa, pb] = [await a.data(), await b.data()];
      expect(Array.from(pa)).toEqual(Array.from(pb));
      // each row a distribution
      for (let row = 0; row < 2; row++) expect(pa.subarray(row * 8, row * 8 + 8).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
      // the window, filterbank and FFT twiddles are constants uploaded once, so the whole pass replays
      expect(planned.unplanned(clip)).toBeUndefined();
      for (const t of [a, b, clip]) t.dispose();
    }
    planned.dispose();
    unplanned.dispose();
    model.dispose();
  });

  it('save -> load -> predict gives identical outputs; the weights open with a plain safetensors reader', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-ckpt-'));
    const model = buildModel(modelConfig('TASR_1L_4T-2H', { classNames: ['down', 'go', 'left', 'no', 'right', 'stop', 'up', 'yes'], seed: 3 }));
    const clips = [Float32Array.from(randomArray(16000, 1, -0.5, 0.5)), Float32Array.from(randomArray(16000, 2, -0.5, 0.5))];
    const before = await predictClips(model, clips, 3);
    await saveModel(dir, model);
    const loaded = await loadModel(dir);
    const after = await predictClips(loaded, clips, 3);
    expect(after.map((p) => [...p.probabilities])).toEqual(before.map((p) => [...p.probabilities]));
    expect(after[0]!.top[0]!.label).toBe(before[0]!.top[0]!.label);

    // A minimal reader written from the public format description, not tokenwave's decoder.
    const bytes = readFileSync(join(dir, 'model.safetensors'));
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    const entry = header['patch_embed.kernel'];
    expect(entry).toMatchObject({ dtype: 'F32', shape: [8, 8, 16, 128] });
    const start = 8 + headerLength + entry.data_offsets[0];
    const first = bytes.readFloatLE(start);
    const params = new Map(model.namedParameters());
    expect(first).toBe((await params.get('patch_embed.kernel')!.data())[0]);
    expect(header['mbconv0.expand_bn.moving_variance'].shape).toEqual([64]);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toMatchObject({ model: 'TASR_1L_4T-2H', options: { seed: 3 } });
    model.dispose();
    loaded.dispose();
  });

  it('a checkpoint config.json written before the model registry and MFCCs (no spectrogram.mfccs) reads as the same configuration', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-old-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({"format": "tokenwave-checkpoint", "version": 1, "model": "TASR_2L_8T-4H", "options": {"classes": 8, "tokenLearnerVersion": "v1", "tokenLearnerAt": 0, "tokenFuser": false, "patch": 8, "width": 128, "keyDim": 128, "mlp": [256, 128], "dropout": 0.1, "mbconvBlocks": 1, "mbconvExpanded": 64, "mbconvChannels": 16, "batchNormMomentum": 0.99, "clipSamples": 16000, "spectrogram": {"frameLength": 255, "hop": 128, "fftLength": 256, "window": "hann-tf", "output": "magnitude", "melBins": 64, "sampleRate": 16000, "padEnd": false}, "normalization": {"mean": 0.3, "variance": 2}, "classNames": ["a", "b", "c", "d", "e", "f", "g", "h"], "seed": 5}}));
    const config = await readCheckpointConfig(dir);
    expect(config).toEqual(modelConfig('TASR_2L_8T-4H', { seed: 5, classNames: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], normalization: { mean: 0.3, variance: 2 } }));
    expect(config.spectrogram).toMatchObject({ output: 'magnitude', frameLength: 255, hop: 128 });
  });

  it('loading a checkpoint into a different model, or a folder without one, fails with a clear message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-ckpt-'));
    const model = buildModel(modelConfig('TASR_1L_4T-2H'));
    await saveModel(dir, model);
    model.dispose();
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, model: 'TASR_1L_8T-2H' }));
    await expect(loadModel(dir)).rejects.toThrow(/checkpoint is from a different model/);
    await expect(loadModel(mkdtempSync(join(tmpdir(), 'empty-')))).rejects.toThrow(CheckpointError);
  });
});
