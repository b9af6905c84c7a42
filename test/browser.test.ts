// The page in headless Chromium on SwiftShader (a second WebGPU implementation beside Node's Dawn): the kernels
// against the float64 references, a checkpoint trained in Node giving the same logits in the page, the
// microphone path (Chromium's fake capture playing a generated keyword) and the profile view.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWav16 } from '../src/audio/wav.js';
import { readWav } from '../src/audio/wav-files.js';
import { loadModel } from '../src/models/checkpoint-folder.js';
import type { AudioModel } from '../src/models/model.js';
import { ClipClassifier } from '../src/models/predict.js';
import { spectrogram } from '../src/audio/spectrogram.js';
import { noGrad, tidy } from '../src/tensor/engine.js';
import { Tensor } from '../src/tensor/tensor.js';
import { browserAvailable, buildPage, launchChromium, openPage, screenshot, serve } from './helpers/browser.js';
import { expectClose, randomArray, useEngine } from './helpers/gpu.js';
import { convRef, layerNormRows, matmulRef, softmaxRows, spectrogramRef, type ConvCase } from './reference/float64.js';

type PageApi = typeof import('../src/browser.js');
interface PageGlobals {
  tokenwavePage: {
    api: PageApi;
    logits(clips: number[][]): Promise<number[][]>;
    liveAnswers: { top: { label: string; probability: number }[]; latencyMs: number }[];
    loadedModel(): string | undefined;
  };
}

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'tokenwave.js');
const MODEL = 'TASR_2L_8T-2H';
const RATE = 16_000;
/** The keyword model: small, trained here in about a minute; it need only know its own clips. */
const CLIPS_PER_WORD = 12;
const EPOCHS = 8;

useEngine();

describe.skipIf(!browserAvailable())('the page in headless Chromium (SwiftShader WebGPU)', () => {
  const work = mkdtempSync(join(tmpdir(), 'tokenwave-browser-'));
  const checkpoint = join(work, 'run', 'best');
  let server: Server;
  let url: string;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let model: AudioModel;
  let keyword: { label: string; silence: string; windows: Float32Array[]; loop: Float32Array } = { label: '', silence: '', windows: [], loop: new Float32Array() };

  /** Probabilities of `count` 1 s windows of the looped sound, the first starting at `first`, one every `step` samples. */
  async function windowProbabilities(loop: Float32Array, step: number, first = 0, count = Math.ceil(loop.length / step)): Promise<Float32Array[]> {
    const classifier = new ClipClassifier(model, { planned: false });
    const classes = model.config.classes;
    const out: Float32Array[] = [];
    for (let done = 0; done < count; done += 32) {
      const batch = Math.min(32, count - done);
      const clips = new Float32Array(batch * RATE);
      for (let i = 0; i < batch; i++) {
        const start = first + (done + i) * step;
        for (let j = 0; j < RATE; j++) clips[i * RATE + j] = loop[(start + j) % loop.length]!;
      }
      const probs = tidy(() => classifier.probabilities(Tensor.from(clips, [batch, RATE])));
      const values = await probs.data();
      probs.dispose();
      for (let i = 0; i < batch; i++) out.push(values.slice(i * classes, (i + 1) * classes));
    }
    classifier.dispose();
    return out;
  }

  const argmax = (p: ArrayLike<number>) => Array.prototype.indexOf.call(p, Math.max(...Array.from(p)));

  /** Node's logits for clips: spectrogram and model, no softmax (what the page's `logits` gives). */
  async function nodeLogits(clips: readonly Float32Array[]): Promise<Float32Array> {
    const out = noGrad(() => tidy(() => model.forward(spectrogram(Tensor.from(Float32Array.from(clips.flatMap((c) => [...c])), [clips.length, RATE]), model.config.spectrogram), { training: false })));
    const values = await out.data();
    out.dispose();
    return values;
  }

  /** A clip at the model's length: cut, or padded with zeros. */
  const fitted = (samples: Float32Array) => {
    const clip = new Float32Array(RATE);
    clip.set(samples.subarray(0, RATE));
    return clip;
  };

  /** `clip` between a second of silence on each side, as 16-bit samples (what the fake microphone plays, looped). */
  const loopOf = (clip: Float32Array) => {
    const loop = new Float32Array(3 * RATE);
    loop.set(clip.subarray(0, RATE), RATE);
    return Float32Array.from(loop, (v) => Math.round(Math.max(-1, Math.min(1, v)) * 32767) / 32768);
  };

  beforeAll(async () => {
    // a checkpoint trained in Node on generated speech
    const data = join(work, 'data');
    await run(process.execPath, [CLI, 'generate', 'speech', '--out', data, '--per-class', String(CLIPS_PER_WORD), '--seed', '3']);
    await run(process.execPath, [CLI, 'train', '--data', data, '--model', MODEL, '--epochs', String(EPOCHS), '--batch-size', '16', '--out', join(work, 'run')], {
      env: { ...process.env, TOKENWAVE_TUNE: 'off' },
    });
    model = await loadModel(checkpoint);
    const names = model.config.classNames;
    // The keyword: the generated clip the model names, as its first class and not silence's, over the widest
    // span of window positions around it (the page answers every 250 ms, at positions it cannot choose).
    const silence = names[argmax((await windowProbabilities(new Float32Array(RATE), RATE))[0]!)]!;
    let bestSpan = 0;
    for (const word of names) {
      for (const file of readdirSync(join(data, word)).sort().slice(0, 3)) {
        const loop = loopOf((await readWav(join(data, word, file))).samples);
        // the window at the clip (the loop's second second) and 20 positions either side
        const around = await windowProbabilities(loop, 128, RATE - 20 * 128, 41);
        const label = names[argmax(around[20]!)]!;
        if (label === silence) continue;
        let lo = 20;
        let hi = 20;
        while (lo > 0 && names[argmax(around[lo - 1]!)] === label) lo--;
        while (hi < 40 && names[argmax(around[hi + 1]!)] === label) hi++;
        if (hi - lo + 1 > bestSpan) {
          bestSpan = hi - lo + 1;
          keyword = { label, silence, loop, windows: [] };
        }
      }
    }
    expect(bestSpan * 128, `no generated word is named over 250 ms of window positions by the model trained here (widest: ${bestSpan * 128} samples)`).toBeGreaterThanOrEqual(RATE / 4);
    keyword.windows = await windowProbabilities(keyword.loop, 128);
    const fakeMicrophone = join(work, 'keyword.wav');
    writeFileSync(fakeMicrophone, encodeWav16(keyword.loop, RATE));

    await buildPage(join(work, 'page'));
    ({ server, url } = await serve(join(work, 'page')));
    browser = await launchChromium(fakeMicrophone);
    ({ page, errors } = await openPage(browser, url));
  }, 900_000);

  afterAll(async () => {
    await browser?.close();
    server?.close();
    model?.dispose();
  });

  it('opens on a WebGPU adapter and names it', async () => {
    expect(await page.textContent('#adapter')).toMatch(/^WebGPU adapter: .*swiftshader/i);
    expect(await page.isHidden('#error')).toBe(true);
    await screenshot(page, 'opened');
    expect(errors).toEqual([]);
  });

  /** Runs one op in the page on float32 inputs and returns its output. */
  async function inPage(op: 'matmul' | 'conv2d' | 'softmax' | 'layerNorm' | 'spectrogram', inputs: { data: Float64Array; shape: number[] }[], options: object = {}): Promise<number[]> {
    return page.evaluate(
      async ({ op, inputs, options }) => {
        const api = (globalThis as unknown as PageGlobals).tokenwavePage.api;
        const t = inputs.map((i) => api.Tensor.from(new Float32Array(i.data), i.shape));
        const out =
          op === 'spectrogram' ? api.spectrogram(t[0]!)
          : op === 'conv2d' ? api.ops.conv2d(t[0]!, t[1]!, options)
          : op === 'layerNorm' ? api.ops.layerNorm(t[0]!, t[1]!, t[2]!)
          : op === 'softmax' ? api.ops.softmax(t[0]!)
          : api.ops.matmul(t[0]!, t[1]!);
        const values = Array.from(await out.data());
        out.dispose();
        for (const x of t) x.dispose();
        return values;
      },
      { op, inputs: inputs.map((i) => ({ data: Array.from(i.data), shape: i.shape })), options },
    );
  }

  const f32 = (n: number, seed: number, lo = -1, hi = 1) => Float64Array.from(Float32Array.from(randomArray(n, seed, lo, hi)));

  it('runs matmul, convolution, STFT, softmax and LayerNorm in the page as the float64 references do', async () => {
    for (const [M, N, K] of [[33, 17, 65], [64, 64, 64], [5, 130, 9]] as const) {
      const a = f32(M * K, 1);
      const b = f32(K * N, 2);
      expectClose(await inPage('matmul', [{ data: a, shape: [M, K] }, { data: b, shape: [K, N] }]), matmulRef(a, b, { batchA: 1, batchB: 1, M, N, K }), 1e-5 * K, 1e-4);
    }
    const convolutions: ConvCase[] = [
      { x: [2, 9, 11, 4], w: [3, 3, 4, 8], stride: 1, padding: 'same', groups: 1, bias: false },
      { x: [2, 9, 11, 4], w: [3, 3, 4, 6], stride: 2, padding: 'valid', groups: 1, bias: false },
      { x: [1, 8, 8, 8], w: [3, 3, 1, 8], stride: 2, padding: 'same', groups: 8, bias: false },
    ];
    for (const c of convolutions) {
      const x = f32(c.x.reduce((p, d) => p * d, 1), 3);
      const w = f32(c.w.reduce((p, d) => p * d, 1), 4);
      const got = await inPage('conv2d', [{ data: x, shape: c.x }, { data: w, shape: c.w }], { stride: c.stride, padding: c.padding, groups: c.groups });
      expectClose(got, convRef(x, w, undefined, c), 1e-5, 1e-4);
    }
    const signal = Float64Array.from(f32(RATE, 5, -0.5, 0.5), (v, i) => Math.fround(0.3 * Math.sin((2 * Math.PI * 440 * i) / RATE) + 0.1 * v));
    const spectrum = Float64Array.from(spectrogramRef(signal, 255, 128, 256).flatMap((frame) => [...frame]));
    const peak = spectrum.reduce((m, v) => Math.max(m, v), 0);
    expectClose(await inPage('spectrogram', [{ data: signal, shape: [1, RATE] }]), spectrum, 1e-6 * peak, 1e-4);
    const logits = f32(7 * 300, 6, -4, 4);
    expectClose(await inPage('softmax', [{ data: logits, shape: [7, 300] }]), softmaxRows(logits, 300), 1e-6, 1e-5);
    const [gamma, beta] = [f32(96, 7, 0.5, 1.5), f32(96, 8)];
    const rows = f32(5 * 96, 9, -3, 3);
    const normalized = await inPage('layerNorm', [{ data: rows, shape: [5, 96] }, { data: gamma, shape: [96] }, { data: beta, shape: [96] }]);
    expectClose(normalized, layerNormRows(rows, gamma, beta, 96, 1e-6), 1e-5, 1e-4);
  });

  it('refuses half a checkpoint with a message that names both files', async () => {
    await page.setInputFiles('#checkpoint-files', [join(checkpoint, 'config.json')]);
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error')).toMatch(/config\.json and model\.safetensors/);
  });

  it('opens a checkpoint trained in Node and gives its logits on clips, within float32 tolerance of Node on another adapter', async () => {
    await page.setInputFiles('#checkpoint-files', [join(checkpoint, 'config.json'), join(checkpoint, 'model.safetensors')]);
    await page.waitForFunction((name) => (globalThis as unknown as PageGlobals).tokenwavePage.loadedModel() === name, MODEL);
    expect(await page.isHidden('#error')).toBe(true);
    const data = join(work, 'data');
    const files = model.config.classNames.slice(0, 4).map((word) => join(data, word, readdirSync(join(data, word)).sort()[0]!));
    const clips = await Promise.all(files.map(async (f) => fitted((await readWav(f)).samples))); // as the page prepares them
    const expected = await nodeLogits(clips);
    const got = await page.evaluate((clips) => (globalThis as unknown as PageGlobals).tokenwavePage.logits(clips), clips.map((c) => Array.from(c)));
    expectClose(got.flat(), expected, 2e-3, 2e-3);
    // and the same files chosen in the page: their top class is Node's
    await page.setInputFiles('#wav-files', files);
    await page.waitForSelector('#clip-results:not([hidden])');
    const tops = await page.$$eval('#clip-results tbody tr', (rows) => rows.map((r) => (r as unknown as { dataset: { top: string } }).dataset.top));
    const classes = model.config.classes;
    expect(tops).toEqual(files.map((_, i) => model.config.classNames[argmax(expected.subarray(i * classes, (i + 1) * classes))]));
    // what its 8 learned tokens look at, one row per clip, as `tokenwave explain --grid` draws it
    await page.waitForSelector('#explanation svg');
    const drawn = await page.innerHTML('#explanation');
    for (const f of files) expect(drawn).toContain(basename(f));
    expect(drawn.match(/token \d+/g)?.length).toBeGreaterThanOrEqual(files.length);
    await screenshot(page, 'checkpoint-and-clips');
  });

  it('hears the fake microphone play a generated keyword, spots it, and answers as Node does for some window of the sound', async () => {
    await page.click('#listen');
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).tokenwavePage.liveAnswers.length >= 28, undefined, { timeout: 60_000 });
    const answers = await page.evaluate(() => (globalThis as unknown as PageGlobals).tokenwavePage.liveAnswers.map((a) => ({ ...a })));
    const names = model.config.classNames;
    const labels = answers.map((a) => a.top[0]!.label);
    expect(labels, `the keyword '${keyword.label}' (silence: '${keyword.silence}')`).toContain(keyword.label);
    expect(labels).toContain(keyword.silence);
    // each answer is Node's answer for some position of the 1 s window in the looped sound (the page's own
    // resampling to and from the capture rate aside)
    const distances = answers.map((a) => {
      const p = names.map((n) => a.top.find((t) => t.label === n)?.probability);
      return Math.min(...keyword.windows.map((w) => Math.max(...p.map((v, i) => (v === undefined ? 0 : Math.abs(v - w[i]!))))));
    });
    console.log(`keyword '${keyword.label}': answers' distance to the nearest Node window: median ${distances.sort((a, b) => a - b)[distances.length >> 1]!.toFixed(3)}, worst ${distances.at(-1)!.toFixed(3)}; latency median ${answers.map((a) => a.latencyMs).sort((a, b) => a - b)[answers.length >> 1]!.toFixed(1)} ms`);
    expect(distances[distances.length >> 1]).toBeLessThan(0.05);
    expect(distances.at(-1)).toBeLessThan(0.15);
    await screenshot(page, 'listening');
    await page.click('#listen');
  });

  it('profiles an inference pass: the adapter, the per-kernel table, the roofline and a Chrome trace', async () => {
    await page.selectOption('#profile-model', `${MODEL} (the open checkpoint)`);
    await page.fill('#profile-batch', '2');
    await page.click('#profile');
    await page.waitForSelector('#profile-table:not([hidden])', { timeout: 120_000 });
    const header = await page.textContent('#profile-header');
    expect(header).toMatch(new RegExp(`${MODEL}, inference, batch 2`));
    expect(header).toMatch(/timed by (timestamps|isolated)/);
    const cells = await page.$$eval('#profile-table tr', (rows) => rows.map((r) => Array.from((r as unknown as { cells: ArrayLike<{ textContent: string }> }).cells, (c) => c.textContent)));
    expect(cells[0]).toEqual(['', 'disp', 'total ms', 'mean ms', '% step', 'FLOPs', 'read', 'written', 'GFLOP/s', 'GB/s', 'FLOP/B', 'roofline']);
    expect(cells.length).toBeGreaterThan(8);
    expect(cells.slice(1).map((row) => row[0])).toContain('matmul');
    expect(await page.locator('#roofline svg').count()).toBe(1);
    const trace = await page.getAttribute('#trace-download', 'href');
    expect(trace).toMatch(/^blob:/);
    await screenshot(page, 'profile');
    expect(errors).toEqual([]);
  });

  it('says so when the browser has no WebGPU', async () => {
    const bare = await browser.newPage();
    await bare.addInitScript(() => Object.defineProperty(Object.getPrototypeOf((globalThis as unknown as { navigator: object }).navigator), 'gpu', { get: () => undefined }));
    await bare.goto(url);
    await bare.waitForSelector('#error:not([hidden])');
    expect(await bare.textContent('#error')).toMatch(/no WebGPU/);
    await screenshot(bare, 'no-webgpu');
    await bare.close();
  });
});
