// WAV decoding and resampling (CPU only).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resample } from '../src/audio/resample.js';
import { decodeWav, encodeWav16, WavError } from '../src/audio/wav.js';
import { readWav, readWavs } from '../src/audio/wav-files.js';
import { seededRandom as rng } from '../src/util/random.js';

interface WavSpec {
  format: 1 | 3 | 0xfffe;
  subFormat?: 1 | 3;
  channels: number;
  rate: number;
  bits: number;
  /** Interleaved samples in [-1, 1]. */
  samples: number[];
  /** Extra chunks, and whether 'data' comes before 'fmt '. */
  extraChunks?: { id: string; bytes: number[] }[];
  dataFirst?: boolean;
}

/** An independent little WAV writer for the tests. */
function writeWav(s: WavSpec): Uint8Array {
  const bytesPer = s.bits / 8;
  const data: number[] = [];
  const push = (v: number, n: number) => {
    for (let i = 0; i < n; i++) data.push((v >>> (8 * i)) & 0xff);
  };
  for (const x of s.samples) {
    const float = (s.subFormat ?? s.format) === 3;
    if (float) {
      const b = new DataView(new ArrayBuffer(bytesPer));
      if (s.bits === 32) b.setFloat32(0, x, true);
      else b.setFloat64(0, x, true);
      for (let i = 0; i < bytesPer; i++) data.push(b.getUint8(i));
    } else if (s.bits === 8) data.push(Math.round(x * 127) + 128);
    else push(Math.round(x * (2 ** (s.bits - 1) - 1)), bytesPer);
  }
  const chunk = (id: string, body: number[]) => {
    const out = [...id].map((c) => c.charCodeAt(0));
    push2(out, body.length);
    out.push(...body);
    if (body.length % 2) out.push(0);
    return out;
  };
  const push2 = (arr: number[], v: number) => arr.push(v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff);
  const fmt: number[] = [];
  const u16 = (v: number) => fmt.push(v & 0xff, (v >> 8) & 0xff);
  const u32 = (v: number) => push2(fmt, v);
  u16(s.format);
  u16(s.channels);
  u32(s.rate);
  u32(s.rate * s.channels * bytesPer);
  u16(s.channels * bytesPer);
  u16(s.bits);
  if (s.format === 0xfffe) {
    u16(22);
    u16(s.bits);
    u32(s.channels === 2 ? 3 : 4);
    u16(s.subFormat!);
    fmt.push(0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71);
  }
  const parts = [...(s.extraChunks ?? []).map((c) => chunk(c.id, c.bytes))];
  const fmtChunk = chunk('fmt ', fmt);
  const dataChunk = chunk('data', data);
  const body = s.dataFirst ? [...parts.flat(), ...dataChunk, ...fmtChunk] : [...parts.flat(), ...fmtChunk, ...dataChunk];
  const header = [...'RIFF'].map((c) => c.charCodeAt(0));
  push2(header, 4 + body.length);
  header.push(...[...'WAVE'].map((c) => c.charCodeAt(0)));
  return Uint8Array.from([...header, ...body]);
}

const ramp = [0, 0.25, -0.5, 0.75, -1, 0.125];

describe('WAV decoding', () => {
  const encodings: [string, Partial<WavSpec>, number][] = [
    ['8-bit PCM', { format: 1, bits: 8 }, 1 / 64],
    ['16-bit PCM', { format: 1, bits: 16 }, 1e-4],
    ['24-bit PCM', { format: 1, bits: 24 }, 1e-6],
    ['32-bit PCM', { format: 1, bits: 32 }, 1e-8],
    ['32-bit float', { format: 3, bits: 32 }, 0],
    ['64-bit float', { format: 3, bits: 64 }, 0],
    ['extensible 24-bit PCM', { format: 0xfffe, subFormat: 1, bits: 24 }, 1e-6],
    ['extensible 32-bit float', { format: 0xfffe, subFormat: 3, bits: 32 }, 0],
  ];
  for (const [name, spec, tol] of encodings) {
    it(`${name}: decodes values in [-1, 1]`, () => {
      const wav = decodeWav(writeWav({ channels: 1, rate: 8000, samples: ramp, ...spec } as WavSpec), `${name}.wav`);
      expect(wav.sampleRate).toBe(8000);
      expect(wav.samples.length).toBe(ramp.length);
      ramp.forEach((v, i) => expect(Math.abs(wav.samples[i]! - v)).toBeLessThanOrEqual(tol + 1e-7));
    });
  }

  it('downmixes several channels by averaging, at any sample rate', () => {
    const wav = decodeWav(writeWav({ format: 1, bits: 16, channels: 3, rate: 44100, samples: [0.3, 0.6, 0.0, -0.9, 0.3, 0.0] }));
    expect(wav.channels).toBe(3);
    expect(wav.sampleRate).toBe(44100);
    expect(wav.samples[0]).toBeCloseTo(0.3, 3);
    expect(wav.samples[1]).toBeCloseTo(-0.2, 3);
  });

  it('skips unknown chunks and accepts data before fmt', () => {
    const wav = decodeWav(
      writeWav({ format: 1, bits: 16, channels: 1, rate: 16000, samples: ramp, dataFirst: true, extraChunks: [{ id: 'LIST', bytes: [1, 2, 3] }, { id: 'bext', bytes: [9, 9] }] }),
    );
    expect(wav.samples.length).toBe(ramp.length);
    expect(wav.samples[3]).toBeCloseTo(0.75, 3);
  });

  it('round-trips the 16-bit writer tokenwave uses for generated data', () => {
    const x = Float32Array.from({ length: 100 }, (_, i) => Math.sin(i / 7) * 0.8);
    const wav = decodeWav(encodeWav16(x, 16000));
    x.forEach((v, i) => expect(Math.abs(wav.samples[i]! - v)).toBeLessThan(1e-4));
  });

  const bad: [string, () => Uint8Array, RegExp][] = [
    ['an empty file', () => new Uint8Array(0), /empty/],
    ['a file with the wrong magic', () => new TextEncoder().encode('ID3\u0004 this is an mp3, really'), /not a WAV file/],
    ['a truncated file (data cut short)', () => writeWav({ format: 1, bits: 16, channels: 1, rate: 16000, samples: ramp }).subarray(0, 50), /truncated: the header declares 12 bytes of audio but only 6 follow/],
    ['a file cut right after the RIFF header', () => writeWav({ format: 1, bits: 16, channels: 1, rate: 16000, samples: ramp }).subarray(0, 12), /no chunks/],
    [
      'a lying header (block align disagrees with channels and bits)',
      () => {
        const b = writeWav({ format: 1, bits: 16, channels: 1, rate: 16000, samples: ramp });
        b[32] = 4;
        return b;
      },
      /block align 4 should be 1 channels x 2 bytes = 2/,
    ],
    [
      'a header with 0 channels',
      () => {
        const b = writeWav({ format: 1, bits: 16, channels: 1, rate: 16000, samples: ramp });
        b[22] = 0;
        return b;
      },
      /0 channels/,
    ],
    ['a compressed format', () => writeWav({ format: 2 as 1, bits: 16, channels: 1, rate: 16000, samples: ramp }), /compressed or unknown/],
    ['12-bit samples', () => writeWav({ format: 1, bits: 12 as 16, channels: 1, rate: 16000, samples: [] }), /12-bit PCM samples are not supported/],
  ];
  for (const [name, bytes, message] of bad) {
    it(`${name} gives a WavError naming the file`, () => {
      let error: unknown;
      try {
        decodeWav(bytes(), 'clips/bad.wav');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(WavError);
      expect((error as Error).message).toMatch(/^clips\/bad\.wav: /);
      expect((error as Error).message).toMatch(message);
    });
  }

  it('a folder read skips and counts bad files, or stops at the first with strict', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-wav-'));
    writeFileSync(join(dir, 'good.wav'), writeWav({ format: 1, bits: 16, channels: 1, rate: 16000, samples: ramp }));
    writeFileSync(join(dir, 'empty.wav'), new Uint8Array(0));
    writeFileSync(join(dir, 'junk.wav'), new TextEncoder().encode('not audio'));
    const paths = ['good.wav', 'empty.wav', 'junk.wav', 'missing.wav'].map((f) => join(dir, f));
    const batch = await readWavs(paths);
    expect(batch.clips.map((c) => c.path)).toEqual([paths[0]]);
    expect(batch.skipped.map((s) => s.reason)).toEqual([expect.stringMatching(/empty/), expect.stringMatching(/not a WAV/), 'no such file']);
    await expect(readWavs(paths, { strict: true })).rejects.toThrow(/empty\.wav: the file is empty/);
    await expect(readWav(dir)).rejects.toThrow(/is a folder/);
  });
});

describe('malformed WAV files', () => {
  const formats: WavSpec[] = [
    { format: 1, channels: 1, rate: 16000, bits: 8, samples: ramp },
    { format: 1, channels: 2, rate: 16000, bits: 16, samples: [...ramp, ...ramp] },
    { format: 1, channels: 1, rate: 44100, bits: 24, samples: ramp },
    { format: 1, channels: 1, rate: 8000, bits: 32, samples: ramp },
    { format: 3, channels: 1, rate: 16000, bits: 32, samples: ramp },
    { format: 3, channels: 2, rate: 48000, bits: 64, samples: [...ramp, ...ramp] },
    { format: 0xfffe, subFormat: 1, channels: 2, rate: 16000, bits: 16, samples: [...ramp, ...ramp] },
    { format: 0xfffe, subFormat: 3, channels: 1, rate: 16000, bits: 32, samples: ramp, dataFirst: true },
    { format: 1, channels: 1, rate: 16000, bits: 16, samples: ramp, extraChunks: [{ id: 'LIST', bytes: [1, 2, 3] }] },
  ];

  it('fuzz: every truncated, bit-flipped or field-scrambled file decodes to finite samples or raises a WavError naming it', () => {
    const random = rng(99);
    let decoded = 0;
    let refused = 0;
    const attempt = (bytes: Uint8Array, what: string) => {
      try {
        const wav = decodeWav(bytes, `fuzz-${what}.wav`);
        expect(wav.samples.every((v) => Number.isFinite(v) && Math.abs(v) <= 1000), what).toBe(true);
        expect(wav.samples.length, what).toBeGreaterThan(0);
        decoded++;
      } catch (err) {
        if (!(err instanceof WavError)) throw new Error(`${what}: ${(err as Error).name}: ${(err as Error).message}`);
        expect(err.message, what).toContain(`fuzz-${what}.wav`);
        refused++;
      }
    };
    formats.forEach((spec, f) => {
      const good = writeWav(spec);
      for (let cut = 0; cut < good.length; cut++) attempt(good.subarray(0, cut), `${f}-cut-${cut}`);
      for (let k = 0; k < 300; k++) {
        const bytes = good.slice();
        const flips = 1 + Math.floor(random() * 4);
        for (let j = 0; j < flips; j++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
        attempt(bytes, `${f}-flip-${k}`);
      }
      for (let k = 0; k < 100; k++) {
        // a random 32-bit value in a random header field (sizes, rate, counts)
        const bytes = good.slice();
        const view = new DataView(bytes.buffer);
        const at = 4 * Math.floor(random() * Math.min(16, Math.floor(bytes.length / 4)));
        view.setUint32(at, [0, 1, 0xffffffff, 0x7fffffff, Math.floor(random() * 2 ** 32)][k % 5]!, true);
        attempt(bytes, `${f}-field-${k}`);
      }
    });
    expect(decoded).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });

  it('refuses NaN or infinite float samples, an empty data chunk, a cut extensible fmt chunk and absurd rates, naming the file', () => {
    const float = (samples: number[]) => writeWav({ format: 3, channels: 1, rate: 16000, bits: 32, samples });
    expect(() => decodeWav(float([0.1, NaN, 0.2]), 'nan.wav')).toThrow(/nan\.wav: sample 1 \(channel 0\) is NaN/);
    expect(() => decodeWav(float([0.1, Infinity]), 'inf.wav')).toThrow(/inf\.wav: sample 1 .* not a number/);
    expect(() => decodeWav(float([1e30]), 'huge.wav')).toThrow(/huge\.wav: sample 0 .* far beyond full scale/);
    expect(() => decodeWav(writeWav({ format: 1, channels: 1, rate: 16000, bits: 16, samples: [] , extraChunks: [{ id: 'LIST', bytes: [1, 2, 3, 4] }] }), 'empty.wav')).toThrow(/empty\.wav: the 'data' chunk holds no samples/);
    const ext = writeWav({ format: 0xfffe, subFormat: 1, channels: 1, rate: 16000, bits: 16, samples: ramp, dataFirst: true });
    expect(() => decodeWav(ext.subarray(0, ext.length - 20), 'cut.wav')).toThrow(/cut\.wav: /);
    for (const rate of [1, 999, 10_000_000]) {
      expect(() => decodeWav(writeWav({ format: 1, channels: 1, rate, bits: 16, samples: ramp }), 'rate.wav')).toThrow(new RegExp(`rate\\.wav: the header says the sample rate is ${rate} Hz`));
    }
  });

  it('reads regular files only: a FIFO and a device are refused at once, not waited on or read forever', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-wav-'));
    const fifo = join(dir, 'fifo.wav');
    execFileSync('mkfifo', [fifo]);
    await expect(readWav(fifo)).rejects.toThrow(/fifo\.wav: is not a regular file/);
    const device = join(dir, 'zero.wav');
    symlinkSync('/dev/zero', device);
    await expect(readWav(device)).rejects.toThrow(/zero\.wav: is not a regular file/);
    await expect(readWav(dir)).rejects.toThrow(/is a folder/);
  });
});

describe('resampling', () => {
  const tone = (freq: number, rate: number, seconds: number) =>
    Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => Math.sin((2 * Math.PI * freq * i) / rate));
  const rms = (x: Float32Array, from: number, to: number) => Math.sqrt(x.subarray(from, to).reduce((s, v) => s + v * v, 0) / (to - from));

  it('44.1 kHz -> 16 kHz keeps a 1 kHz tone (compared with the analytic sine away from the edges)', () => {
    const y = resample(tone(1000, 44100, 0.5), 44100, 16000);
    expect(y.length).toBe(8000);
    let worst = 0;
    for (let i = 500; i < 7500; i++) worst = Math.max(worst, Math.abs(y[i]! - Math.sin((2 * Math.PI * 1000 * i) / 16000)));
    expect(worst).toBeLessThan(1e-3);
  });

  it('removes content above the new Nyquist frequency instead of folding it back (unlike nearest-sample)', () => {
    const y = resample(tone(10_000, 44100, 0.5), 44100, 16000);
    expect(rms(y, 500, 7500)).toBeLessThan(1e-3);
  });

  it('upsampling 8 kHz -> 16 kHz interpolates a 500 Hz tone', () => {
    const y = resample(tone(500, 8000, 0.25), 8000, 16000);
    let worst = 0;
    for (let i = 400; i < 3600; i++) worst = Math.max(worst, Math.abs(y[i]! - Math.sin((2 * Math.PI * 500 * i) / 16000)));
    expect(worst).toBeLessThan(2e-3);
  });
});
