// FFT, STFT, resize and normalisation on the GPU against float64 references.
import { describe, expect, it } from 'vitest';
import { normalization, normalize, NormalizationStats, PAPER_SPECTROGRAM, resizeSpectrograms, spectrogram, spectrogramShape, windowCoefficients } from '../src/audio/spectrogram.js';
import { fftKernel } from '../src/kernels/fft.js';
import { resizeKernel } from '../src/kernels/resize.js';
import { Tensor } from '../src/tensor/tensor.js';
import { expectClose, randomArray, useEngine } from './helpers/gpu.js';
import { dft, spectrogramRef } from './reference/float64.js';
import { Counter } from './reference/counter.js';

const env = useEngine();


/** Radix-2 FFT in float64 that counts its arithmetic: the reference for the kernel's FLOP declaration. */
function countedFft(re: Float64Array, im: Float64Array, k: Counter): void {
  const n = re.length;
  if (n === 1) return;
  const [er, ei, or, oi] = [new Float64Array(n / 2), new Float64Array(n / 2), new Float64Array(n / 2), new Float64Array(n / 2)];
  for (let i = 0; i < n / 2; i++) [er[i], ei[i], or[i], oi[i]] = [re[2 * i]!, im[2 * i]!, re[2 * i + 1]!, im[2 * i + 1]!];
  countedFft(er, ei, k);
  countedFft(or, oi, k);
  for (let i = 0; i < n / 2; i++) {
    const [wr, wi] = [Math.cos((-2 * Math.PI * i) / n), Math.sin((-2 * Math.PI * i) / n)];
    const tr = k.sub(k.mul(or[i]!, wr), k.mul(oi[i]!, wi));
    const ti = k.add(k.mul(or[i]!, wi), k.mul(oi[i]!, wr));
    [re[i], im[i]] = [k.add(er[i]!, tr), k.add(ei[i]!, ti)];
    [re[i + n / 2], im[i + n / 2]] = [k.sub(er[i]!, tr), k.sub(ei[i]!, ti)];
  }
}

describe('FFT', () => {
  for (const [transforms, n] of [[3, 64], [2, 256], [5, 1024], [1, 4096], [2, 2]] as [number, number][]) {
    it(`${transforms} x ${n}-point complex FFT matches a float64 DFT (atol 2e-6 * n, rtol 1e-4)`, async () => {
      const x = Float64Array.from(Float32Array.from(randomArray(transforms * n * 2, n)));
      const y = fftKernel(Tensor.from(x, [transforms, n, 2]));
      expectClose(await y.data(), dft(x, n), 2e-6 * n, 1e-4);
    });
  }

  it("a pure tone lands in its bin, and Parseval's identity holds", async () => {
    const n = 512;
    const bin = 37;
    const x = new Float32Array(n * 2);
    for (let j = 0; j < n; j++) x[2 * j] = Math.cos((2 * Math.PI * bin * j) / n);
    const y = await fftKernel(Tensor.from(x, [n, 2])).data();
    const magnitude = (k: number) => Math.hypot(y[2 * k]!, y[2 * k + 1]!);
    expect(magnitude(bin)).toBeCloseTo(n / 2, 2);
    expect(magnitude(n - bin)).toBeCloseTo(n / 2, 2);
    for (let k = 0; k < n; k++) if (k !== bin && k !== n - bin) expect(magnitude(k)).toBeLessThan(1e-3);
    const r = Float64Array.from(Float32Array.from(randomArray(n * 2, 9)));
    const z = await fftKernel(Tensor.from(r, [n, 2])).data();
    const energy = (v: ArrayLike<number>) => Array.from(v).reduce((s, q) => s + q * q, 0);
    expect(energy(z) / n).toBeCloseTo(energy(r), 3);
  });

  it('declares the arithmetic of a counted radix-2 FFT', async () => {
    const n = 64;
    const { records } = await env.engine.ledger.capture(() => fftKernel(Tensor.zeros([3, n, 2])));
    const k = new Counter();
    for (let t = 0; t < 3; t++) countedFft(new Float64Array(n), new Float64Array(n), k);
    const total = records.reduce((s, r) => ({ mul: s.mul + r.counts.mul, add: s.add + r.counts.add }), { mul: 0, add: 0 });
    expect(total).toEqual({ mul: k.c.mul, add: k.c.add });
    expect(records.length).toBe(Math.log2(n));
  });

  it('refuses a length that is not a power of two', () => {
    expect(() => fftKernel(Tensor.zeros([100, 2]))).toThrow(/power of two/);
  });
});


describe('spectrogram (paper preset)', () => {
  it('TensorFlow\'s Hann window of length 255 is the symmetric one (numpy.hanning)', () => {
    const w = windowCoefficients('hann-tf', 255);
    expect(w[0]).toBe(0);
    expect(w[254]).toBeCloseTo(0, 12);
    expect(w[127]).toBeCloseTo(1, 12);
    expect(windowCoefficients('hann-tf', 256)[128]).toBeCloseTo(1, 12); // even: periodic
  });

  it('a 1 s 16 kHz clip gives 124 frames x 129 bins matching a float64 reference within 1e-4 relative', async () => {
    expect(spectrogramShape(16000, PAPER_SPECTROGRAM)).toEqual([124, 129]);
    const clips = 2;
    const signal = Float64Array.from(Float32Array.from(randomArray(clips * 16000, 42, -0.5, 0.5)));
    for (let i = 0; i < 16000; i++) signal[i] = Math.fround(0.3 * Math.sin((2 * Math.PI * 440 * i) / 16000) + 0.1 * signal[i]!);
    const out = spectrogram(Tensor.from(signal, [clips, 16000]));
    expect(out.shape).toEqual([clips, 124, 129]);
    const got = await out.data();
    for (let c = 0; c < clips; c++) {
      const ref = spectrogramRef(signal.subarray(c * 16000, (c + 1) * 16000), 255, 128, 256);
      const flat = Float64Array.from(ref.flatMap((f) => [...f]));
      const peak = flat.reduce((m, v) => Math.max(m, v), 0);
      // relative 1e-4, with an absolute floor of 1e-6 of the clip's peak for bins near zero
      expectClose(got.subarray(c * 124 * 129, (c + 1) * 124 * 129), flat, 1e-6 * peak, 1e-4);
    }
  });

  it('power and log-mel outputs have the documented shapes and values', async () => {
    const signal = Float32Array.from({ length: 16000 }, (_, i) => Math.sin((2 * Math.PI * 1000 * i) / 16000));
    const t = Tensor.from(signal, [1, 16000]);
    const magnitude = await spectrogram(t).data();
    const power = await spectrogram(t, { ...PAPER_SPECTROGRAM, output: 'power' }).data();
    expectClose(power, magnitude.map((m) => m * m), 1e-3, 1e-4);
    const logmel = spectrogram(t, { ...PAPER_SPECTROGRAM, output: 'logmel', melBins: 40 });
    expect(logmel.shape).toEqual([1, 124, 40]);
    expect((await logmel.data()).every(Number.isFinite)).toBe(true);
  });
});

describe('resize and normalisation', () => {
  /** TensorFlow's bilinear resize with half-pixel centres, in float64. */
  function resizeRef(x: Float64Array, H: number, W: number, OH: number, OW: number): Float64Array {
    const out = new Float64Array(OH * OW);
    const coords = (o: number, size: number, outSize: number) => {
      const v = (o + 0.5) * (size / outSize) - 0.5;
      return { lo: Math.max(Math.floor(v), 0), hi: Math.min(Math.ceil(v), size - 1), w: v - Math.floor(v) };
    };
    for (let y = 0; y < OH; y++)
      for (let z = 0; z < OW; z++) {
        const r = coords(y, H, OH);
        const c = coords(z, W, OW);
        const top = x[r.lo * W + c.lo]! + (x[r.lo * W + c.hi]! - x[r.lo * W + c.lo]!) * c.w;
        const bottom = x[r.hi * W + c.lo]! + (x[r.hi * W + c.hi]! - x[r.hi * W + c.lo]!) * c.w;
        out[y * OW + z] = top + (bottom - top) * r.w;
      }
    return out;
  }

  for (const [H, W, OH, OW] of [[124, 129, 64, 64], [624, 129, 64, 64], [5, 7, 9, 3]]) {
    it(`bilinear ${H}x${W} -> ${OH}x${OW} matches the half-pixel float64 reference`, async () => {
      const x = Float64Array.from(Float32Array.from(randomArray(2 * H! * W!, H!)));
      const got = await resizeSpectrograms(Tensor.from(x, [2, H!, W!]), OH, OW).data();
      const ref = [0, 1].flatMap((i) => [...resizeRef(x.subarray(i * H! * W!, (i + 1) * H! * W!), H!, W!, OH!, OW!)]);
      expectClose(got, ref, 1e-6, 1e-5);
    });
  }

  it('with the Normalization layer in its epilogue: (resized - mean) / std, and one fma more declared per output, in one dispatch', async () => {
    const [H, W, OH, OW] = [124, 129, 64, 64];
    const x = Float64Array.from(Float32Array.from(randomArray(H * W, 7, 0, 3)));
    const [mean, variance] = [1.25, 0.64];
    const { result, records } = await env.engine.ledger.capture(() => resizeSpectrograms(Tensor.from(x, [1, H, W]), OH, OW, normalization(mean, variance)));
    expectClose(await result.data(), resizeRef(x, H, W, OH, OW).map((v) => (v - mean) / Math.sqrt(variance)), 1e-5, 1e-5);
    expect(records.map((r) => r.kernel)).toEqual(['resize-bilinear+affine']);
    expect(records[0]!.counts.fma).toBe(4 * OH * OW);
    result.dispose();
  });

  it('declares three interpolations per output', async () => {
    const { records } = await env.engine.ledger.capture(() => resizeKernel(Tensor.zeros([1, 6, 6]), 4, 4));
    expect(records[0]!.counts.fma).toBe(3 * 16);
    expect(records[0]!.counts.add).toBe(3 * 16);
  });

  it('normalisation statistics adapted over several batches equal the float64 mean and variance', async () => {
    const batches = [randomArray(3000, 1, 0, 4), randomArray(5000, 2, -1, 1)].map((b) => Float64Array.from(Float32Array.from(b)));
    const stats = new NormalizationStats();
    for (const b of batches) await stats.add(Tensor.from(b, [b.length]));
    const all = batches.flatMap((b) => [...b]);
    const mean = all.reduce((s, v) => s + v, 0) / all.length;
    const variance = all.reduce((s, v) => s + (v - mean) ** 2, 0) / all.length;
    expect(stats.mean).toBeCloseTo(mean, 4);
    expect(stats.variance).toBeCloseTo(variance, 3);
  });

  it('normalize computes (x - mean) / max(sqrt(var), 1e-7)', async () => {
    const y = await normalize(Tensor.from([1, 2, 3], [3]), 2, 4).data();
    expectClose(y, [-0.5, 0, 0.5], 1e-7, 1e-6);
    const z = await normalize(Tensor.from([5], [1]), 5, 0).data();
    expect(z[0]).toBe(0);
  });
});
