// The command line as a user runs it: exit codes, messages, files written.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeWav16 } from '../src/audio/wav.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'bin', 'tokenwave.js');

async function tokenwave(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', [cli, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
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

describe('tokenwave CLI', () => {
  it('doctor --json reports a working adapter and a passing self-test', async () => {
    const { code, stdout } = await tokenwave('doctor', '--json');
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.selfTest.ok).toBe(true);
    expect(report.adapter).not.toMatch(/null-backend/);
    expect(report.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(128);
  });

  it('doctor with the null backend forced refuses with one clear line and a non-zero exit', async () => {
    const { code, stderr } = await tokenwave('doctor', '--backend', 'null');
    expect(code).toBe(1);
    expect(stderr).toMatch(/tokenwave: The 'null' backend was requested/);
    expect(stderr).not.toMatch(/^\s+at .*\.(ts|js|mjs):\d+/m); // no JavaScript stack trace
  });

  it('spectrogram writes a picture with frequency up: a rising tone climbs across it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-cli-'));
    const wavPath = join(dir, 'sweep.wav');
    const sweep = Float32Array.from({ length: 16000 }, (_, i) => 0.5 * Math.sin(2 * Math.PI * (500 * (i / 16000) + 2500 * (i / 16000) ** 2)));
    writeFileSync(wavPath, encodeWav16(sweep, 16000));
    const { code, stdout } = await tokenwave('spectrogram', wavPath, '--png', join(dir, 'out.png'));
    expect(code).toBe(0);
    expect(stdout).toMatch(/124 frames x 129 magnitude bins/);
    const { width, height, rgb } = readPng(readFileSync(join(dir, 'out.png')));
    expect(width).toBe(124 * Math.ceil(512 / 124));
    expect(height).toBe(129 * Math.ceil(256 / 129));
    const brightestRow = (x: number) => {
      let best = 0;
      let row = 0;
      for (let y = 0; y < height; y++) {
        const i = (y * width + x) * 3;
        const v = rgb[i]! + rgb[i + 1]! + rgb[i + 2]!;
        if (v > best) [best, row] = [v, y];
      }
      return row;
    };
    // 500 Hz at the start, 5500 Hz at the end: rows counted from the top, so the row number falls.
    const [start, end] = [brightestRow(10), brightestRow(width - 10)];
    expect(start).toBeGreaterThan(end);
    expect(1 - start / height).toBeCloseTo(600 / 8000, 1);
    expect(1 - end / height).toBeCloseTo(5400 / 8000, 1);
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
    const { init, shutdown } = await import('../src/tensor/engine.js');
    const { AudioTransformer } = await import('../src/models/audio-transformer.js');
    const { modelConfig } = await import('../src/models/config.js');
    const { saveModel } = await import('../src/models/checkpoint.js');
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-cli-'));
    await init();
    const model = new AudioTransformer(modelConfig('TASR_1L_4T-2H', { classNames: ['down', 'go', 'left', 'no', 'right', 'stop', 'up', 'yes'] }));
    await saveModel(join(dir, 'ckpt'), model);
    model.dispose();
    shutdown();
    const wav = join(dir, 'clip.wav');
    writeFileSync(wav, encodeWav16(Float32Array.from({ length: 12000 }, (_, i) => Math.sin(i / 9) * 0.3), 16000));
    const text = await tokenwave('predict', '--checkpoint', join(dir, 'ckpt'), wav, '--top', '2');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/clip\.wav: (down|go|left|no|right|stop|up|yes) \d+\.\d%, (down|go|left|no|right|stop|up|yes) \d+\.\d%/);
    const json = JSON.parse((await tokenwave('predict', '--checkpoint', join(dir, 'ckpt'), wav, '--json')).stdout);
    expect(json[0].top).toHaveLength(3);
    expect(json[0].top.reduce((s: number, t: { probability: number }) => s + t.probability, 0)).toBeLessThanOrEqual(1.0001);
    const missing = await tokenwave('predict', '--checkpoint', join(dir, 'nowhere'), wav);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nowhere\/config\.json: not found/);
  });

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
