import { describe, expect, it } from 'vitest';
import { adamwKernel } from '../src/kernels/adamw.js';
import { dropoutKernel } from '../src/kernels/dropout.js';
import { layerNormBackward, layerNormForward } from '../src/kernels/layernorm.js';
import { withVariant } from '../src/kernels/tuner.js';
import { crossEntropyBackward, crossEntropyForward, softmaxBackward, softmaxDropout, softmaxForward } from '../src/kernels/softmax.js';
import { multiHeadAttention, packedMultiHeadAttention, scaledDotProductAttention, tokenPool } from '../src/ops/attention.js';
import { dropout, newDropoutMask } from '../src/ops/dropout.js';
import { add, mul } from '../src/ops/elementwise.js';
import { batchNorm, layerNorm } from '../src/ops/norm.js';
import { sum } from '../src/ops/reduce.js';
import { backward } from '../src/ops/autograd.js';
import { crossEntropy, softmax, topKAccuracy } from '../src/ops/softmax.js';
import { AdamW } from '../src/optim/adamw.js';
import { noGrad, tidy } from '../src/tensor/engine.js';
import { packedZeros, PACK_ALIGN } from '../src/tensor/pack.js';
import { Tensor } from '../src/tensor/tensor.js';
import { checkOp } from './helpers/check.js';
import { expectClose, randomArray, useEngine } from './helpers/gpu.js';
import { layerNormLanesRows, layerNormRows, softmaxLanesRows, softmaxRows } from './reference/float64.js';
import { Counter } from './reference/counter.js';

const env = useEngine();
const strip = (c: object) => ({ ...c, bytesRead: 0, bytesWritten: 0 });


function crossEntropyRows(x: Float64Array, labels: number[], n: number, k = new Counter()): { loss: Float64Array; lse: Float64Array } {
  const rows = labels.length;
  const loss = new Float64Array(rows);
  const lse = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = x[r * n]!;
    for (let i = 1; i < n; i++) m = k.max(m, x[r * n + i]!);
    let s = k.exp(k.sub(x[r * n]!, m));
    for (let i = 1; i < n; i++) s = k.add(s, k.exp(k.sub(x[r * n + i]!, m)));
    lse[r] = k.add(m, k.log(s));
    loss[r] = k.sub(lse[r]!, x[r * n + labels[r]!]!);
  }
  return { loss, lse };
}


/** The padding between packed tensors (their storage outside every tensor) holds zeros. */
async function expectPaddingZero(params: readonly Tensor[]): Promise<void> {
  const whole = Tensor.span(params);
  const values = await whole.data();
  const base = params[0]!.byteOffset / 4;
  const inside = new Set<number>();
  params.forEach((p) => {
    for (let i = 0; i < p.size; i++) inside.add(p.byteOffset / 4 - base + i);
  });
  expect(values.every((x, i) => inside.has(i) || x === 0)).toBe(true);
  whole.dispose();
}

describe('softmax and cross-entropy', () => {
  for (const [rows, n] of [[1, 1], [3, 7], [65, 10], [4, 129]] as [number, number][]) {
    it(`softmax over rows of ${n} (${rows} rows): values and gradient`, async () => {
      await checkOp({ shapes: [[rows, n]], gpu: ([x]) => softmax(x!), reference: ([x]) => softmaxRows(x!, n), ranges: [[-4, 4]], forwardTol: [1e-6, 1e-5] });
    });
  }

  // The forward pass's three variants, each forced: values against float64 (with and without dropout, which drops
  // what the row variant drops) and the declared counts against the reference that reduces as their lanes do.
  for (const variant of ['row', 'workgroup', 'subgroup'] as const) {
    it(`softmax forward, ${{ row: 'an invocation', workgroup: 'a workgroup', subgroup: 'a subgroup' }[variant]} per row, forced: values, dropout and declared counts`, async ({ skip }) => {
      const subgroup = env.engine.runtime.subgroupSize;
      if (variant === 'subgroup' && subgroup === undefined) skip(`no fixed-size subgroups on ${env.engine.runtime.adapterName}`);
      for (const [rows, n, seed] of [[1, 4, 1], [7, 33, 2], [5, 200, 3], [3, 1, 5]] as const) {
        const lanes = variant === 'row' ? 0 : variant === 'workgroup' ? Math.min(64, 2 ** Math.floor(Math.log2(n))) : subgroup!;
        const x = Float64Array.from(Float32Array.from(randomArray(rows * n, seed, -4, 4)));
        const { result, records } = await env.engine.ledger.capture(() => withVariant('softmax', variant, () => softmaxForward(Tensor.from(x, [rows, n]))));
        expect(records[0]!.kernel).toBe(variant === 'row' ? 'softmax:softmax' : `softmax:softmax-${variant}`);
        expectClose(await result.data(), softmaxRows(x, n), 1e-6, 1e-5);
        const k = new Counter();
        if (lanes === 0) softmaxRows(x, n, k);
        else softmaxLanesRows(x, n, lanes, k);
        expect(strip(records[0]!.counts), `${rows} x ${n}`).toEqual(k.c);
        // with dropout: what the row variant keeps, for the same seed
        const dropped = async (v: string) => {
          env.engine.setSeed(3);
          const { kept } = withVariant('softmax', v, () => softmaxDropout(Tensor.from(x, [rows, n]), newDropoutMask(0.4)));
          return Float64Array.from(await kept.data());
        };
        expectClose(await dropped(variant), await dropped('row'), 1e-6, 1e-5);
      }
    });
  }

  it('softmax of huge logits stays finite (max subtracted)', async () => {
    const y = await softmax(Tensor.from([1000, 1001, 1002], [1, 3])).data();
    expectClose(y, softmaxRows(Float64Array.from([1000, 1001, 1002]), 3), 1e-6, 1e-5);
  });

  // the mean is one workgroup of 64 lanes: fewer rows than lanes, and lanes taking two and three rows
  for (const [rows, n] of [[9, 8], [1, 3], [150, 12]] as [number, number][]) {
    it(`cross-entropy with integer labels (${rows} rows of ${n}): mean loss and gradient match float64`, async () => {
      const labels = Array.from({ length: rows }, (_, i) => (i * 5) % n);
      await checkOp({
        shapes: [[rows, n]],
        gpu: ([x]) => crossEntropy(x!, Tensor.from(labels, [rows], 'i32')),
        reference: ([x]) => Float64Array.of(crossEntropyRows(x!, labels, n).loss.reduce((a, b) => a + b, 0) / rows),
        ranges: [[-3, 3]],
      });
    });
  }

  it('top-1 and top-3 accuracy count hits, ties going to the lower class', async () => {
    const logits = Tensor.from([0.1, 0.9, 0.3, 0.5, /**/ 2, 1, 0, -1, /**/ 1, 1, 1, 1], [3, 4]);
    const labels = Tensor.from([1, 3, 2], [3], 'i32');
    expect(await topKAccuracy(logits, labels, 1).item()).toBeCloseTo(1 / 3, 6);
    expect(await topKAccuracy(logits, labels, 3).item()).toBeCloseTo(2 / 3, 6);
  });

  it('a label out of range is refused when the labels came from the host, and gives NaN (never a silent number) otherwise', async () => {
    const logits = Tensor.from([1, 2, 3], [1, 3]);
    expect(() => crossEntropy(logits, Tensor.from([7], [1], 'i32'))).toThrow(/label 7 is outside the 3 classes/);
    // A view carries no host range (as labels computed on the GPU would not): the kernel's own guard answers.
    const loss = crossEntropy(logits, Tensor.from([7], [1], 'i32').view([1]));
    expect(Number.isNaN(await loss.item())).toBe(true);
  });

  it('declared counts equal the counted reference', async () => {
    const [rows, n] = [5, 6];
    const x = Tensor.zeros([rows, n]);
    const labels = Tensor.from([0, 1, 2, 3, 4], [rows], 'i32');
    const { records } = await env.engine.ledger.capture(() => {
      const y = softmaxForward(x);
      softmaxBackward(y, y);
      const { lse, loss } = crossEntropyForward(x, labels);
      crossEntropyBackward(x, labels, lse, loss);
    });
    const z = new Float64Array(rows * n);
    const k1 = new Counter();
    softmaxRows(z, n, k1);
    expect(strip(records[0]!.counts)).toEqual(k1.c);
    const k2 = new Counter();
    for (let r = 0; r < rows; r++) {
      let d = 0;
      for (let i = 0; i < n; i++) d = k2.fma(1, 1, d);
      for (let i = 0; i < n; i++) k2.mul(1, k2.sub(1, d));
    }
    expect(strip(records[1]!.counts)).toEqual(k2.c);
    const k3 = new Counter();
    crossEntropyRows(z, [0, 1, 2, 3, 4], n, k3);
    expect(strip(records[2]!.counts)).toEqual(k3.c);
    const k4 = new Counter();
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < n; i++) {
        let p = k4.exp(k4.sub(0, 0));
        if (i === r) p = k4.sub(p, 1);
        k4.mul(p, 1);
      }
    }
    expect(strip(records[3]!.counts)).toEqual(k4.c);
  });
});

describe('normalisation', () => {
  for (const [rows, n] of [[1, 4], [7, 33], [600, 8]] as [number, number][]) {
    it(`layerNorm rows of ${n} (${rows} rows): values and gradients of x, gamma, beta`, async () => {
      await checkOp({
        shapes: [[rows, n], [n], [n]],
        gpu: ([x, g, b]) => layerNorm(x!, g!, b!, 1e-6),
        reference: ([x, g, b]) => layerNormRows(x!, g!, b!, n, 1e-6),
        ranges: [[-2, 2], [0.5, 1.5], [-0.5, 0.5]],
        forwardTol: [2e-5, 2e-5],
        gradTol: [5e-4, 5e-3],
        h: 1e-4,
        forwardOnly: rows * n > 1000,
      });
    });
  }

  it('x + layerNorm(x) (a residual around the norm): the residual\'s gradient is added in the norm\'s input-gradient kernel, no separate addition', async () => {
    const [rows, n] = [5, 12];
    await checkOp({
      shapes: [[rows, n], [n], [n]],
      gpu: ([x, g, b]) => add(x!, layerNorm(x!, g!, b!, 1e-6)),
      reference: ([x, g, b]) => layerNormRows(x!, g!, b!, n, 1e-6).map((v, i) => v + x![i]!),
      ranges: [[-2, 2], [0.5, 1.5], [-0.5, 0.5]],
      forwardTol: [2e-5, 2e-5],
      gradTol: [5e-4, 5e-3],
      h: 1e-4,
    });
    const x = Tensor.from(randomArray(rows * n, 3), [rows, n]);
    x.requiresGrad = true;
    const [g, b] = [Tensor.full([n], 1), Tensor.zeros([n])];
    const { records } = await env.engine.ledger.capture(() => backward(sum(add(x, layerNorm(x, g, b)))));
    const backwardOps = records.filter((r) => r.phase === 'backward').map((r) => r.kernel);
    expect(backwardOps).toContain('layernorm:grad+add');
    expect(backwardOps.filter((k) => k.startsWith('binary'))).toEqual([]);
    x.grad!.dispose();
  });

  // The forward pass's three variants, each forced: values against the float64 reference (up to 70,000 rows:
  // past one dispatch dimension of workgroups for a workgroup per row) and the declared counts against the
  // reference that sums as their lanes do. The subgroup variant runs where the device has fixed-size subgroups
  // (lavapipe through Vulkan: 8 lanes), and is passed over elsewhere.
  for (const variant of ['row', 'workgroup', 'subgroup'] as const) {
    it(`layerNorm forward, ${{ row: 'an invocation', workgroup: 'a workgroup', subgroup: 'a subgroup' }[variant]} per row, forced: values for short, long and many rows, and its declared counts`, async ({ skip }) => {
      const subgroup = env.engine.runtime.subgroupSize;
      if (variant === 'subgroup' && subgroup === undefined) skip(`no fixed-size subgroups on ${env.engine.runtime.adapterName}`);
      for (const [rows, n, seed] of [[1, 4, 1], [7, 33, 2], [5, 200, 3], [70_000, 8, 4], [3, 1, 5]] as const) {
        // the workgroup variant: the largest power of two up to 64 lanes that gives each a value
        const lanes = variant === 'row' ? 0 : variant === 'workgroup' ? Math.min(64, 2 ** Math.floor(Math.log2(n))) : subgroup!;
        const x = Float64Array.from(Float32Array.from(randomArray(rows * n, seed, -2, 2)));
        const [g, b] = [Float64Array.from(Float32Array.from(randomArray(n, seed + 10, 0.5, 1.5))), Float64Array.from(Float32Array.from(randomArray(n, seed + 20, -0.5, 0.5)))];
        const { result, records } = await env.engine.ledger.capture(() =>
          withVariant('layernorm', variant, () => layerNormForward(Tensor.from(x, [rows, n]), Tensor.from(g, [n]), Tensor.from(b, [n]), 1e-6)),
        );
        expect(records[0]!.kernel).toBe(variant === 'row' ? 'layernorm:forward' : `layernorm:forward-${variant}`);
        expectClose(await result.y.data(), layerNormRows(x, g, b, n, 1e-6), 2e-5, 2e-5);
        const k = new Counter();
        if (lanes === 0) layerNormRows(x, g, b, n, 1e-6, k);
        else layerNormLanesRows(x, g, b, n, 1e-6, lanes, k);
        expect(strip(records[0]!.counts), `${rows} x ${n}`).toEqual(k.c);
        result.y.dispose();
        result.stats.dispose();
      }
    });
  }

  it('layerNorm forward declares what the counted reference does', async () => {
    const [rows, n] = [3, 5];
    const { records } = await env.engine.ledger.capture(() => withVariant('layernorm', 'row', () => layerNormForward(Tensor.zeros([rows, n]), Tensor.zeros([n]), Tensor.zeros([n]), 1e-6)));
    const k = new Counter();
    layerNormRows(new Float64Array(rows * n), new Float64Array(n), new Float64Array(n), n, 1e-6, k);
    expect(strip(records[0]!.counts)).toEqual(k.c);
  });

  it('layerNorm gradients declare what the counted reference does', async () => {
    const [rows, n] = [3, 5];
    const x = Tensor.zeros([rows, n]);
    const gamma = Tensor.zeros([n]);
    const { stats } = layerNormForward(x, gamma, Tensor.zeros([n]), 1e-6);
    const { records } = await env.engine.ledger.capture(() => layerNormBackward(x, gamma, stats, x));
    const k = new Counter();
    for (let r = 0; r < rows; r++) {
      let sumG = 0;
      let sumGx = 0;
      for (let i = 0; i < n; i++) {
        const xhat = k.mul(k.sub(0, 0), 1);
        const g = k.mul(0, 0);
        sumG = k.add(sumG, g);
        sumGx = k.fma(g, xhat, sumGx);
      }
      const a = k.mul(sumG, 1 / n);
      const b = k.mul(sumGx, 1 / n);
      for (let i = 0; i < n; i++) {
        const xhat = k.mul(k.sub(0, 0), 1);
        const g = k.mul(0, 0);
        k.mul(1, k.sub(k.sub(g, a), k.mul(xhat, b)));
      }
    }
    // the parameters' gradients, counted on with the same counter: one dispatch does both
    for (let col = 0; col < n; col++) {
      let dgamma = 0;
      let dbeta = 0;
      for (let r = 0; r < rows; r++) {
        dgamma = k.fma(0, k.mul(k.sub(0, 0), 1), dgamma);
        dbeta = k.add(dbeta, 0);
      }
    }
    expect(records).toHaveLength(1);
    expect(strip(records[0]!.counts)).toEqual(k.c);
  });

  it('layerNorm parameter gradients over many rows (split sums, then combined) match a float64 reference', async () => {
    const [rows, n] = [1300, 4];
    const xs = randomArray(rows * n, 3);
    const dys = randomArray(rows * n, 4);
    const x = Tensor.from(xs, [rows, n]);
    const gamma = Tensor.full([n], 1);
    const { stats } = layerNormForward(x, gamma, Tensor.zeros([n]), 1e-6);
    const dy = Tensor.from(dys, [rows, n]);
    const { records } = await env.engine.ledger.capture(() => layerNormBackward(x, gamma, stats, dy));
    expect(records.map((r) => r.kernel)).toEqual(['layernorm:grad', 'layernorm:combine_params']);
    const { dgamma, dbeta } = layerNormBackward(x, gamma, stats, dy);
    const [refGamma, refBeta] = [new Float64Array(n), new Float64Array(n)];
    for (let r = 0; r < rows; r++) {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += xs[r * n + i]! / n;
      let variance = 0;
      for (let i = 0; i < n; i++) variance += (xs[r * n + i]! - mean) ** 2 / n;
      for (let i = 0; i < n; i++) {
        refGamma[i]! += dys[r * n + i]! * ((xs[r * n + i]! - mean) / Math.sqrt(variance + 1e-6));
        refBeta[i]! += dys[r * n + i]!;
      }
    }
    expectClose(await dgamma.data(), refGamma, 1e-3, 1e-3);
    expectClose(await dbeta.data(), refBeta, 1e-3, 1e-3);
  });

  it('batchNorm (training) normalises per channel; gradients match finite differences', async () => {
    const shape = [2, 3, 3, 4];
    const C = 4;
    const eps = 1e-3;
    const state = () => ({ gamma: Tensor.full([C], 1.5), beta: Tensor.full([C], 0.25), runningMean: Tensor.zeros([C]), runningVar: Tensor.full([C], 1), momentum: 0.99, eps });
    await checkOp({
      shapes: [shape],
      gpu: ([x]) => batchNorm(x!, state(), true),
      reference: ([x]) => {
        const rows = x!.length / C;
        const out = new Float64Array(x!.length);
        for (let c = 0; c < C; c++) {
          let mean = 0;
          for (let r = 0; r < rows; r++) mean += x![r * C + c]!;
          mean /= rows;
          let v = 0;
          for (let r = 0; r < rows; r++) v += (x![r * C + c]! - mean) ** 2;
          v /= rows;
          for (let r = 0; r < rows; r++) out[r * C + c] = ((x![r * C + c]! - mean) / Math.sqrt(v + eps)) * 1.5 + 0.25;
        }
        return out;
      },
      gradTol: [1e-3, 5e-3],
      h: 1e-4,
    });
  });

  it('batchNorm moves the running averages (unbiased variance, as TensorFlow) and uses them in inference', async () => {
    const C = 2;
    const s = { gamma: Tensor.full([C], 1).keep(), beta: Tensor.zeros([C]).keep(), runningMean: Tensor.zeros([C]).keep(), runningVar: Tensor.full([C], 1).keep(), momentum: 0.9, eps: 1e-3 };
    const x = Tensor.from([1, 10, 3, 20], [2, C]);
    noGrad(() => batchNorm(x, s, true));
    expectClose(await s.runningMean.data(), [0.1 * 2, 0.1 * 15], 1e-6, 1e-5);
    // batch variances of [1, 3] and [10, 20]: 1 and 25 biased, x n / (n - 1) = 2 and 50 unbiased
    expectClose(await s.runningVar.data(), [0.9 + 0.1 * 2, 0.9 + 0.1 * 50], 1e-5, 1e-5);
    const y = await noGrad(() => batchNorm(Tensor.from([0.2, 1.5], [1, C]), s, false)).data();
    expectClose(y, [0, 0], 1e-6, 1e-5);
  });
});

/**
 * The fused BatchNorm's algorithm in float64, counting what it computes: per split of `split` rows a mean and a sum of
 * squared deviations, the splits merged in order (scalar count arithmetic once per group of `width` channels),
 * normalisation + affine + ReLU6, and the backward sums and input gradient.
 */
function fusedBatchNormReference(x: Float64Array, C: number, width: number, gamma: Float64Array, beta: Float64Array, dy: Float64Array, eps: number, momentum: number, k: Counter[], split: number) {
  const rows = x.length / C;
  const splits = Math.ceil(rows / split);
  const [kStats, kCombine, kApply, kGradStats, kGradInput] = k as [Counter, Counter, Counter, Counter, Counter];
  const mean = new Float64Array(C);
  const rstd = new Float64Array(C);
  const runMean = new Float64Array(C);
  const runVar = new Float64Array(C);
  for (let g = 0; g < C / width; g++) {
    let n = 0;
    const m = new Float64Array(width);
    const m2 = new Float64Array(width);
    for (let s = 0; s < splits; s++) {
      const [first, last] = [s * split, Math.min(rows, (s + 1) * split)];
      const nb = last - first;
      const total = kCombine.add(n, nb);
      const ratio = kCombine.div(nb, total);
      const cross = kCombine.div(kCombine.mul(n, nb), total);
      for (let l = 0; l < width; l++) {
        const c = g * width + l;
        let sum = 0;
        for (let r = first; r < last; r++) sum = kStats.add(sum, x[r * C + c]!);
        const mb = kStats.div(sum, nb);
        let m2b = 0;
        for (let r = first; r < last; r++) {
          const d = kStats.sub(x[r * C + c]!, mb);
          m2b = kStats.fma(d, d, m2b);
        }
        const delta = kCombine.sub(mb, m[l]!);
        m[l] = kCombine.add(m[l]!, kCombine.mul(delta, ratio));
        m2[l] = kCombine.add(m2[l]!, kCombine.add(m2b, kCombine.mul(kCombine.mul(delta, delta), cross)));
      }
      n = total;
    }
    const unbiasedCount = kCombine.max(kCombine.sub(n, 1), 1);
    for (let l = 0; l < width; l++) {
      const c = g * width + l;
      mean[c] = m[l]!;
      rstd[c] = kCombine.rsqrt(kCombine.add(kCombine.div(m2[l]!, n), eps));
      runMean[c] = kCombine.fma(momentum, 0, kCombine.mul(1 - momentum, m[l]!));
      runVar[c] = kCombine.fma(momentum, 1, kCombine.mul(1 - momentum, kCombine.div(m2[l]!, unbiasedCount)));
    }
  }
  const y = new Float64Array(x.length);
  const dz = new Float64Array(x.length);
  const sums = new Float64Array(2 * C);
  for (let i = 0; i < x.length; i++) {
    const c = i % C;
    const z = kApply.fma(kApply.mul(kApply.sub(x[i]!, mean[c]!), rstd[c]!), gamma[c]!, beta[c]!);
    y[i] = kApply.min(kApply.max(z, 0), 6);
    // The backward passes recompute the pre-activation from x for ReLU6's mask.
    const xhat = kGradStats.mul(kGradStats.sub(x[i]!, mean[c]!), rstd[c]!);
    const zAgain = kGradStats.fma(xhat, gamma[c]!, beta[c]!);
    const [above, below] = [kGradStats.gt(zAgain, 0), kGradStats.gt(6, zAgain)];
    dz[i] = above && below ? dy[i]! : 0;
    sums[c] = kGradStats.add(sums[c]!, dz[i]!);
    sums[C + c] = kGradStats.fma(dz[i]!, xhat, sums[C + c]!);
  }
  const dx = new Float64Array(x.length);
  for (let s = 0; s < splits; s++) {
    for (let c = 0; c < C; c++) {
      const meanDz = kGradInput.mul(sums[c]!, 1 / rows);
      const meanDzx = kGradInput.mul(sums[C + c]!, 1 / rows);
      for (let r = s * split; r < Math.min(rows, (s + 1) * split); r++) {
        const i = r * C + c;
        const xhat = kGradInput.mul(kGradInput.sub(x[i]!, mean[c]!), rstd[c]!);
        const z = kGradInput.fma(xhat, gamma[c]!, beta[c]!);
        kGradInput.gt(z, 0);
        kGradInput.gt(6, z);
        const inner = kGradInput.sub(kGradInput.sub(dz[i]!, meanDz), kGradInput.mul(xhat, meanDzx));
        dx[i] = kGradInput.mul(kGradInput.mul(gamma[c]!, rstd[c]!), inner);
      }
    }
  }
  return { y, dx, dgamma: sums.slice(C), dbeta: sums.slice(0, C), runMean, runVar };
}

describe('fused BatchNorm', () => {
  // the tuner's candidates forced: rows per invocation 256 (the rule: splits of 256, 256 and 134), 64 (11 splits), 1,024 (one)
  for (const [C, width, variant] of [[8, 4, 'rows256'], [3, 1, 'rows256'], [8, 4, 'rows64'], [3, 1, 'rows1024']] as [number, number, string][]) {
    it(`training with ReLU6, ${C} channels, ${variant}: values, running averages, gradients and declared counts match a counted float64 reference`, async () => {
      const rows = 2 * 17 * 19; // 646: splits of 256, 256 and 134
      const x64 = Float64Array.from(Float32Array.from(randomArray(rows * C, 11, -1, 3)));
      const dy64 = Float64Array.from(Float32Array.from(randomArray(rows * C, 12)));
      const gamma64 = Float64Array.from(Float32Array.from(randomArray(C, 13, 0.5, 2)));
      const beta64 = Float64Array.from(Float32Array.from(randomArray(C, 14, 0, 1)));
      const counters = Array.from({ length: 5 }, () => new Counter());
      const ref = fusedBatchNormReference(x64, C, width, gamma64, beta64, dy64, 1e-3, 0.99, counters, Number(variant.slice(4)));
      const s = { gamma: Tensor.from(gamma64, [C]), beta: Tensor.from(beta64, [C]), runningMean: Tensor.zeros([C]), runningVar: Tensor.full([C], 1), momentum: 0.99, eps: 1e-3 };
      s.gamma.requiresGrad = true;
      s.beta.requiresGrad = true;
      const x = Tensor.from(x64, [2, 17, 19, C]);
      x.requiresGrad = true;
      const { result: y, records } = await env.engine.ledger.capture(() =>
        withVariant('batchnorm', variant, () =>
          tidy(() => {
            const out = batchNorm(x, s, true, 'relu6');
            backward(out, Tensor.from(dy64, out.shape));
            return out;
          }),
        ),
      );
      expectClose(await y.data(), ref.y, 1e-5, 1e-5);
      expectClose(await s.runningMean.data(), ref.runMean, 1e-6, 1e-5);
      expectClose(await s.runningVar.data(), ref.runVar, 1e-6, 1e-5);
      expectClose(await x.grad!.data(), ref.dx, 1e-5, 1e-4);
      expectClose(await s.gamma.grad!.data(), ref.dgamma, 1e-3, 1e-4);
      expectClose(await s.beta.grad!.data(), ref.dbeta, 1e-3, 1e-4);
      const byKernel = (name: string) => strip(records.find((r) => r.kernel.startsWith(name))!.counts);
      expect(byKernel('batchnorm:stats')).toEqual(counters[0]!.c);
      expect(byKernel('batchnorm:combine')).toEqual(counters[1]!.c);
      expect(byKernel('batchnorm:apply')).toEqual(counters[2]!.c);
      expect(byKernel('batchnorm:grad_stats')).toEqual(counters[3]!.c);
      expect(byKernel('batchnorm:grad_input')).toEqual(counters[4]!.c);
    });
  }

  it('without batch statistics (inference with gradients): input and parameter gradients match finite differences', async () => {
    const C = 3;
    const mean = [0.2, -0.1, 0.5];
    const variance = [1.5, 0.7, 2.0];
    const state = () => ({ gamma: Tensor.full([C], 1.5), beta: Tensor.full([C], 0.25), runningMean: Tensor.from(mean, [C]), runningVar: Tensor.from(variance, [C]), momentum: 0.99, eps: 1e-3 });
    await checkOp({
      shapes: [[2, 5, C]],
      gpu: ([x]) => batchNorm(x!, state(), false),
      reference: ([x]) => x!.map((v, i) => ((v - mean[i % C]!) / Math.sqrt(variance[i % C]! + 1e-3)) * 1.5 + 0.25),
    });
  });

  it('without batch statistics, with ReLU6: the mask recomputed from x gives the gradient of the clamped output', async () => {
    const C = 4;
    const mean = [0.2, -0.1, 0.5, 0];
    const variance = [1.5, 0.7, 2.0, 0.01];
    const state = () => ({ gamma: Tensor.full([C], 4), beta: Tensor.full([C], 1), runningMean: Tensor.from(mean, [C]), runningVar: Tensor.from(variance, [C]), momentum: 0.99, eps: 1e-3 });
    const reference = (x: Float64Array) => x.map((v, i) => Math.min(6, Math.max(0, ((v - mean[i % C]!) / Math.sqrt(variance[i % C]! + 1e-3)) * 4 + 1)));
    await checkOp({ shapes: [[3, 5, C]], gpu: ([x]) => batchNorm(x!, state(), false, 'relu6'), reference: ([x]) => reference(x!), h: 1e-4 });
    // Per value: xhat (a subtraction and a multiply), the pre-activation (a multiply-add), two comparisons, and
    // gamma * rstd * dz (two multiplies); per channel group the two means of the unused batch sums.
    const x = Tensor.zeros([3, 5, C]).keep();
    x.requiresGrad = true;
    const { records } = await env.engine.ledger.capture(() => tidy(() => backward(sum(batchNorm(x, state(), false, 'relu6')))));
    const counts = records.find((r) => r.kernel === 'batchnorm:grad_input+relu6:running')!.counts;
    expect([counts.add, counts.mul - 2 * C, counts.fma, counts.cmp]).toEqual([x.size, 3 * x.size, x.size, 2 * x.size]);
    x.dispose();
  });
});

describe('dropout', () => {
  it('keeps about 1 - p of the values, scaled by 1/(1 - p), and the same seed gives the same mask', async () => {
    const n = 100_000;
    const x = Tensor.full([n], 1);
    const a = await dropoutKernel(x, { rate: 0.3, mask: { seed: 1234 } }).data();
    const b = await dropoutKernel(x, { rate: 0.3, mask: { seed: 1234 } }).data();
    const c = await dropoutKernel(x, { rate: 0.3, mask: { seed: 1235 } }).data();
    const kept = a.filter((v) => v !== 0);
    expect(Math.abs(kept.length / n - 0.7)).toBeLessThan(0.01);
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / 0.7)]));
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('the gradient uses the forward mask; inference is the identity', async () => {
    const x = Tensor.from(randomArray(1000, 5), [1000]);
    x.requiresGrad = true;
    env.engine.setSeed(7);
    const y = dropout(x, 0.5, true);
    const { backward } = await import('../src/ops/autograd.js');
    backward(y, Tensor.full([1000], 1));
    const [yv, gv] = [await y.data(), await x.grad!.data()];
    for (let i = 0; i < 1000; i++) expect(gv[i]).toBe(yv[i] === 0 ? 0 : 2);
    expect(dropout(x, 0.5, false)).toBe(x);
  });
});

describe('declarations of the small kernels', () => {
  it('dropout, top-k and the max gradient declare what a counted reference does', async () => {
    const [rows, n] = [4, 6];
    const x = Tensor.zeros([rows, n]);
    const labels = Tensor.from([0, 1, 2, 3], [rows], 'i32');
    const { maxAxisGrad } = await import('../src/kernels/reduce.js');
    const { topKHits } = await import('../src/kernels/softmax.js');
    const y = Tensor.zeros([rows, 1]);
    const { records } = await env.engine.ledger.capture(() => {
      dropoutKernel(x, { rate: 0.5, mask: { seed: 1 } });
      topKHits(x, labels, 2);
      maxAxisGrad(x, y, y, 1);
    });
    const drop = new Counter();
    for (let i = 0; i < rows * n; i++) {
      drop.gt(1, 0.5); // the keep test
      drop.mul(0, 2); // x * 1/(1-p), computed whether or not it is kept
    }
    expect(strip(records[0]!.counts)).toEqual(drop.c);
    const top = new Counter();
    for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) top.gt(0, 0); // one rank comparison per score
    expect(strip(records[1]!.counts)).toEqual(top.c);
    const maxGrad = new Counter();
    for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) maxGrad.gt(0, 0); // one equality test per value
    expect(strip(records[2]!.counts)).toEqual(maxGrad.c);
  });
});

describe('attention and TokenLearner pooling', () => {
  function attentionRef(q: Float64Array, k: Float64Array, v: Float64Array, BH: number, T: number, D: number): Float64Array {
    const out = new Float64Array(BH * T * D);
    for (let b = 0; b < BH; b++) {
      const scores = new Float64Array(T * T);
      for (let i = 0; i < T; i++)
        for (let j = 0; j < T; j++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += q[(b * T + i) * D + d]! * k[(b * T + j) * D + d]!;
          scores[i * T + j] = s / Math.sqrt(D);
        }
      const p = softmaxRows(scores, T);
      for (let i = 0; i < T; i++)
        for (let d = 0; d < D; d++) {
          let s = 0;
          for (let j = 0; j < T; j++) s += p[i * T + j]! * v[(b * T + j) * D + d]!;
          out[(b * T + i) * D + d] = s;
        }
    }
    return out;
  }

  it('scaled dot-product attention over [B, H, T, D]: values and gradients of q, k, v', async () => {
    const [B, H, T, D] = [2, 2, 5, 3];
    await checkOp({
      shapes: [[B, H, T, D], [B, H, T, D], [B, H, T, D]],
      gpu: ([q, k, v]) => scaledDotProductAttention(q!, k!, v!),
      reference: ([q, k, v]) => attentionRef(q!, k!, v!, B * H, T, D),
      h: 1e-4,
    });
  });

  // fused-head: more cells (17 x 17) than a workgroup has invocations, and the longest sequence its workgroup memory takes (45)
  const attentionCases: [number, number, number, number, 'fused' | 'fused-head' | 'composed'][] = [
    [2, 5, 3, 4, 'composed'], [2, 17, 2, 8, 'composed'], [2, 5, 3, 4, 'fused'], [2, 17, 2, 8, 'fused'], [1, 3, 1, 1, 'fused'],
    [2, 5, 3, 4, 'fused-head'], [2, 17, 2, 8, 'fused-head'], [1, 3, 1, 1, 'fused-head'], [1, 45, 1, 4, 'fused-head'],
  ];
  for (const [B, T, H, D, kernels] of attentionCases) {
    it(`multi-head attention on [B, T, H*D] in place, ${kernels} (B ${B}, T ${T}, ${H} heads of ${D}): values and gradients of q, k, v`, async () => {
      // The reference splits the heads explicitly: [B, T, H, D] -> [B*H, T, D], attends, and merges them back.
      const split = (x: Float64Array) => {
        const out = new Float64Array(x.length);
        for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) out[((b * H + h) * T + t) * D + d] = x[((b * T + t) * H + h) * D + d]!;
        return out;
      };
      const merge = (y: Float64Array) => {
        const out = new Float64Array(y.length);
        for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) out[((b * T + t) * H + h) * D + d] = y[((b * H + h) * T + t) * D + d]!;
        return out;
      };
      await checkOp({
        shapes: [[B, T, H * D], [B, T, H * D], [B, T, H * D]],
        gpu: ([q, k, v]) => multiHeadAttention(q!, k!, v!, H, { kernels }),
        reference: ([q, k, v]) => merge(attentionRef(split(q!), split(k!), split(v!), B * H, T, D)),
        h: 1e-4,
      });
    });
  }

  for (const kernels of ['fused', 'fused-head', 'composed'] as const) {
    it(`packed attention over qkv [3, B, T, H*D] (${kernels}): what attention over its three parts gives, values and gradients`, async () => {
      const [B, T, H, D] = [2, 8, 2, 16]; // a part of 512 values: bound on its own at an aligned offset
      await checkOp({
        shapes: [[3, B, T, H * D]],
        gpu: ([qkv]) => packedMultiHeadAttention(qkv!, H, { kernels }),
        reference: ([qkv]) => {
          const n = B * T * H * D;
          const [q, k, v] = [0, 1, 2].map((i) => qkv!.slice(i * n, (i + 1) * n));
          const split = (x: Float64Array) => {
            const out = new Float64Array(x.length);
            for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) out[((b * H + h) * T + t) * D + d] = x[((b * T + t) * H + h) * D + d]!;
            return out;
          };
          const y = attentionRef(split(q!), split(k!), split(v!), B * H, T, D);
          const out = new Float64Array(y.length);
          for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) out[((b * T + t) * H + h) * D + d] = y[((b * H + h) * T + t) * D + d]!;
          return out;
        },
        h: 1e-4,
      });
    });
  }

  it('fused attention (either variant) with dropout drops what the composed kernels drop: the same outputs and gradients for a seed, one dispatch each way', async () => {
    const [B, T, H, D] = [2, 9, 2, 4];
    const data = [1, 2, 3, 4].map((s) => randomArray(B * T * H * D, 40 + s));
    const run = async (kernels: 'fused' | 'fused-head' | 'composed', rate: number) => {
      env.engine.setSeed(5);
      const [q, k, v] = data.slice(0, 3).map((d) => {
        const t = Tensor.from(d, [B, T, H * D]);
        t.requiresGrad = true;
        return t;
      }) as [Tensor, Tensor, Tensor];
      const weights = Tensor.from(data[3]!, [B, T, H * D]);
      const { result: out, records } = await env.engine.ledger.capture(() => {
        const y = multiHeadAttention(q, k, v, H, { kernels, dropoutRate: rate, training: true });
        backward(sum(mul(y, weights)));
        return y;
      });
      const values = [await out.data(), ...(await Promise.all([q, k, v].map((t) => t.grad!.data())))];
      for (const t of [q, k, v]) t.grad!.dispose();
      return { values, kernels: records.map((r) => r.kernel) };
    };
    const composed = await run('composed', 0.3);
    expect(composed.kernels.filter((k) => k.endsWith('+dropout'))).toEqual(['softmax:softmax+dropout', 'softmax:softmax_grad+dropout']); // the mask, and the gradient through it, each with the softmax
    for (const variant of ['fused', 'fused-head'] as const) {
      const fused = await run(variant, 0.3);
      const kept = await run(variant, 0);
      expect(fused.kernels.filter((k) => k.startsWith('attention-'))).toEqual([`attention-${variant}`, `attention-${variant}-grad`]);
      expect(fused.kernels).not.toContain('dropout');
      fused.values.forEach((values, i) => expectClose(values, Float64Array.from(composed.values[i]!), 1e-4, 1e-4));
      // and the dropout did drop: without it the output differs
      expect(Math.max(...fused.values[0]!.map((x, i) => Math.abs(x - kept.values[0]![i]!)))).toBeGreaterThan(0.01);
    }
  });

  /**
   * Fused attention as the workgroup-per-head kernel computes it, in counted float64: forward (scores, softmax,
   * dropout, values, the rows' log-sum-exps) and backward (D_i, then per cell p, dP and dS once, then dq, dk, dv).
   * A dropping mask is counted (a compare and a scale per dropped value) but keeps everything: its values are
   * checked against the composed kernels in the test above.
   */
  function headAttentionCounted(q: Float64Array, k: Float64Array, v: Float64Array, dout: Float64Array, [B, T, H, D]: [number, number, number, number], dropping: boolean, kf: Counter, kb: Counter) {
    const scale = 1 / Math.sqrt(D);
    const row = (b: number, h: number, t: number) => ((b * T + t) * H + h) * D;
    const dot = (c: Counter, a: Float64Array, ia: number, x: Float64Array, ix: number) => {
      if (D % 4 !== 0) return Array.from({ length: D }).reduce<number>((acc, _, d) => c.fma(a[ia + d]!, x[ix + d]!, acc), 0);
      const lanes = [0, 0, 0, 0];
      for (let d = 0; d < D; d++) lanes[d % 4] = c.fma(a[ia + d]!, x[ix + d]!, lanes[d % 4]!);
      return c.add(c.add(lanes[0]!, lanes[1]!), c.add(lanes[2]!, lanes[3]!));
    };
    const dropped = (c: Counter, x: number) => (dropping && c.gt(1, 0) ? c.mul(x, 1) : x);
    const [out, dq, dk, dv] = [0, 1, 2, 3].map(() => new Float64Array(q.length)) as [Float64Array, Float64Array, Float64Array, Float64Array];
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++) {
        const probs = new Float64Array(T * T);
        const lse = new Float64Array(T);
        for (let c = 0; c < T * T; c++) probs[c] = kf.mul(dot(kf, q, row(b, h, Math.floor(c / T)), k, row(b, h, c % T)), scale);
        for (let i = 0; i < T; i++) {
          let m = -3e38;
          for (let j = 0; j < T; j++) m = kf.max(m, probs[i * T + j]!);
          let l = 0;
          for (let j = 0; j < T; j++) {
            probs[i * T + j] = kf.exp(kf.sub(probs[i * T + j]!, m));
            l = kf.add(l, probs[i * T + j]!);
          }
          const inv = kf.div(1, l);
          for (let j = 0; j < T; j++) probs[i * T + j] = dropped(kf, kf.mul(probs[i * T + j]!, inv));
          lse[i] = kf.add(m, kf.log(l));
        }
        for (let i = 0; i < T; i++)
          for (let d = 0; d < D; d++) {
            let acc = 0;
            for (let j = 0; j < T; j++) acc = kf.fma(probs[i * T + j]!, v[row(b, h, j) + d]!, acc);
            out[row(b, h, i) + d] = acc;
          }
        const dRows = Array.from({ length: T }, (_, i) => dot(kb, dout, row(b, h, i), out, row(b, h, i)));
        const [z, ds] = [new Float64Array(T * T), new Float64Array(T * T)];
        for (let c = 0; c < T * T; c++) {
          const [i, j] = [Math.floor(c / T), c % T];
          const p = kb.exp(kb.sub(kb.mul(dot(kb, q, row(b, h, i), k, row(b, h, j)), scale), lse[i]!));
          const dp = dropped(kb, dot(kb, dout, row(b, h, i), v, row(b, h, j)));
          z[c] = dropped(kb, p);
          ds[c] = kb.mul(p, kb.sub(dp, dRows[i]!));
        }
        for (let i = 0; i < T; i++)
          for (let d = 0; d < D; d++) {
            let [gq, gk, gv] = [0, 0, 0];
            for (let j = 0; j < T; j++) {
              gq = kb.fma(ds[i * T + j]!, k[row(b, h, j) + d]!, gq);
              gk = kb.fma(ds[j * T + i]!, q[row(b, h, j) + d]!, gk);
              gv = kb.fma(z[j * T + i]!, dout[row(b, h, j) + d]!, gv);
            }
            dq[row(b, h, i) + d] = kb.mul(gq, scale);
            dk[row(b, h, i) + d] = kb.mul(gk, scale);
            dv[row(b, h, i) + d] = gv;
          }
      }
    return { out, dq, dk, dv };
  }

  // vectorised (D 8) and not (D 3); with dropout (counts only)
  for (const [B, T, H, D, rate] of [[2, 6, 3, 8, 0], [1, 5, 2, 3, 0], [2, 6, 3, 8, 0.25]] as const) {
    it(`fused-head attention (B ${B}, T ${T}, ${H} heads of ${D}${rate ? ', dropout' : ''}): values and declared counts against the counted float64 reference, forward and backward`, async () => {
      const n = B * T * H * D;
      const data = [1, 2, 3, 4].map((seed) => randomArray(n, 70 + seed));
      const [q, k, v] = data.slice(0, 3).map((d) => {
        const t = Tensor.from(d, [B, T, H * D]);
        t.requiresGrad = true;
        return t;
      }) as [Tensor, Tensor, Tensor];
      const { result: out, records } = await env.engine.ledger.capture(() => {
        const y = multiHeadAttention(q, k, v, H, { kernels: 'fused-head', dropoutRate: rate, training: true });
        backward(sum(mul(y, Tensor.from(data[3]!, [B, T, H * D]))));
        return y;
      });
      const [kf, kb] = [new Counter(), new Counter()];
      const ref = headAttentionCounted(...(data.map((d) => Float64Array.from(d)) as [Float64Array, Float64Array, Float64Array, Float64Array]), [B, T, H, D], rate > 0, kf, kb);
      expect(strip(records.find((r) => r.kernel === 'attention-fused-head')!.counts)).toEqual(kf.c);
      expect(strip(records.find((r) => r.kernel === 'attention-fused-head-grad')!.counts)).toEqual(kb.c);
      if (rate === 0) {
        expectClose(await out.data(), ref.out, 1e-5, 1e-5);
        for (const [t, expected] of [[q, ref.dq], [k, ref.dk], [v, ref.dv]] as const) expectClose(await t.grad!.data(), expected, 1e-5, 1e-5);
      }
      for (const t of [q, k, v]) t.grad!.dispose();
    });
  }

  function poolRef(a: Float64Array, x: Float64Array, B: number, S: number, K: number, C: number, mode: 'mean' | 'sum' | 'softmax'): Float64Array {
    const out = new Float64Array(B * K * C);
    for (let b = 0; b < B; b++)
      for (let t = 0; t < K; t++) {
        const w = new Float64Array(S).map((_, s) => a[(b * S + s) * K + t]!);
        const weights = mode === 'softmax' ? softmaxRows(w, S) : w.map((v) => (mode === 'mean' ? v / S : v));
        for (let c = 0; c < C; c++) {
          let acc = 0;
          for (let s = 0; s < S; s++) acc += weights[s]! * x[(b * S + s) * C + c]!;
          out[(b * K + t) * C + c] = acc;
        }
      }
    return out;
  }

  for (const mode of ['mean', 'sum', 'softmax'] as const) {
    it(`tokenPool (${mode}): tokens = weighted sums of positions; gradients of maps and features`, async () => {
      const [B, S, K, C] = [2, 9, 3, 5];
      await checkOp({
        shapes: [[B, S, K], [B, S, C]],
        gpu: ([a, x]) => tokenPool(a!, x!, mode),
        reference: ([a, x]) => poolRef(a!, x!, B, S, K, C, mode),
        h: 1e-4,
      });
    });
  }
});

describe('AdamW', () => {
  // Keras' Adam (TensorFlow Addons' AdamW, the paper's): lr_t = lr sqrt(1 - b2^t) / (1 - b1^t), eps on sqrt(v).
  // PyTorch's AdamW: eps on the bias-corrected sqrt(v_hat).
  const references = {
    keras: (m: number, v: number, step: number, lr: number, eps: number) => ((lr * Math.sqrt(1 - 0.999 ** step)) / (1 - 0.9 ** step)) * (m / (Math.sqrt(v) + eps)),
    pytorch: (m: number, v: number, step: number, lr: number, eps: number) => lr * ((m / (1 - 0.9 ** step)) / (Math.sqrt(v / (1 - 0.999 ** step)) + eps)),
  };
  for (const form of ['keras', 'pytorch'] as const) {
    it(`one fused step matches a float64 AdamW with decoupled decay, over several steps (${form} form)`, async () => {
      const n = 37;
      const p0 = Float64Array.from(Float32Array.from(randomArray(n, 11)));
      // Small gradients, so that where epsilon goes matters.
      const grads = [1, 2, 3].map((s) => Float64Array.from(Float32Array.from(randomArray(n, 20 + s, -1e-5, 1e-5))));
      const param = Tensor.from(p0, [n]).keep();
      param.requiresGrad = true;
      const opt = new AdamW([param], { lr: 0.01, weightDecay: 1e-2, eps: 1e-7, form });
      const ref = Float64Array.from(p0);
      const m = new Float64Array(n);
      const v = new Float64Array(n);
      for (let step = 1; step <= 3; step++) {
        param.grad = Tensor.from(grads[step - 1]!, [n]).keep();
        opt.update();
        for (let i = 0; i < n; i++) {
          const g = grads[step - 1]![i]!;
          m[i] = 0.9 * m[i]! + 0.1 * g;
          v[i] = 0.999 * v[i]! + 0.001 * g * g;
          ref[i] = ref[i]! - references[form](m[i]!, v[i]!, step, 0.01, 1e-7) - 1e-2 * ref[i]!;
        }
      }
      expectClose(await param.data(), ref, 1e-6, 1e-5);
      expect(param.grad).toBeUndefined();
    });
  }

  it('updates many packed parameters a few dispatches at a time, each as the float64 reference does, leaving frozen ones and the padding alone', async () => {
    // 23 tensors: more than one dispatch takes, sizes on both sides of the 64-element alignment, two without gradients
    const sizes = [1, 63, 64, 65, 200, 3, 128, 7, 129, 1, 5, 64, 70, 2, 300, 9, 11, 64, 1, 40, 33, 17, 6];
    const frozen = new Set([4, 13]);
    const initial = sizes.map((n, k) => Float64Array.from(Float32Array.from(randomArray(n, 100 + k))));
    const grads = sizes.map((n, k) => Float64Array.from(Float32Array.from(randomArray(n, 200 + k, -0.5, 0.5))));
    const params = initial.map((values) => Tensor.from(values, [values.length]).keep());
    const opt = new AdamW(params, { lr: 0.01, weightDecay: 1e-2, form: 'pytorch' });
    // the parameters now share one storage, each at an aligned offset, in order
    params.forEach((p, k) => {
      expect(p.sharesStorage(params[0]!)).toBe(true);
      expect(p.byteOffset % (PACK_ALIGN * 4)).toBe(0);
      if (k > 0) expect(p.byteOffset).toBeGreaterThanOrEqual(params[k - 1]!.byteOffset + params[k - 1]!.size * 4);
    });
    params.forEach((p, k) => {
      if (!frozen.has(k)) p.grad = Tensor.from(grads[k]!, [sizes[k]!]).keep();
    });
    const { records } = await env.engine.ledger.capture(() => opt.update());
    const perDispatch = Math.min(16, env.engine.runtime.device.limits.maxStorageBuffersPerShaderStage - 3);
    expect(records.length).toBe(Math.ceil((sizes.length - frozen.size) / perDispatch));
    expect(records.reduce((s, r) => s + r.counts.sqrt, 0)).toBe(sizes.reduce((s, n, k) => s + (frozen.has(k) ? 0 : Math.ceil(n / 4) * 4), 0));
    for (let k = 0; k < sizes.length; k++) {
      const p0 = initial[k]!;
      const expected = frozen.has(k)
        ? p0
        : p0.map((p, i) => {
            const g = grads[k]![i]!;
            const [m, v] = [0.1 * g, 0.001 * g * g];
            return p - 0.01 * ((m / 0.1) / (Math.sqrt(v / 0.001) + 1e-7)) - 1e-2 * p;
          });
      expectClose(await params[k]!.data(), expected, 1e-6, 1e-5);
    }
    // the padding between the tensors stays zero
    await expectPaddingZero(params);
    opt.dispose();
    for (const p of params) p.dispose();
  });

  it('with every gradient in its place in the gradient arena: one dispatch for all, each as the float64 reference does, the padding left alone', async () => {
    const sizes = [1, 63, 64, 65, 200, 3, 128, 7, 129, 1, 5, 64, 70, 2, 300, 9, 11, 64, 1, 40, 33, 17, 6];
    const initial = sizes.map((n, k) => Float64Array.from(Float32Array.from(randomArray(n, 300 + k))));
    const grads = sizes.map((n, k) => Float64Array.from(Float32Array.from(randomArray(n, 400 + k, -0.5, 0.5))));
    const params = initial.map((values) => Tensor.from(values, [values.length]).keep());
    const opt = new AdamW(params, { lr: 0.01, weightDecay: 1e-2, form: 'pytorch' });
    // as the kernels that make the gradients do: write each into its place, hand on that place as the gradient
    params.forEach((p, k) => {
      const place = env.engine.gradientSlots.get(p)!;
      expect(place.byteOffset - env.engine.gradientSlots.get(params[0]!)!.byteOffset).toBe(p.byteOffset - params[0]!.byteOffset);
      place.write(grads[k]!);
      p.grad = place.view(place.shape).keep();
    });
    const { records } = await env.engine.ledger.capture(() => opt.update());
    expect(records.length).toBe(1);
    expect(records[0]!.counts.sqrt).toBe(sizes.reduce((s, n) => s + Math.ceil(n / 4) * 4, 0));
    for (let k = 0; k < sizes.length; k++) {
      const g = grads[k]!;
      const expected = initial[k]!.map((p, i) => p - 0.01 * ((0.1 * g[i]! / 0.1) / (Math.sqrt((0.001 * g[i]! * g[i]!) / 0.001) + 1e-7)) - 1e-2 * p);
      expectClose(await params[k]!.data(), expected, 1e-6, 1e-5);
      expect(params[k]!.grad).toBeUndefined();
    }
    await expectPaddingZero(params);
    opt.dispose();
    expect(params.some((p) => env.engine.gradientSlots.has(p))).toBe(false);
    for (const p of params) p.dispose();
  });

  it('the two forms differ where gradients are small against epsilon, and Keras\' is the default', () => {
    const [m, v] = [1e-6, 1e-14];
    const [keras, pytorch] = [references.keras(m, v, 1, 1, 1e-7), references.pytorch(m, v, 1, 1, 1e-7)];
    expect(Math.abs(keras - pytorch) / Math.abs(pytorch)).toBeGreaterThan(0.01);
    expect(new AdamW([], {}).form).toBe('keras');
  });

  it('declares the primitive counts that the counted reference performs', async () => {
    const n = 5;
    const [param, m, v] = [0, 1, 2].map(() => packedZeros([[n]])[0]!);
    const { records } = await env.engine.ledger.capture(() =>
      adamwKernel([{ param: param!, grad: Tensor.zeros([n]), m: m!, v: v! }], { beta1: 0.9, beta2: 0.999, eps: 1e-7 }, () => ({ lr: 1, decay: 0.1, c1: 10, c2: 1000 })),
    );
    const k = new Counter();
    for (let i = 0; i < 8; i++) {
      // four values per invocation: the 5 values and the 3 padding lanes of their second group
      const g = 0;
      const p = 0;
      const m1 = k.fma(0.9, 0, k.mul(0.1, g));
      const v1 = k.fma(0.999, 0, k.mul(0.001, k.mul(g, g)));
      const update = k.div(k.mul(m1, 10), k.add(k.sqrt(k.mul(v1, 1000)), 1e-7));
      k.sub(k.sub(p, k.mul(1, update)), k.mul(0.1, p));
    }
    expect(strip(records[0]!.counts)).toEqual(k.c);
  });
});
