// The command line as a user runs it: exit codes, messages, files written.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeWav16 } from '../src/audio/wav.js';
import { EXIT_RETRY_LATER } from '../src/util/errors.js';
import { runCommand, type CommandResult } from './helpers/command.js';

const cli = join(import.meta.dirname, '..', 'bin', 'tokenwave.js');

async function tokenwave(...args: string[]): Promise<CommandResult> {
  return tokenwaveWith({}, ...args);
}

async function tokenwaveWith(env: Record<string, string>, ...args: string[]): Promise<CommandResult> {
  return runCommand('node', [cli, ...args], { env: { ...process.env, ...env } });
}

/** A fresh folder holding a checkpoint of each model (untrained, its seed's initial weights) in its own subfolder. */
async function savedCheckpoints(checkpoints: { folder: string; model: string; options?: object }[]): Promise<string> {
  const { init, shutdown } = await import('../src/tensor/engine.js');
  const { buildModel } = await import('../src/models/registry.js');
  const { modelConfig } = await import('../src/models/config.js');
  const { saveModel } = await import('../src/models/checkpoint-folder.js');
  const dir = mkdtempSync(join(tmpdir(), 'tokenwave-cli-'));
  await init();
  for (const c of checkpoints) {
    const model = buildModel(modelConfig(c.model, c.options));
    await saveModel(join(dir, c.folder), model);
    model.dispose();
  }
  shutdown();
  return dir;
}

/** Reads an 8-bit RGB PNG without filters (what tokenwave writes), independently of its writer. */
function readPng(bytes: Uint8Array): { width: number; height: number; rgb: Uint8Array } {
  expect([...bytes.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 8;
  let width = 0;
  let height = 0;
  const idat: Uint8Array[] = [];
  while (offset < bytes.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') [width, height] = [view.getUint32(offset + 8), view.getUint32(offset + 12)];
    if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (1 + width * 3)]).toBe(0);
    rgb.set(raw.subarray(y * (1 + width * 3) + 1, (y + 1) * (1 + width * 3)), y * width * 3);
  }
  return { width, height, rgb };
}

/** The heat map of a picture tokenwave drew: its image (read back from the SVG) and the positions of its tick labels. */
function pictureOf(svg: string) {
  const image = svg.match(/<image x="([\d.]+)" y="([\d.]+)" width="(\d+)" height="(\d+)"[^>]*href="data:image\/png;base64,([^"]+)"/)!;
  const [x, y] = [Number(image[1]), Number(image[2])];
  const { width, height, rgb } = readPng(Buffer.from(image[5]!, 'base64'));
  expect([width, height]).toEqual([Number(image[3]), Number(image[4])]);
  const labels = [...svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)" text-anchor="(middle|end)" font-size="11">([^<]+)<\/text>/g)];
  /** Pixel position of a value on the axis whose labels are anchored so, interpolated between two labelled values. */
  const axis = (anchor: string, a: number, b: number) => {
    const at = (v: number) => {
      const label = labels.find((l) => l[3] === anchor && parseFloat(l[4]!) === v);
      expect(label, `a tick labelled ${v}`).toBeDefined();
      return anchor === 'middle' ? Number(label![1]) : Number(label![2]) - 4; // labels sit 4 px below their tick
    };
    const [pa, pb] = [at(a), at(b)];
    return (v: number) => pa + ((v - a) / (b - a)) * (pb - pa);
  };
  const brightestRow = (column: number) => {
    let [best, row] = [-1, 0];
    for (let r = 0; r < height; r++) {
      const i = (r * width + column) * 3;
      const v = rgb[i]! + rgb[i + 1]! - rgb[i + 2]!; // viridis' top is yellow
      if (v > best) [best, row] = [v, r];
    }
    return row;
  };
  return { x, y, width, height, axis, brightestRow };
}

describe('tokenwave CLI', () => {
  it('doctor --json reports a working adapter and a passing self-test', async () => {
    const { code, stdout } = await tokenwave('doctor', '--json');
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.selfTest.ok).toBe(true);
    expect(report.adapter).not.toMatch(/null-backend/);
    expect(report.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(128);
  });

  it('tune times the kernel variants of a model\'s shapes and caches the fastest; doctor lists them; a second tune has nothing to do', async () => {
    const env = { TOKENWAVE_TUNE: 'on', XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), 'tokenwave-tune-cli-')) };
    const tuned = await tokenwaveWith(env, 'tune', 'TASR_4L_8T-8H', '--batch', '1', '--json');
    expect(tuned.code, tuned.stderr).toBe(0);
    const results = JSON.parse(tuned.stdout) as { model: string; key: string; variant: string; rule: string; ms: Record<string, number>; recheck?: Record<string, number> }[];
    expect(results.length).toBeGreaterThan(3);
    // the matrix products, TokenLearner's LayerNorm over the patch grid's 64 rows, each block's LayerNorms with the
    // products after them (Q/K/V, the MLP's first layer; the head's over its mean), TokenLearner's convolution chain
    // the attention over the 8 learned tokens (and its softmax, met where the rule composes it), the stem's
    // depthwise convolution and TokenLearner's first map convolution
    const family = (r: { key: string }) => r.key.split(' ')[0];
    const composed = results.find((r) => family(r) === 'attention')!.rule === 'composed';
    expect(new Set(results.map(family))).toEqual(new Set(['matmul', 'layernorm', 'layernorm-linear', 'conv-chain', 'attention', 'depthwise', 'conv2d', ...(composed ? ['softmax'] : [])]));
    // TokenLearner's 8-channel convolutions are tuned one by one only where the chain chose to run them apart
    const chainApart = results.some((r) => family(r) === 'conv-chain' && r.variant === 'apart');
    const conv2dKeys = ['conv2d forward 1x8x8x128 to 8 3x3', ...(chainApart ? ['conv2d forward 1x8x8x8 to 8 3x3'] : [])];
    expect(results.filter((r) => family(r) === 'conv2d').map((r) => r.key).sort()).toEqual(conv2dKeys.sort());
    expect(results.filter((r) => family(r) === 'depthwise').map((r) => r.key)).toEqual(['depthwise forward 1x64x64x64 3x3']);
    const fusedKeys = ['layernorm-linear 8x128 to 256', 'layernorm-linear 8x128 to 3072', 'layernorm-linear 8x128 to 8 mean over 8'];
    expect(results.filter((r) => family(r) === 'layernorm-linear').map((r) => r.key).sort()).toEqual(fusedKeys);
    // a LayerNorm over the 8 tokens is tuned on its own only where a fused key chose to run its parts apart
    const apart = results.some((r) => family(r) === 'layernorm-linear' && r.variant === 'apart');
    expect(results.filter((r) => family(r) === 'layernorm').map((r) => r.key)).toEqual(apart ? ['layernorm 64x128', 'layernorm 8x128'] : ['layernorm 64x128']);
    expect(results.filter((r) => family(r) === 'conv-chain').map((r) => r.key)).toEqual(['conv-chain 1x8x8x8 3 layers']);
    expect(results.filter((r) => r.key.startsWith('attention')).map((r) => r.key)).toEqual(['attention B 1 T 8 8 heads of 128']);
    for (const r of results) {
      expect(r.model).toBe('TASR_4L_8T-8H');
      // every candidate timed, the rule's among them
      expect(Object.keys(r.ms)).toContain(r.rule);
      const fastest = Object.keys(r.ms).find((v) => r.ms[v] === Math.min(...Object.values(r.ms)))!;
      if (!r.recheck) {
        // the rule kept on the first timing: no candidate beat it by more than the 10% margin
        expect(r.variant).toBe(r.rule);
        expect(r.ms[r.rule]!).toBeLessThanOrEqual(r.ms[fastest]! * 1.1);
      } else {
        // the first timing's winner beat the rule by the margin; timed again beside it, it keeps the key only by winning again
        expect(r.ms[r.rule]!).toBeGreaterThan(r.ms[fastest]! * 1.1);
        expect(Object.keys(r.recheck).sort()).toEqual([r.rule, fastest].sort());
        expect(r.variant).toBe(r.recheck[r.rule]! > r.recheck[fastest]! * 1.1 ? fastest : r.rule);
      }
    }
    const doctor = await tokenwaveWith(env, 'doctor', '--json');
    const report = JSON.parse(doctor.stdout) as { tuning: { mode: string; choices: Record<string, { variant: string }> } };
    expect(report.tuning.mode).toBe('on');
    expect(Object.fromEntries(Object.entries(report.tuning.choices).map(([k, c]) => [k, c.variant]))).toEqual(Object.fromEntries(results.map((r) => [r.key, r.variant])));
    const again = await tokenwaveWith(env, 'tune', 'TASR_4L_8T-8H', '--batch', '1');
    expect(again.stdout).toMatch(/tuned already/);
    const bad = await tokenwaveWith({ TOKENWAVE_TUNE: 'sometimes' }, 'tune', 'TASR_4L_8T-8H');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/TOKENWAVE_TUNE=sometimes: use on, cached, off/);
  });

  it('doctor with the null backend forced refuses with one clear line and a non-zero exit', async () => {
    const { code, stderr } = await tokenwaveWith({ TOKENWAVE_BACKEND: 'null' }, 'doctor');
    expect(code).toBe(1);
    expect(stderr).toMatch(/tokenwave: The 'null' backend was requested/);
    expect(stderr).not.toMatch(/^\s+at .*\.(ts|js|mjs):\d+/m); // no JavaScript stack trace
  });

  it('spectrogram draws a picture with axes in seconds and kHz and a dB colour bar: a rising tone sits where the axes say', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-cli-'));
    const wavPath = join(dir, 'sweep.wav');
    // instantaneous frequency 500 + 5000 t Hz over one second
    const sweep = Float32Array.from({ length: 16000 }, (_, i) => 0.5 * Math.sin(2 * Math.PI * (500 * (i / 16000) + 2500 * (i / 16000) ** 2)));
    writeFileSync(wavPath, encodeWav16(sweep, 16000));
    const { code, stdout } = await tokenwave('spectrogram', wavPath, '--png', join(dir, 'out.png'), '--svg', join(dir, 'out.svg'));
    expect(code).toBe(0);
    expect(stdout).toMatch(/124 frames x 129 magnitude bins; wrote .*out\.png and .*out\.svg/);
    const png = readFileSync(join(dir, 'out.png'));
    expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
    const svg = readFileSync(join(dir, 'out.svg'), 'utf8');
    expect(svg).toContain('>sweep.wav</text>');
    for (const text of ['time (s)', 'frequency (kHz)', 'dB below the loudest', '+0 dB', '-40 dB', '-80 dB', 'FFT 256']) expect(svg).toContain(text);
    const picture = pictureOf(svg);
    // pixel positions of values, read off two tick labels of each axis
    const xAt = picture.axis('middle', 0.1, 0.9);
    const yAt = picture.axis('end', 1, 7);
    for (const t of [0.15, 0.5, 0.85]) {
      const column = Math.round(xAt(t) - picture.x);
      const khz = (500 + 5000 * t) / 1000;
      // within two FFT bins (125 Hz) of where the frequency axis puts the tone at that time
      expect(Math.abs(picture.brightestRow(column) + picture.y - yAt(khz))).toBeLessThan(Math.abs(yAt(0.125) - yAt(0)));
    }
  });

  it('spectrogram --output logmel labels the mel bands with their centre frequencies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-cli-'));
    const wavPath = join(dir, 'tone.wav');
    writeFileSync(wavPath, encodeWav16(Float32Array.from({ length: 8000 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 16000)), 16000));
    const { code } = await tokenwave('spectrogram', wavPath, '--output', 'logmel', '--svg', join(dir, 'mel.svg'));
    expect(code).toBe(0);
    const svg = readFileSync(join(dir, 'mel.svg'), 'utf8');
    expect(svg).toContain('mel band (centre frequency, Hz)');
    expect(svg).toContain('log-mel, 64 bands');
    // HTK mel scale, 64 bands from 20 Hz to 8 kHz: band m peaks at the (m + 1)-th of 66 equally spaced mels
    const mel = (hz: number) => 2595 * Math.log10(1 + hz / 700);
    const centre = (m: number) => 700 * (10 ** ((mel(20) + ((mel(8000) - mel(20)) * (m + 1)) / 65) / 2595) - 1);
    expect(svg).toContain(`>0 (${Math.round(centre(0))})</text>`);
    expect(svg).toContain(`>20 (${Math.round(centre(20))})</text>`);
    expect(svg).toContain(`>40 (${(centre(40) / 1000).toFixed(1)}k)</text>`);
    const picture = pictureOf(svg);
    const yAt = picture.axis('end', 10, 50); // band numbers
    // the 1 kHz tone is loudest in the band whose centre is nearest 1 kHz
    const nearest = Array.from({ length: 64 }, (_, m) => m).sort((a, b) => Math.abs(centre(a) - 1000) - Math.abs(centre(b) - 1000))[0]!;
    const row = picture.brightestRow(Math.round(picture.width / 2)) + picture.y;
    expect(Math.abs(row - yAt(nearest + 0.5))).toBeLessThanOrEqual(Math.abs(yAt(1) - yAt(0)) * 1.5);
  });

  it('spectrogram --output mfcc draws the cepstral coefficients on a signed scale', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-cli-'));
    const wavPath = join(dir, 'tone.wav');
    writeFileSync(wavPath, encodeWav16(Float32Array.from({ length: 16000 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / 16000)), 16000));
    const args = ['--output', 'mfcc', '--mel-bins', '40', '--mfccs', '20', '--frame-length', '480', '--hop', '160', '--fft-length', '512'];
    const { code, stdout } = await tokenwave('spectrogram', wavPath, ...args, '--svg', join(dir, 'mfcc.svg'));
    expect(code).toBe(0);
    expect(stdout).toMatch(/98 frames x 20 mfcc bins/);
    const svg = readFileSync(join(dir, 'mfcc.svg'), 'utf8');
    expect(svg).toContain('cepstral coefficient');
    expect(svg).toContain('20 MFCCs of 40 mel bands');
    const tooMany = await tokenwave('spectrogram', wavPath, ...args.slice(0, 4), '--mfccs', '41');
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toMatch(/--mfccs/);
  });

  it('explain draws and lists what the learned tokens of a TASR and a KWT checkpoint weigh; a model without TokenLearner is refused', async () => {
    const dir = await savedCheckpoints(['TASR_1L_4T-2H', 'KWT-1_3T@1', 'KWT-1'].map((name) => ({ folder: name, model: name })));
    const wav = join(dir, 'clip.wav');
    writeFileSync(wav, encodeWav16(Float32Array.from({ length: 16000 }, (_, i) => Math.sin(i / 9) * (i > 5000 && i < 9000 ? 0.5 : 0.01)), 16000));
    for (const [name, tokens, positions, version] of [['TASR_1L_4T-2H', 4, 64, 'v1'], ['KWT-1_3T@1', 3, 98, 'v1.1']] as const) {
      const png = join(dir, `${name}.png`);
      const { code, stdout, stderr } = await tokenwave('explain', '--checkpoint', join(dir, name), wav, '--png', png);
      expect(code, stderr).toBe(0);
      expect(stdout).toMatch(new RegExp(`clip\\.wav: class \\d \\d+\\.\\d%.*; ${tokens} tokens drawn in`));
      // 1 + k panels, 3 to a row of 600 x 300 pixels, under a 40-pixel title
      // the rendered PNG's size, from its IHDR chunk
      const bytes = readFileSync(png);
      expect(bytes.subarray(12, 16).toString('latin1')).toBe('IHDR');
      expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([1800, 40 + 300 * Math.ceil((1 + tokens) / 3)]);
      const json = JSON.parse((await tokenwave('explain', '--checkpoint', join(dir, name), wav, '--json')).stdout);
      const weights: number[][] = json[0].learners[0].weights;
      expect(weights.map((w) => w.length)).toEqual(new Array(tokens).fill(positions));
      if (version === 'v1.1') for (const w of weights) expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      else for (const w of weights) expect(w.every((v) => v > 0 && v < 1)).toBe(true);
    }
    // several clips in one picture, a row each: the spectrogram, then the 4 tokens, 440 x 240 pixels a panel
    const quiet = join(dir, 'quiet.wav');
    writeFileSync(quiet, encodeWav16(Float32Array.from({ length: 16000 }, (_, i) => Math.sin(i / 3) * 0.05), 16000));
    const grid = join(dir, 'grid.png');
    const both = await tokenwave('explain', '--checkpoint', join(dir, 'TASR_1L_4T-2H'), wav, quiet, '--grid', grid);
    expect(both.code, both.stderr).toBe(0);
    expect(both.stdout).toMatch(/2 clips, a row each, drawn in .*grid\.png/);
    const bytes = readFileSync(grid);
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([5 * 440, 40 + 2 * 240]);
    expect((await tokenwave('explain', '--checkpoint', join(dir, 'TASR_1L_4T-2H'), wav, quiet, '--png', grid)).stderr).toMatch(/--grid/);
    const refused = await tokenwave('explain', '--checkpoint', join(dir, 'KWT-1'), wav);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/KWT-1 has no TokenLearner/);
  });

  it("flops --convention paper prints the paper's count; a wrong model name lists valid ones", async () => {
    const { code, stdout } = await tokenwave('flops', 'TESC_4L_8T-8H', '--convention', 'paper');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^TESC_4L_8T-8H: 7,968,945 FLOPs per clip/);
    const bad = await tokenwave('flops', 'TASR_4L_9X-8H');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/unknown model name 'TASR_4L_9X-8H'.*e\.g\. TASR_4L_NT-8H/);
  });

  it('predict prints the top classes of each file from a checkpoint, and JSON with --json', async () => {
    const dir = await savedCheckpoints([{ folder: 'ckpt', model: 'TASR_1L_4T-2H', options: { classNames: ['down', 'go', 'left', 'no', 'right', 'stop', 'up', 'yes'] } }]);
    const wav = join(dir, 'clip.wav');
    writeFileSync(wav, encodeWav16(Float32Array.from({ length: 12000 }, (_, i) => Math.sin(i / 9) * 0.3), 16000));
    const text = await tokenwave('predict', '--checkpoint', join(dir, 'ckpt'), wav, '--top', '2');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/clip\.wav: (down|go|left|no|right|stop|up|yes) \d+\.\d%, (down|go|left|no|right|stop|up|yes) \d+\.\d%/);
    const json = JSON.parse((await tokenwave('predict', '--checkpoint', join(dir, 'ckpt'), wav, '--json')).stdout);
    expect(json[0].top).toHaveLength(3);
    expect(json[0].top.reduce((s: number, t: { probability: number }) => s + t.probability, 0)).toBeLessThanOrEqual(1.0001);
    // one clip end to end, many times: the same dispatches planned and unplanned, and the planned pass really replays
    const timed = await tokenwave('predict', '--checkpoint', join(dir, 'ckpt'), wav, '--latency', '5');
    expect(timed.code, timed.stderr).toBe(0);
    const latency = [...timed.stdout.matchAll(/^ +(planned|unplanned) +median ([\d.]+) ms, p99 ([\d.]+) ms, fastest ([\d.]+) ms \((\d+) dispatches a call(.*)\)$/gm)];
    expect(latency.map((m) => m[1])).toEqual(['planned', 'unplanned']);
    for (const [, , median, p99, fastest] of latency) expect(Number(fastest) <= Number(median) && Number(median) <= Number(p99)).toBe(true);
    expect(latency[0]![5]).toBe(latency[1]![5]);
    expect(latency[0]![6]).toBe('');
    expect((await tokenwave('predict', '--checkpoint', join(dir, 'ckpt'), wav, '--latency', '0')).stderr).toMatch(/--latency/);
    const missing = await tokenwave('predict', '--checkpoint', join(dir, 'nowhere'), wav);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nowhere\/config\.json: not found/);

    // the GPU device lost mid-command (a driver reset): one line, exit 75 ("try again later"), nothing half-written
    const oneLine = (stderr: string) => stderr.trim().split('\n').filter((l) => !/^Warning: /.test(l));
    const lost = await tokenwaveWith({ TOKENWAVE_LOSE_DEVICE_AT_DISPATCH: '5' }, 'predict', '--checkpoint', join(dir, 'ckpt'), wav);
    expect([lost.code, lost.stdout]).toEqual([EXIT_RETRY_LATER, '']);
    expect(oneLine(lost.stderr)).toEqual(['tokenwave: GPU device lost: TOKENWAVE_LOSE_DEVICE_AT_DISPATCH=5; run the command again (a driver reset passes; if it happens again, run tokenwave doctor)']);
    const trace = join(dir, 'trace.json');
    const profiled = await tokenwaveWith({ TOKENWAVE_LOSE_DEVICE_AT_DISPATCH: '40', XDG_CACHE_HOME: dir }, 'profile', 'TASR_1L_4T-2H', '--train', '--batch', '2', '--steps', '2', '--trace', trace);
    expect(profiled.code, profiled.stderr).toBe(EXIT_RETRY_LATER);
    expect(profiled.stderr.trim().split('\n').at(-1)).toMatch(/^tokenwave: GPU device lost: TOKENWAVE_LOSE_DEVICE_AT_DISPATCH=40; run the command again/);
    expect(profiled.stderr).not.toMatch(/    at |TOKENWAVE_DEBUG/);
    expect(existsSync(trace)).toBe(false);
  });

  it('demo within a budget too small for it: says so, trains both models for the same updates, and its verdict names them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-demo-'));
    const out = join(dir, 'runs');
    const { code, stdout } = await tokenwave('demo', '--minutes', '0.2', '--test-per-class', '10', '--data', join(dir, 'data'), '--out', out);
    expect(code).toBe(0);
    // the smallest run: 20 clips per word, 128 of 160 to train on, one epoch at batch 16: 8 updates
    expect(stdout).toMatch(/budget: 20 clips per word \(128 to train on\), 1 epochs at batch 16: 8 updates per model, predicted [\d.]+ min in all .*the smallest run does not fit 0.2 min on this machine: it runs anyway/);
    expect(stdout).toMatch(/measured here: \d+ ms to generate and prepare a clip; TASR_4L_8T-8H \d+ ms a training step/);
    expect(stdout).toMatch(/after 8 updates each on 128 clips \(a 0.2-minute budget\): [-+][\d.]+ \+\/- [\d.]+ points top-1 \(95% interval .*the paper trains 2,000 updates on 6,400 clips/);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results.budget).toMatchObject({ perClass: 20, epochs: 1, updates: 8, tooSmall: true });
    expect(results.rows.map((r: { stepLosses: number[] }) => r.stepLosses.length)).toEqual([8, 8]);
    expect(readFileSync(join(out, 'curves.svg'), 'utf8')).toContain('>training loss</text>');
  }, 300_000);

  it('spectrogram of a missing or corrupt file says which file and what is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-cli-'));
    const missing = await tokenwave('spectrogram', join(dir, 'nope.wav'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.wav: no such file');
    writeFileSync(join(dir, 'corrupt.wav'), 'RIFF\u0000\u0000\u0000\u0000WAVEjunk');
    const corrupt = await tokenwave('spectrogram', join(dir, 'corrupt.wav'));
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(/corrupt\.wav: /);
  });
});
