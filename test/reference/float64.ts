// Float64 references for the kernels, shared by the Node tests and the browser tests (which run the same kernels
// in a page and compare here). Each counts its primitives on a Counter where the FLOP checks need them.
import { Counter } from './counter.js';

/** Float64 batched reference; a batch of 1 broadcasts. Counts one fma per multiply-add. */
export function matmulRef(
  a: Float64Array, b: Float64Array,
  d: { batchA: number; batchB: number; M: number; N: number; K: number; transA?: boolean; transB?: boolean; alpha?: number },
  c = new Counter(),
): Float64Array {
  const batch = Math.max(d.batchA, d.batchB);
  const out = new Float64Array(batch * d.M * d.N);
  for (let p = 0; p < batch; p++) {
    const ao = d.batchA === 1 ? 0 : p * d.M * d.K;
    const bo = d.batchB === 1 ? 0 : p * d.K * d.N;
    for (let m = 0; m < d.M; m++)
      for (let n = 0; n < d.N; n++) {
        let acc = 0;
        for (let k = 0; k < d.K; k++) {
          const av = a[ao + (d.transA ? k * d.M + m : m * d.K + k)]!;
          const bv = b[bo + (d.transB ? n * d.K + k : k * d.N + n)]!;
          acc = c.fma(av, bv, acc);
        }
        out[(p * d.M + m) * d.N + n] = d.alpha === undefined ? acc : c.mul(acc, d.alpha);
      }
  }
  return out;
}

export interface ConvCase { x: number[]; w: number[]; stride: number; padding: 'valid' | 'same'; groups: number; bias: boolean }

/** Float64 reference convolution (NHWC, HWIO), TensorFlow padding, skipping taps in the padding. */
export function convRef(x: Float64Array, w: Float64Array, b: Float64Array | undefined, c: ConvCase, k = new Counter()): Float64Array {
  const [N, H, W, Cin] = c.x as [number, number, number, number];
  const [KH, KW, cinG, Cout] = c.w as [number, number, number, number];
  const coutG = Cout / c.groups;
  const dim = (size: number, kernel: number) => {
    if (c.padding === 'valid') return { out: Math.floor((size - kernel) / c.stride) + 1, pad: 0 };
    const out = Math.ceil(size / c.stride);
    return { out, pad: Math.floor(Math.max((out - 1) * c.stride + kernel - size, 0) / 2) };
  };
  const r = dim(H, KH);
  const q = dim(W, KW);
  const y = new Float64Array(N * r.out * q.out * Cout);
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < r.out; oy++)
      for (let ox = 0; ox < q.out; ox++)
        for (let oc = 0; oc < Cout; oc++) {
          const grp = Math.floor(oc / coutG);
          let acc = 0;
          for (let ky = 0; ky < KH; ky++) {
            const iy = oy * c.stride - r.pad + ky;
            if (iy < 0 || iy >= H) continue;
            for (let kx = 0; kx < KW; kx++) {
              const ix = ox * c.stride - q.pad + kx;
              if (ix < 0 || ix >= W) continue;
              for (let ci = 0; ci < cinG; ci++) {
                acc = k.fma(x[((n * H + iy) * W + ix) * Cin + grp * cinG + ci]!, w[((ky * KW + kx) * cinG + ci) * Cout + oc]!, acc);
              }
            }
          }
          y[((n * r.out + oy) * q.out + ox) * Cout + oc] = b ? k.add(acc, b[oc]!) : acc;
        }
  return y;
}

export function softmaxRows(x: Float64Array, n: number, k = new Counter()): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    let m = x[r * n]!;
    for (let i = 1; i < n; i++) m = k.max(m, x[r * n + i]!);
    let s = 0;
    for (let i = 0; i < n; i++) {
      const e = k.exp(k.sub(x[r * n + i]!, m));
      y[r * n + i] = e;
      s = k.add(s, e);
    }
    const inv = k.div(1, s);
    for (let i = 0; i < n; i++) y[r * n + i] = k.mul(y[r * n + i]!, inv);
  }
  return y;
}

export function layerNormRows(x: Float64Array, gamma: Float64Array, beta: Float64Array, n: number, eps: number, k = new Counter()): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    const row = x.subarray(r * n, (r + 1) * n);
    let s = row[0]!;
    for (let i = 1; i < n; i++) s = k.add(s, row[i]!);
    const mean = k.mul(s, 1 / n);
    let v = 0;
    for (let i = 0; i < n; i++) {
      const d = k.sub(row[i]!, mean);
      v = k.fma(d, d, v);
    }
    const rstd = k.rsqrt(k.add(k.mul(v, 1 / n), eps));
    for (let i = 0; i < n; i++) y[r * n + i] = k.fma(k.mul(k.sub(row[i]!, mean), rstd), gamma[i]!, beta[i]!);
  }
  return y;
}

/** Direct O(n^2) DFT in float64 of complex rows [transforms, n, 2]. */
export function dft(x: Float64Array, n: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let t = 0; t < x.length / (2 * n); t++) {
    for (let k = 0; k < n; k++) {
      let re = 0;
      let im = 0;
      for (let j = 0; j < n; j++) {
        const angle = (-2 * Math.PI * ((k * j) % n)) / n;
        const [a, b] = [x[(t * n + j) * 2]!, x[(t * n + j) * 2 + 1]!];
        re += a * Math.cos(angle) - b * Math.sin(angle);
        im += a * Math.sin(angle) + b * Math.cos(angle);
      }
      out[(t * n + k) * 2] = re;
      out[(t * n + k) * 2 + 1] = im;
    }
  }
  return out;
}

/** Independent float64 spectrogram: frame, symmetric Hann (numpy.hanning), zero-pad, DFT, magnitude. */
export function spectrogramRef(x: Float64Array, frameLength: number, hop: number, n: number): Float64Array[] {
  const window = Array.from({ length: frameLength }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (frameLength - 1)));
  const frames: Float64Array[] = [];
  for (let start = 0; start + frameLength <= x.length; start += hop) {
    const bins = new Float64Array(n / 2 + 1);
    for (let k = 0; k <= n / 2; k++) {
      let re = 0;
      let im = 0;
      for (let j = 0; j < frameLength; j++) {
        const v = x[start + j]! * window[j]!;
        re += v * Math.cos((2 * Math.PI * k * j) / n);
        im -= v * Math.sin((2 * Math.PI * k * j) / n);
      }
      bins[k] = Math.hypot(re, im);
    }
    frames.push(bins);
  }
  return frames;
}

/** LayerNorm rows as `lanes` lanes compute them (the workgroup and subgroup variants): each lane sums every
 * lanes-th value from zero, and the lanes' parts are added, for the mean and for the centred squares. */
export function layerNormLanesRows(x: Float64Array, gamma: Float64Array, beta: Float64Array, n: number, eps: number, lanes: number, k = new Counter()): Float64Array {
  const y = new Float64Array(x.length);
  const total = (parts: number[]) => parts.reduce((s, p) => k.add(s, p));
  for (let r = 0; r < x.length / n; r++) {
    const row = x.subarray(r * n, (r + 1) * n);
    const sums = new Array<number>(lanes).fill(0);
    for (let i = 0; i < n; i++) sums[i % lanes] = k.add(sums[i % lanes]!, row[i]!);
    const mean = k.mul(total(sums), 1 / n);
    const squares = new Array<number>(lanes).fill(0);
    for (let i = 0; i < n; i++) {
      const d = k.sub(row[i]!, mean);
      squares[i % lanes] = k.fma(d, d, squares[i % lanes]!);
    }
    const rstd = k.rsqrt(k.add(k.mul(total(squares), 1 / n), eps));
    for (let i = 0; i < n; i++) y[r * n + i] = k.fma(k.mul(k.sub(row[i]!, mean), rstd), gamma[i]!, beta[i]!);
  }
  return y;
}

/** softmaxRows as the lane variants compute it: each of `lanes` lanes takes every lanes-th value, its maximum
 * starting below all of them; the lanes' maxima and sums meet (lanes - 1 operations each); every lane takes the
 * reciprocal of the total. */
export function softmaxLanesRows(x: Float64Array, n: number, lanes: number, k = new Counter()): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    const row = x.subarray(r * n, (r + 1) * n);
    const maxima = new Array<number>(lanes).fill(-3e38);
    for (let i = 0; i < n; i++) maxima[i % lanes] = k.max(maxima[i % lanes]!, row[i]!);
    const m = maxima.reduce((a, b) => k.max(a, b));
    const sums = new Array<number>(lanes).fill(0);
    for (let i = 0; i < n; i++) {
      const e = k.exp(k.sub(row[i]!, m));
      y[r * n + i] = e;
      sums[i % lanes] = k.add(sums[i % lanes]!, e);
    }
    const total = sums.reduce((a, b) => k.add(a, b));
    let inv = 0;
    for (let l = 0; l < lanes; l++) inv = k.div(1, total);
    for (let i = 0; i < n; i++) y[r * n + i] = k.mul(y[r * n + i]!, inv);
  }
  return y;
}

/** erf by its Maclaurin series (float64-exact for |x| <= 3, where the series converges quickly), 1 beyond. */
export function erfRef(x: number): number {
  if (Math.abs(x) > 3) return Math.sign(x) * (1 - 2e-5 * Math.exp(-x * x)); // within 2.3e-5 of erf there, below float32's use
  let term = x;
  let sum = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** GELU's derivative, Phi(x) + x phi(x). */
export const geluGradRef = (x: number) => 0.5 * (1 + erfRef(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
