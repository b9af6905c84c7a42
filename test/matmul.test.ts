import { describe, expect, it } from 'vitest';
import { MATMUL_VARIANT_NAMES, matmulKernel } from '../src/kernels/matmul.js';
import { withVariant } from '../src/kernels/tuner.js';
import { dropout } from '../src/ops/dropout.js';
import { add, gelu, mul } from '../src/ops/elementwise.js';
import { backward } from '../src/ops/autograd.js';
import { layerNormThen, linear, linearStack, matmul, meanLinear, stackable } from '../src/ops/matmul.js';
import type { PendingLayerNorm } from '../src/ops/norm.js';
import { packTensors } from '../src/tensor/pack.js';
import { sum } from '../src/ops/reduce.js';
import { noGrad } from '../src/tensor/engine.js';
import { Tensor } from '../src/tensor/tensor.js';
import { checkOp } from './helpers/check.js';
import { expectClose, randomArray, useEngine } from './helpers/gpu.js';
import { geluGradRef, layerNormLanesRows, layerNormRows, matmulRef } from './reference/float64.js';
import { Counter, erf64 } from './reference/counter.js';

const env = useEngine();

/** Float64 GELU, exact through the error function (reference/float64's erfRef is coarse past |x| > 3). */
const geluRef = (z: number) => 0.5 * z * (1 + erf64(z / Math.SQRT2));
const strip = (c: object) => ({ ...c, bytesRead: 0, bytesWritten: 0 });


describe('matmul', () => {
  // [M, N, K]; those with N and K multiples of 4 and M >= 16 take the tall-tile kernel on CPU adapters.
  const sizes: [number, number, number][] = [[1, 1, 1], [5, 7, 3], [33, 17, 65], [64, 64, 64], [13, 130, 9], [37, 12, 20], [130, 36, 8], [17, 4, 4]];
  for (const [M, N, K] of sizes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        it(`${M}x${K} @ ${K}x${N} transA=${transA} transB=${transB}: values${M * N * K > 5000 ? '' : ' and gradients'}`, async () => {
          await checkOp({
            shapes: [transA ? [K, M] : [M, K], transB ? [N, K] : [K, N]],
            gpu: ([a, b]) => matmul(a!, b!, { transA, transB }),
            reference: ([a, b]) => matmulRef(a!, b!, { batchA: 1, batchB: 1, M, N, K, transA, transB }),
            forwardTol: [1e-5, 1e-5],
            gradTol: [1e-4, 1e-3],
            h: 1e-3,
            forwardOnly: M * N * K > 5000,
          });
        });
      }
    }
  }

  it('batched with a broadcast operand and a scale: values and gradients (summed over the batch)', async () => {
    const [B, M, N, K] = [3, 6, 5, 4];
    await checkOp({
      shapes: [[B, M, K], [K, N]],
      gpu: ([a, b]) => matmul(a!, b!, { alpha: 0.5 }),
      reference: ([a, b]) => matmulRef(a!, b!, { batchA: B, batchB: 1, M, N, K, alpha: 0.5 }),
      h: 1e-3,
    });
    await checkOp({
      shapes: [[2, 2, M, K], [2, 2, N, K]],
      gpu: ([a, b]) => matmul(a!, b!, { transB: true }),
      reference: ([a, b]) => matmulRef(a!, b!, { batchA: 4, batchB: 4, M, N, K, transB: true }),
      h: 1e-3,
    });
  });

  it('splits a K longer than one loop may run (llvmpipe stops loops at 65,535) and still sums all of it', async () => {
    const [M, N, K] = [3, 5, 70_001];
    const a = Float64Array.from(Float32Array.from(randomArray(M * K, 1)));
    const b = Float64Array.from(Float32Array.from(randomArray(K * N, 2)));
    const out = matmul(Tensor.from(a, [M, K]), Tensor.from(b, [K, N]));
    expectClose(await out.data(), matmulRef(a, b, { batchA: 1, batchB: 1, M, N, K }), 2e-3, 1e-4);
  });

  it('batched products, transposed operands and long K on the tall-tile path (M >= 16, N and K multiples of 4)', async () => {
    for (const [batchA, batchB] of [[3, 1], [3, 3], [1, 2]] as [number, number][]) {
      for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
        const [M, N, K] = [20, 12, 8];
        const shape = (batch: number, rows: number, cols: number) => (batch > 1 ? [batch, rows, cols] : [rows, cols]);
        await checkOp({
          shapes: [transA ? shape(batchA, K, M) : shape(batchA, M, K), transB ? shape(batchB, N, K) : shape(batchB, K, N)],
          gpu: ([a, b]) => matmul(a!, b!, { transA, transB }),
          reference: ([a, b]) => matmulRef(a!, b!, { batchA, batchB, M, N, K, transA, transB }),
          forwardOnly: true,
        });
      }
    }
    const [M, N, K] = [16, 8, 40_000];
    const a = Float64Array.from(Float32Array.from(randomArray(M * K, 3)));
    const b = Float64Array.from(Float32Array.from(randomArray(K * N, 4)));
    const out = matmul(Tensor.from(a, [M, K]), Tensor.from(b, [K, N]));
    expectClose(await out.data(), matmulRef(a, b, { batchA: 1, batchB: 1, M, N, K }), 2e-3, 1e-4);
  });

  it('splits a long K under a small output so every core has work (a 1x1 convolution\'s weight gradient): values, counts', async () => {
    const [M, N, K] = [64, 16, 8192];
    const a = Float64Array.from(Float32Array.from(randomArray(K * M, 5)));
    const b = Float64Array.from(Float32Array.from(randomArray(K * N, 6)));
    const [ta, tb] = [Tensor.from(a, [K, M]), Tensor.from(b, [K, N])];
    const { result, records } = await env.engine.ledger.capture(() => matmul(ta, tb, { transA: true }));
    expectClose(await result.data(), matmulRef(a, b, { batchA: 1, batchB: 1, M, N, K, transA: true }), 1e-3, 1e-4);
    const splits = records[0]!.counts.bytesWritten / (4 * M * N);
    expect(splits).toBeGreaterThan(1);
    expect(records.map((r) => r.op)).toEqual(['matmul', 'sum']);
    expect(records[0]!.counts.fma).toBe(M * N * K);
    expect(records[1]!.counts.add).toBe((splits - 1) * M * N);
  });

  it('declared counts equal the counted reference, with fused bias adds', async () => {
    const [M, N, K] = [7, 9, 11];
    const a = Tensor.zeros([M, K]);
    const b = Tensor.zeros([K, N]);
    const bias = Tensor.zeros([N]);
    const { records } = await env.engine.ledger.capture(() =>
      matmulKernel(a, b, { batch: 1, M, N, K, aBatched: false, bBatched: false }, { bias, alpha: 2 }),
    );
    const c = new Counter();
    const out = matmulRef(new Float64Array(M * K), new Float64Array(K * N), { batchA: 1, batchB: 1, M, N, K, alpha: 2 }, c);
    for (const v of out) c.add(v, 0);
    expect({ ...records[0]!.counts, bytesRead: 0, bytesWritten: 0 }).toEqual(c.c);
  });

  // [M, N, K, alpha, transA]: the general kernel (ragged N; A read four k at a time where not transposed), the
  // tall-tile kernel (N not a multiple of 8: its clamped upper columns), and a long K split into runs whose partial
  // sums are added
  const cases: [number, number, number, number, boolean][] = [[5, 7, 9, 1, true], [6, 8, 12, 1, false], [20, 12, 40, 0.5, true], [16, 16, 8192, 1, true]];
  for (const [M, N, K, alpha, transA] of cases) {
    it(`column sums of B come as row M of op(A) B from the same dispatch (${M}x${N}, K ${K}, alpha ${alpha}, transA ${transA}): values, counts`, async () => {
      const a = Float64Array.from(Float32Array.from(randomArray(K * M, 7)));
      const b = Float64Array.from(Float32Array.from(randomArray(K * N, 8)));
      const [ta, tb] = [Tensor.from(a, transA ? [K, M] : [M, K]), Tensor.from(b, [K, N])];
      const { result, records } = await env.engine.ledger.capture(() =>
        matmulKernel(ta, tb, { batch: 1, M, N, K, aBatched: false, bBatched: false }, { transA, alpha, columnSums: true }),
      );
      expect(result.shape).toEqual([1, M + 1, N]);
      const product = matmulRef(a, b, { batchA: 1, batchB: 1, M, N, K, transA, alpha });
      const sums = Array.from({ length: N }, (_, n) => alpha * Array.from({ length: K }, (_, k) => b[k * N + n]!).reduce((s, v) => s + v, 0));
      expectClose(await result.data(), Float64Array.from([...product, ...sums]), 2e-3, 1e-4);
      expect(records[0]!.counts.fma).toBe(M * N * K);
      expect(records[0]!.counts.add).toBe(N * K);
    });
  }

  it("the rules: on Mesa's llvmpipe the staged tile from 128 x 256 with B along its rows, the tall tile below that or with B transposed", async () => {
    const { kernelVariants, adapterName } = env.engine.runtime;
    const [K, a, b] = [32, Tensor.zeros([32, 128]), Tensor.zeros([32, 256])];
    const kernelOf = async (fn: () => Tensor) => (await env.engine.ledger.capture(fn)).records.map((r) => r.kernel);
    const product = (M: number, N: number, transB: boolean) =>
      kernelOf(() => matmulKernel(a, b, { batch: 1, M, N, K, aBatched: false, bBatched: false }, { transA: true, transB }));
    const [weightGradient, narrower, transposed] = [await product(128, 256, false), await product(128, 128, false), await product(128, 64, true)];
    if (kernelVariants === 'gpu') return expect([...weightGradient, ...narrower, ...transposed]).toEqual(['matmul', 'matmul', 'matmul']);
    expect(weightGradient).toEqual([/llvmpipe/i.test(adapterName) ? 'matmul-staged' : 'matmul-wide']);
    expect([...narrower, ...transposed]).toEqual(['matmul-wide', 'matmul-wide']);
  });

  it('names both shapes when inner dimensions differ', () => {
    expect(() => matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))).toThrow(/inner dimensions differ: \[2, 3\] x \[4, 5\]/);
  });
});

describe('linear', () => {
  it('x @ w + b over the last axis: values and all three gradients', async () => {
    const [rows, fin, fout] = [2 * 5, 6, 7];
    await checkOp({
      shapes: [[2, 5, fin], [fin, fout], [fout]],
      gpu: ([x, w, b]) => linear(x!, w!, b!),
      reference: ([x, w, b]) => {
        const y = matmulRef(x!, w!, { batchA: 1, batchB: 1, M: rows, N: fout, K: fin });
        return y.map((v, i) => v + b![i % fout]!);
      },
      h: 1e-3,
    });
  });

  it('a bias gradient computed with its weight\'s (the weight gradient\'s size a multiple of the binding alignment): values, gradients, no separate sum', async () => {
    const [rows, fin, fout] = [40, 16, 16];
    await checkOp({
      shapes: [[rows, fin], [fin, fout], [fout]],
      gpu: ([x, w, b]) => linear(x!, w!, b!),
      reference: ([x, w, b]) => matmulRef(x!, w!, { batchA: 1, batchB: 1, M: rows, N: fout, K: fin }).map((v, i) => v + b![i % fout]!),
      h: 1e-3,
    });
    const x = Tensor.from(randomArray(rows * fin, 1), [rows, fin]);
    const [w, b] = [Tensor.from(randomArray(fin * fout, 2), [fin, fout]), Tensor.from(randomArray(fout, 3), [fout])];
    for (const t of [w, b]) t.requiresGrad = true;
    const { records } = await env.engine.ledger.capture(() => backward(sum(linear(x, w, b))));
    expect((fin * fout * 4) % env.engine.runtime.storageOffsetAlign).toBe(0);
    expect(records.filter((r) => r.phase === 'backward').map((r) => r.op)).not.toContain('sum');
    // d/db of sum(x w + b) is the row count; d/dw[i][j] is the column sum of x
    expect(Array.from(await b.grad!.data())).toEqual(new Array(fout).fill(rows));
    const xs = await x.data();
    const colSums = Array.from({ length: fin }, (_, i) => Array.from({ length: rows }, (_, r) => xs[r * fin + i]!).reduce((s, v) => s + v, 0));
    expectClose(await w.grad!.data(), Float64Array.from({ length: fin * fout }, (_, k) => colSums[Math.floor(k / fout)]!), 1e-5, 1e-5);
    for (const t of [w, b]) t.grad!.dispose();
  });

  // [rows, in, out]: the tall-tile kernel and the general one (a ragged last vec4 of columns)
  for (const [rows, fin, fout] of [[24, 8, 12], [6, 5, 7]] as [number, number, number][]) {
    it(`with dropout fused after the GELU, before the residual (${rows}x${fin} -> ${fout}): what gelu, dropout and add give for the seed, values, gradients, counts`, async () => {
      const data = [1, 2, 3, 4, 5].map((k, i) => randomArray([rows * fin, fin * fout, fout, rows * fout, rows * fout][i]!, 60 + k));
      const run = async (fused: boolean) => {
        env.engine.setSeed(9);
        const [x, w, b, r] = [[rows, fin], [fin, fout], [fout], [rows, fout]].map((shape, i) => {
          const t = Tensor.from(data[i]!, shape);
          t.requiresGrad = true;
          return t;
        }) as [Tensor, Tensor, Tensor, Tensor];
        const weights = Tensor.from(data[4]!, [rows, fout]);
        const { result: y, records } = await env.engine.ledger.capture(() => {
          const out = fused ? linear(x, w, b, { activation: 'gelu', dropout: 0.4, residual: r }) : add(dropout(gelu(linear(x, w, b)), 0.4, true), r);
          backward(sum(mul(out, weights)));
          return out;
        });
        const values = [await y.data(), ...(await Promise.all([x, w, b, r].map((t) => t.grad!.data())))];
        const forward = records.filter((rec) => rec.phase === 'forward');
        return { values, forward, backward: records.filter((rec) => rec.phase === 'backward') };
      };
      const [fused, apart] = [await run(true), await run(false)];
      fused.values.forEach((v, i) => expectClose(v, Float64Array.from(apart.values[i]!), 1e-5, 1e-5));
      // dropout did drop: some outputs are the residual alone
      expect(fused.values[0]!.filter((v, i) => v === Math.fround(data[3]![i]!)).length).toBeGreaterThan(0);
      // one dispatch forward (then the test's own weighting and sum) where apart there are four
      const ops = (records: typeof fused.forward) => records.map((rec) => rec.op).filter((op) => !['mul', 'sum'].includes(op));
      expect(ops(fused.forward)).toEqual(['linear']);
      expect(ops(apart.forward)).toEqual(['linear', 'gelu', 'dropout', 'add']);
      const arithmetic = (records: typeof fused.forward) => {
        const total = { ...records[0]!.counts };
        for (const rec of records.slice(1)) for (const key of Object.keys(total) as (keyof typeof total)[]) total[key] += rec.counts[key];
        return { ...total, bytesRead: 0, bytesWritten: 0 };
      };
      expect(arithmetic(fused.forward)).toEqual(arithmetic(apart.forward));
      // the dropout's gradient runs in the GELU's: one dispatch fewer backward
      expect(fused.backward.length).toBe(apart.backward.length - 1);
    });
  }

  // [rows, in, hidden, out]: the tall-tile kernel and the general one (ragged vec4s of columns)
  for (const [rows, fin, hid, fout] of [[24, 8, 12, 8], [6, 5, 7, 3]] as [number, number, number, number][]) {
    it(`two GELU + dropout layers in a row (${rows}x${fin} -> ${hid} -> ${fout}): the second's input gradient leaves its product through the first's GELU and dropout; the same as the ops apart`, async () => {
      const shapes = [[rows, fin], [fin, hid], [hid], [hid, fout], [fout]];
      const data = shapes.map((shape, i) => randomArray(shape.reduce((p, d) => p * d, 1), 80 + i));
      const weights = randomArray(rows * Math.max(hid, fout), 90);
      const run = async (fused: boolean, twoConsumers = false) => {
        env.engine.setSeed(5);
        const [x, w0, b0, w1, b1] = shapes.map((shape, i) => {
          const t = Tensor.from(data[i]!, shape);
          t.requiresGrad = true;
          return t;
        }) as [Tensor, Tensor, Tensor, Tensor, Tensor];
        const { result: y, records } = await env.engine.ledger.capture(() => {
          const layer = (input: Tensor, w: Tensor, b: Tensor) =>
            fused ? linear(input, w, b, { activation: 'gelu', dropout: 0.3 }) : dropout(gelu(linear(input, w, b)), 0.3, true);
          const h = layer(x, w0, b0);
          const out = layer(h, w1, b1);
          const loss = sum(mul(out, Tensor.from(weights.slice(0, rows * fout), [rows, fout])));
          // a second consumer of h: its gradient is then a sum, which no single product can map
          backward(twoConsumers ? add(loss, sum(mul(h, Tensor.from(weights.slice(0, rows * hid), [rows, hid])))) : loss);
          return out;
        });
        const values = [await y.data(), ...(await Promise.all([x, w0, b0, w1, b1].map((t) => t.grad!.data())))];
        return { values, backward: records.filter((r) => r.phase === 'backward') };
      };
      const [fused, apart] = [await run(true), await run(false)];
      fused.values.forEach((v, i) => expectClose(v, Float64Array.from(apart.values[i]!), 1e-5, 1e-5));
      const ops = (records: typeof fused.backward) => records.map((r) => r.op);
      // fused: the last layer's GELU and dropout gradient is a dispatch of its own, the first one's runs in the
      // product that makes h's gradient; apart, each GELU and each dropout has its own
      expect(ops(fused.backward).filter((op) => op === 'gelu-grad')).toHaveLength(1);
      expect(ops(fused.backward)).not.toContain('dropout-grad');
      expect(ops(apart.backward).filter((op) => op === 'gelu-grad')).toHaveLength(2);
      expect(fused.backward.length).toBe(apart.backward.length - 3);
      const total = (records: typeof fused.backward) => records.reduce((s, r) => s + r.counts.mul + r.counts.add + r.counts.fma + r.counts.erf + r.counts.exp + r.counts.cmp, 0);
      expect(total(fused.backward)).toBe(total(apart.backward));
      const [shared, sharedApart] = [await run(true, true), await run(false, true)];
      shared.values.forEach((v, i) => expectClose(v, Float64Array.from(sharedApart.values[i]!), 1e-5, 1e-5));
      expect(ops(shared.backward).filter((op) => op === 'gelu-grad')).toHaveLength(2);
    });
  }

  // packed as a model packs them (weight, bias, weight, bias, ...): one batched product; unpacked, with 40 columns
  // (off a 256-byte binding alignment): a product each, stacked
  for (const packed of [true, false]) {
    const [rows, fin, fout] = [6, 8, packed ? 64 : 40];
    it(`linearStack: Q, K and V over ${packed ? 'packed weights as one batched product' : 'unpacked weights, a product each'}, each with its bias: values and every gradient`, async () => {
      await checkOp({
        shapes: [[2, 3, fin], [fin, fout], [fout], [fin, fout], [fout], [fin, fout], [fout]],
        gpu: ([x, ...params]) => {
          if (packed) packTensors(params);
          const [ws, bs] = [[params[0]!, params[2]!, params[4]!], [params[1]!, params[3]!, params[5]!]];
          expect(stackable(ws, bs)).toBe(packed);
          return linearStack(x!, ws, bs);
        },
        reference: ([x, ...p]) => {
          const out = new Float64Array(3 * rows * fout);
          for (let i = 0; i < 3; i++) {
            const y = matmulRef(x!, p[2 * i]!, { batchA: 1, batchB: 1, M: rows, N: fout, K: fin });
            y.forEach((v, j) => (out[i * rows * fout + j] = v + p[2 * i + 1]![j % fout]!));
          }
          return out;
        },
        h: 1e-3,
      });
      if (!packed) return;
      // not stackable: biases out of step with the weights, or unpacked weights (the case above's, with 64 columns)
      const loose = [0, 1, 2].map(() => Tensor.zeros([fin, fout]));
      expect(stackable(loose, loose.map(() => Tensor.zeros([fout])))).toBe(false);
    });
  }


  // [rows, in, out]: the tall-tile kernel (rows >= 16, in and out multiples of 4) and the general one
  for (const [rows, fin, fout] of [[4, 6, 7], [20, 8, 12]] as [number, number, number][]) {
    it(`with a GELU and a residual fused into the epilogue (${rows}x${fin} -> ${fout}): values and all four gradients`, async () => {
      await checkOp({
        shapes: [[rows, fin], [fin, fout], [fout], [rows, fout]],
        gpu: ([x, w, b, r]) => linear(x!, w!, b!, { activation: 'gelu', residual: r! }),
        reference: ([x, w, b, r]) => {
          const z = matmulRef(x!, w!, { batchA: 1, batchB: 1, M: rows, N: fout, K: fin });
          return z.map((v, i) => geluRef(v + b![i % fout]!) + r![i]!);
        },
        h: 1e-3,
      });
    });
  }

  it('the fused epilogue is one dispatch declaring what the unfused ops declare; without gradients it keeps no pre-activation', async () => {
    const [rows, fin, fout] = [20, 8, 12];
    const x = Tensor.from(randomArray(rows * fin, 1), [rows, fin]);
    const w = Tensor.from(randomArray(fin * fout, 2), [fin, fout]);
    const b = Tensor.from(randomArray(fout, 3), [fout]);
    const r = Tensor.from(randomArray(rows * fout, 4), [rows, fout]);
    const fused = await env.engine.ledger.capture(() => noGrad(() => linear(x, w, b, { activation: 'gelu', residual: r })));
    const apart = await env.engine.ledger.capture(() => noGrad(() => add(gelu(linear(x, w, b)), r)));
    expect(fused.records.map((rec) => rec.kernel)).toEqual(['matmul-wide'].map((k) => (env.engine.runtime.kernelVariants === 'cpu' ? k : 'matmul')));
    expect(apart.records).toHaveLength(3);
    const arithmetic = (records: typeof fused.records) => {
      const total = { ...records[0]!.counts };
      for (const rec of records.slice(1)) for (const key of Object.keys(total) as (keyof typeof total)[]) total[key] += rec.counts[key];
      return { ...total, bytesRead: 0, bytesWritten: 0 };
    };
    expect(arithmetic(fused.records)).toEqual(arithmetic(apart.records));
    expect(fused.records[0]!.counts.bytesWritten).toBe(4 * rows * fout);
    expect(Array.from(await fused.result.data())).toEqual(Array.from(await apart.result.data()));
    expect(() => linear(x, w, b, { residual: Tensor.zeros([rows, fout + 1]) })).toThrow(/residual \[20, 13\] does not broadcast to the output \[20, 12\]/);
    expect(() => linear(x, w, b, { residual: Tensor.zeros([2, fout]) })).toThrow(/residual \[2, 12\] does not broadcast to the output \[20, 12\]/);
  });

  // [batch, rows, in, out]: the tall tile (rows x batch >= 16, in and out multiples of 4) and the general one
  for (const [batch, rows, fin, fout] of [[2, 3, 5, 7], [2, 12, 8, 12]] as [number, number, number, number][]) {
    it(`a residual broadcast over the columns (one value a row: [${batch}, ${rows}, 1]) in the epilogue: values and gradients`, async () => {
      await checkOp({
        shapes: [[batch, rows, fin], [fin, fout], [fout], [batch, rows, 1]],
        gpu: ([x, w, b, r]) => linear(x!, w!, b!, { residual: r! }),
        reference: ([x, w, b, r]) => matmulRef(x!, w!, { batchA: 1, batchB: 1, M: batch * rows, N: fout, K: fin }).map((v, i) => v + b![i % fout]! + r![Math.floor(i / fout)]!),
        h: 1e-3,
      });
    });

    it(`a residual broadcast over the batch (a table [${rows}, ${fout}] for every batch): values and gradients`, async () => {
      await checkOp({
        shapes: [[batch, rows, fin], [fin, fout], [fout], [rows, fout]],
        gpu: ([x, w, b, r]) => linear(x!, w!, b!, { residual: r! }),
        reference: ([x, w, b, r]) => matmulRef(x!, w!, { batchA: 1, batchB: 1, M: batch * rows, N: fout, K: fin }).map((v, i) => v + b![i % fout]! + r![i % (rows * fout)]!),
        h: 1e-3,
      });
    });

    it(`a batched product (TokenLearner's pool) with a scale and a residual [${rows}, ${fout}] broadcast over its ${batch} batches: values and gradients`, async () => {
      await checkOp({
        shapes: [[batch, fin, rows], [batch, fin, fout], [rows, fout]],
        gpu: ([a, b, r]) => matmul(a!, b!, { transA: true, alpha: 0.25, residual: r! }),
        reference: ([a, b, r]) => matmulRef(a!, b!, { batchA: batch, batchB: batch, M: rows, N: fout, K: fin, transA: true }).map((v, i) => 0.25 * v + r![i % (rows * fout)]!),
        h: 1e-3,
      });
    });
  }
});

describe('meanLinear (a classifier head: the mean over tokens, then a dense layer)', () => {
  // [B, T, in, out]: the tall tile (B >= 16, in and out multiples of 4) and the 4x4 tile
  for (const [B, T, C, N] of [[3, 5, 6, 7], [17, 8, 12, 8]] as [number, number, number, number][]) {
    const reference = ([x, w, b]: Float64Array[]) => {
      const pooled = Float64Array.from({ length: B * C }, (_, i) => {
        let s = 0;
        for (let t = 0; t < T; t++) s += x![(Math.floor(i / C) * T + t) * C + (i % C)]!;
        return s / T;
      });
      return matmulRef(pooled, w!, { batchA: 1, batchB: 1, M: B, N, K: C }).map((v, i) => v + b![i % N]!);
    };
    it(`[${B}, ${T}, ${C}] -> [${B}, ${N}] without gradients: one dispatch summing the tokens' products, against float64`, async () => {
      const [x, w, b] = [randomArray(B * T * C, 1), randomArray(C * N, 2), randomArray(N, 3)];
      const { result, records } = await env.engine.ledger.capture(() =>
        noGrad(() => meanLinear(Tensor.from(Float32Array.from(x), [B, T, C]), Tensor.from(Float32Array.from(w), [C, N]), Tensor.from(Float32Array.from(b), [N]))),
      );
      expect(records).toHaveLength(1);
      // it multiplies T times as often as the dense layer, but the MAC convention counts the dense layer's
      expect(records[0]!.counts.fma).toBe(B * T * C * N);
      expect(records[0]!.macs).toBe(B * C * N);
      expect(result.shape).toEqual([B, N]);
      expectClose(await result.data(), reference([x, w, b]), 1e-5, 1e-5);
    });
    it(`[${B}, ${T}, ${C}] -> [${B}, ${N}] with gradients: values and gradients against finite differences`, async () => {
      await checkOp({ shapes: [[B, T, C], [C, N], [N]], gpu: ([x, w, b]) => meanLinear(x!, w!, b!), reference, h: 1e-3 });
    });
  }
});

describe('layerNormThen: a LayerNorm and the dense layer after it in one kernel', () => {
  const eps = 1e-6;
  const f32 = (n: number, seed: number, lo = -1, hi = 1) => Float64Array.from(Float32Array.from(randomArray(n, seed, lo, hi)));
  const tensor = (v: Float64Array, shape: number[]) => Tensor.from(v, shape);
  const pending = (x: Tensor, K: number, g: Float64Array, b: Float64Array): PendingLayerNorm => ({ x, gamma: tensor(g, [K]), beta: tensor(b, [K]), eps, path: '' });
  const both = async (run: () => Tensor, variant = 'fused') => {
    const fused = await env.engine.ledger.capture(() => noGrad(() => withVariant('layernorm-linear', variant, run)));
    const apart = await env.engine.ledger.capture(() => noGrad(() => withVariant('layernorm-linear', 'apart', run)));
    expect(fused.records.map((r) => r.kernel)).toEqual([fused.records[0]!.kernel]);
    expect(apart.records.length).toBeGreaterThan(1);
    return { fused: fused.result, apart: apart.result, record: fused.records[0]! };
  };

  // [rows, K, N] with 8 rows a workgroup (fused) or 16 (fused16): partial row groups and N not a multiple of 4; two
  // column groups (160 quads of columns, 128 a group)
  for (const [variant, rows, K, N, activation] of [['fused', 13, 33, 10, 'gelu'], ['fused', 8, 128, 640, undefined], ['fused16', 37, 64, 72, 'gelu'], ['fused16', 20, 32, 520, undefined]] as const) {
    it(`${variant}: ${rows} rows of ${K} -> ${N}${activation ? ' with a GELU' : ''}: values against float64, and its counts against the counted reference`, async () => {
      const [x, g, b, w, bias] = [f32(rows * K, 1, -2, 2), f32(K, 2, 0.5, 1.5), f32(K, 3, -0.5, 0.5), f32(K * N, 4), f32(N, 5)];
      const withBias = activation !== undefined;
      const { fused, apart, record } = await both(
        () => layerNormThen(pending(tensor(x, [rows, K]), K, g, b), { kind: 'linear', w: tensor(w, [K, N]), ...(withBias ? { bias: tensor(bias, [N]) } : {}), ...(activation ? { activation } : {}) }),
        variant,
      );
      expect(record.kernel).toBe(variant === 'fused' ? 'layernorm-linear' : 'layernorm-linear-16rows');
      const k = new Counter();
      const columnGroups = Math.ceil(Math.ceil(N / 4) / 128);
      const lanes = variant === 'fused' ? 8 : 4;
      // each column group normalises the rows again
      const y = layerNormLanesRows(x, g, b, K, eps, lanes, k);
      for (let c = 1; c < columnGroups; c++) layerNormLanesRows(x, g, b, K, eps, lanes, k);
      let expected = matmulRef(y, w, { batchA: 1, batchB: 1, M: rows, N, K }, k);
      if (withBias) expected = expected.map((v, i) => geluRef(k.add(v, bias[i % N]!)));
      expect(fused.shape).toEqual([rows, N]);
      expectClose(await fused.data(), expected, 2e-5, 2e-5);
      expectClose(await fused.data(), Float64Array.from(await apart.data()), 2e-5, 2e-5);
      if (!activation) expect(strip(record.counts)).toEqual(k.c);
    });
  }

  it('Q, K and V over packed weights and biases: [3, B, T, out], as linearStack after the LayerNorm', async () => {
    const [B, T, K, N] = [2, 5, 32, 64];
    const [x, g, b] = [f32(B * T * K, 6, -2, 2), f32(K, 7, 0.5, 1.5), f32(K, 8, -0.5, 0.5)];
    const params = [0, 1, 2].flatMap((i) => [f32(K * N, 10 + i), f32(N, 20 + i)]);
    const tensors = params.map((p, i) => tensor(p, i % 2 ? [N] : [K, N]));
    packTensors(tensors);
    const [ws, bs] = [[tensors[0]!, tensors[2]!, tensors[4]!], [tensors[1]!, tensors[3]!, tensors[5]!]];
    const y = layerNormRows(x, g, b, K, eps);
    const expected = new Float64Array(3 * B * T * N);
    for (let i = 0; i < 3; i++) matmulRef(y, params[2 * i]!, { batchA: 1, batchB: 1, M: B * T, N, K }).forEach((v, j) => (expected[i * B * T * N + j] = v + params[2 * i + 1]![j % N]!));
    for (const variant of ['fused', 'fused16']) {
      const { fused, apart } = await both(() => layerNormThen(pending(tensor(x, [B, T, K]), K, g, b), { kind: 'stack', weights: ws, biases: bs }), variant);
      expect(fused.shape).toEqual([3, B, T, N]);
      expectClose(await fused.data(), expected, 2e-5, 2e-5);
      expectClose(await fused.data(), Float64Array.from(await apart.data()), 2e-5, 2e-5);
    }
  });

  // T = 11: a full run of 8 tokens and a partial one; T = 1: no scaling
  for (const [B, T, K, N] of [[3, 11, 24, 8], [2, 1, 16, 5]] as const) {
    it(`a classifier head: LayerNorm, the mean over ${T} tokens and the dense layer, [${B}, ${T}, ${K}] -> [${B}, ${N}]: values and counts against the counted reference`, async () => {
      const [x, g, b, w, bias] = [f32(B * T * K, 30, -2, 2), f32(K, 31, 0.5, 1.5), f32(K, 32, -0.5, 0.5), f32(K * N, 33), f32(N, 34)];
      const { fused, apart, record } = await both(() => layerNormThen(pending(tensor(x, [B, T, K]), K, g, b), { kind: 'mean', w: tensor(w, [K, N]), bias: tensor(bias, [N]) }));
      expect(record.kernel).toBe('layernorm-linear-mean');
      const k = new Counter();
      const y = layerNormLanesRows(x, g, b, K, eps, 8, k);
      const pooled = new Float64Array(B * K);
      for (let i = 0; i < B * K; i++) for (let t = 0; t < T; t++) pooled[i] = k.add(pooled[i]!, y[(Math.floor(i / K) * T + t) * K + (i % K)]!);
      const expected = matmulRef(pooled, w, { batchA: 1, batchB: 1, M: B, N, K, ...(T > 1 ? { alpha: 1 / T } : {}) }, k).map((v, i) => k.add(v, bias[i % N]!));
      expect(fused.shape).toEqual([B, N]);
      expectClose(await fused.data(), expected, 2e-5, 2e-5);
      expectClose(await fused.data(), Float64Array.from(await apart.data()), 2e-5, 2e-5);
      expect(strip(record.counts)).toEqual(k.c);
      // the MAC convention counts the dense layer's
      expect(record.macs).toBe(B * K * N);
    });
  }

  type Trained = { out: Float32Array; grads: Float32Array[]; kernels: string[] };
  /** `call` (a layerNormThen over `inputs`) under a recorded gradient and the variant `chosen`, then the backward
   * pass of sum(out * weightsOut): the output, every input's gradient and the kernels that ran. */
  const trained = async (chosen: string, inputs: Tensor[], call: () => Tensor, weightsOut: Float64Array): Promise<Trained> => {
    env.engine.setSeed(11);
    for (const t of inputs) t.requiresGrad = true;
    const { result, records } = await env.engine.ledger.capture(() => {
      const out = withVariant('layernorm-linear', chosen, call);
      backward(sum(mul(out, tensor(weightsOut, [...out.shape]))));
      return out;
    });
    const grads = await Promise.all(inputs.map((t) => t.grad!.data()));
    return { out: await result.data(), grads, kernels: records.map((r) => r.kernel) };
  };
  /** Whether a LayerNorm forward kernel ran (any of its variants: the GPU kernel variants' rule is a workgroup a row). */
  const layerNormRan = (kernels: string[]) => kernels.some((k) => k.startsWith('layernorm:forward'));
  /** One kernel in place of the LayerNorm's and the product's, and the gradients the two give apart. */
  const expectFusedAsApart = (fused: Trained, apart: Trained, variant: string) => {
    expect(fused.kernels).toContain(`layernorm-linear${variant === 'fused16' ? '-16rows' : ''}+keep`);
    expect(layerNormRan(fused.kernels)).toBe(false);
    expect(layerNormRan(apart.kernels)).toBe(true);
    expect(fused.kernels.length).toBe(apart.kernels.length - 1);
    fused.grads.forEach((grad, i) => expectClose(grad, Float64Array.from(apart.grads[i]!), 2e-5, 2e-4));
  };

  for (const variant of ['fused', 'fused16']) {
    it(`Q, K and V with a gradient recorded (${variant}): one kernel that also writes the normalised rows and their statistics; values and every gradient as the LayerNorm and the products apart give them`, async () => {
      // 21 rows: a partial row group; 64 columns: stackable on every adapter (a binding offset aligned to 256 bytes)
      const [B, T, K, N] = [3, 7, 32, 64];
      const [xs, g, b] = [f32(B * T * K, 50, -2, 2), f32(K, 51, 0.5, 1.5), f32(K, 52, -0.5, 0.5)];
      const params = [0, 1, 2].flatMap((i) => [f32(K * N, 53 + i), f32(N, 56 + i)]);
      const run = (chosen: string) => {
        const [x, gamma, beta] = [tensor(xs, [B, T, K]), tensor(g, [K]), tensor(b, [K])];
        const tensors = params.map((p, i) => tensor(p, i % 2 ? [N] : [K, N]));
        packTensors(tensors);
        const product = { kind: 'stack' as const, weights: [tensors[0]!, tensors[2]!, tensors[4]!], biases: [tensors[1]!, tensors[3]!, tensors[5]!] };
        return trained(chosen, [x, gamma, beta, ...tensors], () => layerNormThen({ x, gamma, beta, eps, path: '' }, product), f32(3 * B * T * N, 60));
      };
      const fused = await run(variant);
      expectFusedAsApart(fused, await run('apart'), variant);
      const y = layerNormRows(xs, g, b, K, eps);
      const expected = new Float64Array(3 * B * T * N);
      for (let i = 0; i < 3; i++) matmulRef(y, params[2 * i]!, { batchA: 1, batchB: 1, M: B * T, N, K }).forEach((v, j) => (expected[i * B * T * N + j] = v + params[2 * i + 1]![j % N]!));
      expectClose(fused.out, expected, 2e-5, 2e-5);
    });
  }

  for (const [variant, rate] of [['fused', 0.2], ['fused16', 0]] as const) {
    it(`an MLP's first layer with a gradient recorded (${variant}, GELU${rate ? ', dropout' : ''}): one kernel keeps the normalised rows and the GELU's input; values and every gradient as apart`, async () => {
      const [rows, K, N] = [21, 32, 72];
      const [xs, g, b, ws, bs] = [f32(rows * K, 70, -2, 2), f32(K, 71, 0.5, 1.5), f32(K, 72, -0.5, 0.5), f32(K * N, 73), f32(N, 74)];
      const run = (chosen: string) => {
        const [x, gamma, beta, w, bias] = [tensor(xs, [rows, K]), tensor(g, [K]), tensor(b, [K]), tensor(ws, [K, N]), tensor(bs, [N])];
        const product = { kind: 'linear' as const, w, bias, activation: 'gelu' as const, dropout: rate };
        return trained(chosen, [x, gamma, beta, w, bias], () => layerNormThen({ x, gamma, beta, eps, path: '' }, product), f32(rows * N, 75));
      };
      const [fused, apart] = [await run(variant), await run('apart')];
      expectFusedAsApart(fused, apart, variant);
      // the same mask for the seed: the same values, dropped where apart dropped
      expectClose(fused.out, Float64Array.from(apart.out), 2e-5, 2e-5);
      if (rate > 0) expect(fused.out.filter((v) => v === 0).length).toBeGreaterThan(rows * N * 0.1);
    });
  }

  it("with a gradient recorded, a classifier head's LayerNorm and its mean-product apart (the fused kernel keeps no rows past the mean)", async () => {
    const [B, T, K, N] = [2, 4, 8, 4];
    const x = tensor(f32(B * T * K, 40), [B, T, K]);
    x.requiresGrad = true;
    const { records } = await env.engine.ledger.capture(() => withVariant('layernorm-linear', 'fused', () => layerNormThen(pending(x, K, f32(K, 41), f32(K, 42)), { kind: 'mean', w: tensor(f32(K * N, 43), [K, N]) })));
    expect(layerNormRan([records[0]!.kernel])).toBe(true);
    expect(records.map((r) => r.kernel).filter((k) => k.startsWith('layernorm-linear'))).toEqual([]);
  });
});

describe('every matmul variant the tuner may choose, forced, against the float64 reference', () => {
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
  // alpha op(A) B with B's column sums as row M, in float64: computed once for all the variants (seconds at long K)
  const withColumnSums = new Map<string, { a: Float64Array; b: Float64Array; want: Float64Array }>();
  const columnSumsCase = (M: number, N: number, K: number, transA: boolean, alpha: number) => {
    const key = `${M} ${N} ${K} ${transA} ${alpha}`;
    if (!withColumnSums.has(key)) {
      const [a, b] = [randomArray(M * K, 13 + K), randomArray(K * N, 14 + K)];
      const sums = new Float64Array(N);
      for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) sums[n] = sums[n]! + alpha * b[k * N + n]!;
      withColumnSums.set(key, { a, b, want: Float64Array.from([...matmulRef(a, b, { batchA: 1, batchB: 1, M, N, K, transA, alpha }), ...sums]) });
    }
    return withColumnSums.get(key)!;
  };
  for (const variant of MATMUL_VARIANT_NAMES) {
    it(`${variant}: transposes, ragged edges, batches, long K, strided heads and the fused epilogue`, async ({ skip }) => {
      const subgroup = env.engine.runtime.subgroupSize;
      if (variant === 'subgroup4x4' && subgroup === undefined) skip(`no fixed-size subgroups on ${env.engine.runtime.adapterName}`);
      const kernels = new Set<string>();
      const run = async (fn: () => Tensor) => {
        const { result, records } = await env.engine.ledger.capture(() => withVariant('matmul', variant, fn));
        for (const r of records) kernels.add(r.kernel);
        return (await result.read()) as Float32Array;
      };
      for (const [batch, M, N, K] of [[1, 5, 7, 3], [2, 33, 17, 65], [1, 130, 36, 72], [3, 16, 8, 4], [1, 3, 5, 70_001], [2, 20, 130, 44]] as const) {
        for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
          if (K > 1000 && (transA || transB)) continue;
          const a = randomArray(batch * M * K, M + K);
          const b = randomArray(batch * K * N, N + K);
          const got = await run(() =>
            matmulKernel(Tensor.from(Float32Array.from(a), [batch, transA ? K : M, transA ? M : K]), Tensor.from(Float32Array.from(b), [batch, transB ? N : K, transB ? K : N]),
              { batch, M, N, K, aBatched: true, bBatched: true }, { transA, transB }),
          );
          expectClose(got, matmulRef(a, b, { batchA: batch, batchB: batch, M, N, K, transA, transB }), 2e-5 * Math.sqrt(K), 1e-5);
        }
      }
      // two heads of [T, H * D] operands read in place (attention's layout), written back into [T, H * D]
      const [T, H, D] = [20, 2, 12];
      const q = randomArray(T * H * D, 1);
      const k = randomArray(T * H * D, 2);
      const heads = await run(() =>
        matmulKernel(Tensor.from(Float32Array.from(q), [T, H * D]), Tensor.from(Float32Array.from(k), [T, H * D]),
          { batch: H, M: T, N: T, K: D, aBatched: true, bBatched: true, innerBatches: H, a: { ld: H * D, outer: 0, inner: D }, b: { ld: H * D, outer: 0, inner: D } },
          { transB: true }),
      );
      const pick = (x: Float64Array, h: number) => Float64Array.from({ length: T * D }, (_, i) => x[Math.floor(i / D) * H * D + h * D + (i % D)]!);
      for (let h = 0; h < H; h++) expectClose(heads.subarray(h * T * T, (h + 1) * T * T), matmulRef(pick(q, h), pick(k, h), { batchA: 1, batchB: 1, M: T, N: T, K: D, transB: true }), 1e-5, 1e-5);
      // bias, sigmoid and a residual in the epilogue, with the pre-activation kept
      const [M, N, K] = [37, 12, 20];
      const [a, b, bias, res] = [randomArray(M * K, 3), randomArray(K * N, 4), randomArray(N, 5), randomArray(M * N, 6)];
      const pre = Tensor.zeros([M, N]);
      const fused = await run(() =>
        matmulKernel(Tensor.from(Float32Array.from(a), [M, K]), Tensor.from(Float32Array.from(b), [K, N]), { batch: 1, M, N, K, aBatched: false, bBatched: false },
          { bias: Tensor.from(Float32Array.from(bias), [N]), activation: 'sigmoid', preActivation: pre, residual: Tensor.from(Float32Array.from(res), [M, N]) }),
      );
      const z = matmulRef(a, b, { batchA: 1, batchB: 1, M, N, K }).map((v, i) => v + bias[i % N]!);
      expectClose(await pre.read(), z, 1e-5, 1e-5);
      expectClose(fused, z.map((v, i) => sigmoid(v) + res[i]!), 1e-5, 1e-5);
      // residuals broadcast: one value a row (over the columns), a table for every batch (over the rows)
      for (const [shape, period, row, col] of [[[M, 1], M, 1, 0], [[M / 37, N], 1, N, 1]] as const) {
        const r = randomArray(period * (col ? N : 1), 9);
        const got = await run(() =>
          matmulKernel(Tensor.from(Float32Array.from(a), [M, K]), Tensor.from(Float32Array.from(b), [K, N]), { batch: 1, M, N, K, aBatched: false, bBatched: false },
            { residual: Tensor.from(Float32Array.from(r), [...shape]), residualBroadcast: { period, row, col } }),
        );
        expectClose(got, matmulRef(a, b, { batchA: 1, batchB: 1, M, N, K }).map((v, i) => v + r[(Math.floor(i / N) % period) * row + (i % N) * col]!), 1e-5, 1e-5);
      }
      // products summed into one output (tile kernels; the others leave it to them), vec4 and single loads
      for (const [M, N, K, transB] of [[33, 17, 13, false], [20, 8, 16, true], [20, 8, 16, false]] as const) {
        const count = 3;
        const [a, b] = [randomArray(count * M * K, 7 + K), randomArray(count * K * N, 8 + K)];
        const got = await run(() =>
          matmulKernel(Tensor.from(Float32Array.from(a), [count, M, K]), Tensor.from(Float32Array.from(b), [count, transB ? N : K, transB ? K : N]),
            { batch: 1, M, N, K, aBatched: false, bBatched: false, summed: { count, a: M * K, b: K * N } }, { transB }),
        );
        const each = matmulRef(a, b, { batchA: count, batchB: count, M, N, K, transB });
        expectClose(got, Float64Array.from({ length: M * N }, (_, i) => each[i]! + each[M * N + i]! + each[2 * M * N + i]!), 2e-5, 1e-5);
      }
      // B's column sums as row M (a weight gradient with its bias's), ragged and over K runs past the loop limit (the
      // staged tile from N 128)
      for (const [M, N, K, transA] of [[20, 12, 40, true], [33, 132, 36, false], [16, 128, 70_001, true]] as const) {
        const { a, b, want } = columnSumsCase(M, N, K, transA, 0.5);
        const got = await run(() =>
          matmulKernel(Tensor.from(Float32Array.from(a), transA ? [K, M] : [M, K]), Tensor.from(Float32Array.from(b), [K, N]), { batch: 1, M, N, K, aBatched: false, bBatched: false },
            { transA, alpha: 0.5, columnSums: true }),
        );
        expectClose(got, want, 2e-5 * Math.sqrt(K), 1e-5);
      }
      // an activation's gradient in the epilogue: the product times GELU's derivative at the pre-activation
      {
        const [M, N, K] = [37, 12, 20];
        const [a, b, p] = [randomArray(M * K, 9), randomArray(K * N, 10), randomArray(M * N, 11, -3, 3)];
        const got = await run(() =>
          matmulKernel(Tensor.from(Float32Array.from(a), [M, K]), Tensor.from(Float32Array.from(b), [K, N]), { batch: 1, M, N, K, aBatched: false, bBatched: false },
            { activationGrad: { activation: 'gelu', preActivation: Tensor.from(Float32Array.from(p), [M, N]) } }),
        );
        expectClose(got, matmulRef(a, b, { batchA: 1, batchB: 1, M, N, K }).map((v, i) => v * geluGradRef(p[i]!)), 1e-5, 1e-5);
      }
      // the variant ran (the wide tile only where it fits, which several of these shapes do)
      const name = { tile4x4: 'matmul', 'tile4x4-wg64': 'matmul-wg64', 'tile4x4-wg256': 'matmul-wg256', wide16x8: 'matmul-wide', staged16x16: 'matmul-staged', tiled64: 'matmul-tiled', subgroup4x4: 'matmul-subgroup' }[variant];
      expect(kernels).toContain(name);
      if (variant === 'subgroup4x4') {
        // its declared counts: a multiply-add per product, and the lanes' tiles meeting (lanes - 1 adds an output)
        const [M, N, K] = [9, 6, 300];
        const { records } = await env.engine.ledger.capture(() =>
          withVariant('matmul', variant, () => matmulKernel(Tensor.from(randomArray(M * K, 12), [M, K]), Tensor.from(randomArray(K * N, 13), [K, N]), { batch: 1, M, N, K, aBatched: false, bBatched: false })),
        );
        expect(records.map((r) => [r.kernel, r.counts.fma, r.counts.add])).toEqual([['matmul-subgroup', M * N * K, M * N * (subgroup! - 1)]]);
      }
    });
  }
});
