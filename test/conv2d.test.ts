import { describe, expect, it } from 'vitest';
import { conv2dForward, conv2dGradInput, conv2dGradWeight, convGeometry, convMacs } from '../src/kernels/conv2d.js';
import { conv2d, convChain } from '../src/ops/conv.js';
import { withVariant } from '../src/kernels/tuner.js';
import { packTensors } from '../src/tensor/pack.js';
import { backward } from '../src/ops/autograd.js';
import { sum } from '../src/ops/reduce.js';
import { gelu, mul, sigmoid } from '../src/ops/elementwise.js';
import { noGrad } from '../src/tensor/engine.js';
import { Tensor } from '../src/tensor/tensor.js';
import { checkOp } from './helpers/check.js';
import { expectClose, randomArray, useEngine } from './helpers/gpu.js';
import { convRef, type ConvCase } from './reference/float64.js';
import { Counter, erf64 } from './reference/counter.js';

const env = useEngine();
const strip = (c: object) => ({ ...c, bytesRead: 0, bytesWritten: 0 });


const cases: [string, ConvCase][] = [
  ['3x3 same, odd sizes, bias', { x: [2, 5, 7, 3], w: [3, 3, 3, 4], stride: 1, padding: 'same', groups: 1, bias: true }],
  ['3x3 stride 2 same', { x: [1, 7, 6, 2], w: [3, 3, 2, 3], stride: 2, padding: 'same', groups: 1, bias: false }],
  ['2x3 valid', { x: [2, 6, 5, 2], w: [2, 3, 2, 3], stride: 1, padding: 'valid', groups: 1, bias: true }],
  ['depthwise 3x3 same', { x: [2, 6, 6, 4], w: [3, 3, 1, 4], stride: 1, padding: 'same', groups: 4, bias: true }],
  ['depthwise 3x3 stride 2, 8 channels (four channels per invocation)', { x: [1, 7, 6, 8], w: [3, 3, 1, 8], stride: 2, padding: 'same', groups: 8, bias: true }],
  ['depthwise 5x5 same, 9 wide, 8 channels (a row tile and a partial one)', { x: [2, 5, 9, 8], w: [5, 5, 1, 8], stride: 1, padding: 'same', groups: 8, bias: false }],
  ['depthwise 3x5 same, 19 wide (three row tiles, the last partial; a kernel size of its own)', { x: [1, 4, 19, 4], w: [3, 5, 1, 4], stride: 1, padding: 'same', groups: 4, bias: true }],
  ['3x3 same, 8 -> 4 channels, bias (four channels per invocation)', { x: [2, 5, 6, 8], w: [3, 3, 8, 4], stride: 1, padding: 'same', groups: 1, bias: true }],
  ['3x3 stride 2 same, 4 -> 8 channels (four channels per invocation)', { x: [1, 7, 6, 4], w: [3, 3, 4, 8], stride: 2, padding: 'same', groups: 1, bias: false }],
  ['grouped 3x3', { x: [1, 5, 5, 4], w: [3, 3, 2, 6], stride: 1, padding: 'same', groups: 2, bias: false }],
  ['1x1 (matmul path)', { x: [2, 4, 3, 5], w: [1, 1, 5, 6], stride: 1, padding: 'valid', groups: 1, bias: true }],
  ['patch 3x3 stride 3 (matmul path)', { x: [2, 6, 6, 2], w: [3, 3, 2, 5], stride: 3, padding: 'valid', groups: 1, bias: true }],
  ['patch 3 stride 3 cropping 8x7 (matmul path)', { x: [1, 8, 7, 1], w: [3, 3, 1, 4], stride: 3, padding: 'valid', groups: 1, bias: true }],
];

describe('conv2d', () => {
  for (const [name, c] of cases) {
    it(`${name}: values and gradients of x, w and bias`, async () => {
      await checkOp({
        shapes: c.bias ? [c.x, c.w, [c.w[3]!]] : [c.x, c.w],
        gpu: ([x, w, b]) => conv2d(x!, w!, { stride: c.stride, padding: c.padding, groups: c.groups, bias: b }),
        reference: ([x, w, b]) => convRef(x!, w!, b, c),
        h: 1e-3,
      });
    });
  }

  // 240 output rows of 40: more than one run of rows per invocation (8192 loop iterations) in both kernels.
  for (const [kind, C] of [['scalar', 2], ['four channels per invocation', 4]] as const) {
    it(`the weight gradient over many rows is split into runs and summed (${kind})`, async () => {
      const c: ConvCase = { x: [4, 60, 40, C], w: [3, 3, C, C], stride: 1, padding: 'same', groups: 1, bias: false };
      const { records } = await env.engine.ledger.capture(() => conv2dGradWeight(Tensor.zeros(c.x), Tensor.zeros(c.x), convGeometry(c.x, c.w, 1, 'same', 1)));
      const slabs = records.find((r) => r.op === 'sum')!.shape; // [splits x KH x KW x Cin x Cout]
      expect(Number(/^\[(\d+)x/.exec(slabs)![1])).toBeGreaterThan(1);
      await checkOp({ shapes: [c.x, c.w], gpu: ([x, w]) => conv2d(x!, w!, { padding: 'same' }), reference: ([x, w]) => convRef(x!, w!, undefined, c), noGrad: [0], h: 1e-3, gradTol: [2e-3, 2e-3] });
    });
  }

  // Each tuner candidate forced: row tiles of 4, 8 and 16 neighbours (19 wide: full tiles and a partial one of
  // each; 3 wide: a lone partial tile) and an output per invocation; the weight gradient over 240 rows of 40 with
  // each loop budget (one split or several)
  const depthwiseCases: ConvCase[] = [
    { x: [1, 4, 19, 4], w: [3, 5, 1, 4], stride: 1, padding: 'same', groups: 4, bias: true },
    { x: [2, 3, 3, 8], w: [3, 3, 1, 8], stride: 1, padding: 'same', groups: 8, bias: false },
  ];
  for (const variant of ['tiled4', 'tiled8', 'tiled16', 'direct']) {
    for (const c of depthwiseCases) {
      it(`depthwise forced to ${variant}, [${c.x.join(', ')}] by ${c.w[0]}x${c.w[1]}: values and gradients, declared multiply-adds`, async () => {
        // checkOp runs the op and its backward pass before its first await, so both are forced; its finite
        // differences run the forward pass later, through the forcing `gpu`
        await withVariant('depthwise', variant, () =>
          checkOp({
            shapes: c.bias ? [c.x, c.w, [c.w[3]!]] : [c.x, c.w],
            gpu: ([x, w, b]) => withVariant('depthwise', variant, () => conv2d(x!, w!, { padding: c.padding, groups: c.groups, bias: b })),
            reference: ([x, w, b]) => convRef(x!, w!, b, c),
            h: 1e-3,
          }),
        );
        const g = convGeometry(c.x, c.w, 1, 'same', c.groups);
        const { records } = await env.engine.ledger.capture(() => withVariant('depthwise', variant, () => conv2dGradInput(conv2dForward(Tensor.zeros(c.x), Tensor.zeros(c.w), g), Tensor.zeros(c.w), g)));
        const suffix = variant === 'direct' ? '' : variant === 'tiled8' ? '-tiled' : `-${variant}`;
        expect(records.map((r) => r.kernel)).toEqual([`depthwise-conv2d${suffix}`, `depthwise-conv2d-grad-input${suffix}`]);
        const k = new Counter();
        convRef(new Float64Array(g.N * g.H * g.W * g.Cin), new Float64Array(c.w.reduce((a, d) => a * d, 1)), undefined, c, k);
        expect(records.map((r) => r.counts.fma)).toEqual([k.c.fma, k.c.fma]);
      });
    }
  }
  // the direct convolution's four-channel cases forced to one channel an invocation (the tuner's other candidate)
  const vectorCases: ConvCase[] = [
    { x: [2, 5, 6, 8], w: [3, 3, 8, 4], stride: 1, padding: 'same', groups: 1, bias: true },
    { x: [1, 7, 6, 4], w: [3, 3, 4, 8], stride: 2, padding: 'same', groups: 1, bias: false },
  ];
  for (const variant of ['vec4', 'scalar']) {
    for (const c of vectorCases) {
      it(`conv2d forced to ${variant}, [${c.x.join(', ')}] to ${c.w[3]} channels, stride ${c.stride}: values and gradients, the kernels named so`, async () => {
        // forced for the op and its backward pass, which checkOp runs before its first await
        await withVariant('conv2d', variant, () =>
          checkOp({
            shapes: c.bias ? [c.x, c.w, [c.w[3]!]] : [c.x, c.w],
            gpu: ([x, w, b]) => withVariant('conv2d', variant, () => conv2d(x!, w!, { stride: c.stride, padding: c.padding, bias: b })),
            reference: ([x, w, b]) => convRef(x!, w!, b, c),
            h: 1e-3,
          }),
        );
        const g = convGeometry(c.x, c.w, c.stride, c.padding, 1);
        const { records } = await env.engine.ledger.capture(() =>
          withVariant('conv2d', variant, () => {
            const y = conv2dForward(Tensor.zeros(c.x), Tensor.zeros(c.w), g);
            conv2dGradInput(y, Tensor.zeros(c.w), g);
            conv2dGradWeight(Tensor.zeros(c.x), y, g);
          }),
        );
        const suffix = variant === 'vec4' ? '-vec4' : '';
        expect(records.map((r) => r.kernel).filter((k) => k.startsWith('conv2d'))).toEqual([`conv2d${suffix}`, `conv2d-grad-input${suffix}`, `conv2d-grad-weight${suffix}`]);
      });
    }
  }

  for (const variant of ['budget2048', 'budget8192', 'budget32768']) {
    it(`the depthwise weight gradient with a loop budget of ${variant.slice(6)}: split as the budget says, values against float64`, async () => {
      const c: ConvCase = { x: [4, 60, 40, 8], w: [3, 3, 1, 8], stride: 1, padding: 'same', groups: 8, bias: false };
      const g = convGeometry(c.x, c.w, 1, 'same', 8);
      const { records } = await env.engine.ledger.capture(() => withVariant('depthwise-grad-weight', variant, () => conv2dGradWeight(Tensor.zeros(c.x), Tensor.zeros(c.x), g)));
      const rowsPerSplit = Math.floor(Number(variant.slice(6)) / (40 * 10));
      const split = records.find((r) => r.op === 'sum');
      expect(split ? Number(/^\[(\d+)x/.exec(split.shape)![1]) : 1).toBe(Math.ceil(240 / rowsPerSplit));
      // forced for the op and its backward pass, which checkOp runs before its first await
      await withVariant('depthwise-grad-weight', variant, () =>
        checkOp({ shapes: [c.x, c.w], gpu: ([x, w]) => conv2d(x!, w!, { padding: 'same', groups: 8 }), reference: ([x, w]) => convRef(x!, w!, undefined, c), noGrad: [0], h: 1e-3, gradTol: [2e-3, 2e-3] }),
      );
    });
  }

  it('declared multiply-adds equal the counted reference (padding taps skipped) in all three kernels', async () => {
    const c: ConvCase = { x: [2, 5, 7, 4], w: [3, 3, 2, 6], stride: 2, padding: 'same', groups: 2, bias: true };
    const g = convGeometry(c.x, c.w, c.stride, c.padding, c.groups);
    const x = Tensor.zeros(c.x);
    const w = Tensor.zeros(c.w);
    const bias = Tensor.zeros([6]);
    const { records } = await env.engine.ledger.capture(() => {
      const y = conv2dForward(x, w, g, bias);
      conv2dGradInput(y, w, g);
      conv2dGradWeight(x, y, g);
    });
    const k = new Counter();
    convRef(new Float64Array(x.size), new Float64Array(w.size), new Float64Array(6), c, k);
    expect(records[0]!.counts.fma).toBe(k.c.fma);
    expect(records[0]!.counts.add).toBe(k.c.add);
    expect(records[1]!.counts.fma).toBe(k.c.fma);
    expect(records[2]!.counts.fma).toBe(k.c.fma);
    expect(convMacs(g)).toBe(k.c.fma);
  });

  it('the four-channel kernels of ungrouped convolutions declare the multiply-adds of the counted reference', async () => {
    const c: ConvCase = { x: [2, 5, 7, 4], w: [3, 3, 4, 8], stride: 2, padding: 'same', groups: 1, bias: true };
    const g = convGeometry(c.x, c.w, c.stride, c.padding, c.groups);
    const x = Tensor.zeros(c.x);
    const w = Tensor.zeros(c.w);
    const { records } = await env.engine.ledger.capture(() => {
      const y = conv2dForward(x, w, g, Tensor.zeros([8]));
      conv2dGradInput(y, w, g);
      conv2dGradWeight(x, y, g);
    });
    const k = new Counter();
    convRef(new Float64Array(x.size), new Float64Array(w.size), new Float64Array(8), c, k);
    expect(records.slice(0, 3).map((r) => r.kernel)).toEqual(['conv2d-vec4', 'conv2d-grad-input-vec4', 'conv2d-grad-weight-vec4']);
    expect(records[0]!.counts.fma).toBe(k.c.fma);
    expect(records[0]!.counts.add).toBe(k.c.add);
    expect(records[1]!.counts.fma).toBe(k.c.fma);
    expect(records[2]!.counts.fma).toBe(k.c.fma);
  });

  it('the four-channel depthwise kernels declare the multiply-adds of the counted reference', async () => {
    const c: ConvCase = { x: [2, 5, 7, 8], w: [3, 3, 1, 8], stride: 2, padding: 'same', groups: 8, bias: true };
    const g = convGeometry(c.x, c.w, c.stride, c.padding, c.groups);
    const x = Tensor.zeros(c.x);
    const w = Tensor.zeros(c.w);
    const { records } = await env.engine.ledger.capture(() => conv2dGradInput(conv2dForward(x, w, g, Tensor.zeros([8])), w, g));
    const k = new Counter();
    convRef(new Float64Array(x.size), new Float64Array(w.size), new Float64Array(8), c, k);
    expect(records.map((r) => r.kernel)).toEqual(['depthwise-conv2d', 'depthwise-conv2d-grad-input']);
    expect(records[0]!.counts.fma).toBe(k.c.fma);
    expect(records[0]!.counts.add).toBe(k.c.add);
    expect(records[1]!.counts.fma).toBe(k.c.fma);
  });

  it('fuses a ReLU6 into the epilogue for inference: direct, depthwise (tiled) and matmul paths; refuses it where a gradient is wanted', async () => {
    const fused: [string, ConvCase][] = [
      ['3x3 same', { x: [2, 5, 7, 3], w: [3, 3, 3, 4], stride: 1, padding: 'same', groups: 1, bias: true }],
      ['depthwise 3x3 same', { x: [2, 6, 7, 8], w: [3, 3, 1, 8], stride: 1, padding: 'same', groups: 8, bias: true }],
      ['1x1, 16 rows and more', { x: [2, 4, 5, 4], w: [1, 1, 4, 8], stride: 1, padding: 'valid', groups: 1, bias: true }],
    ];
    for (const [, c] of fused) {
      const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);
      const x = Float64Array.from(Float32Array.from(randomArray(size(c.x), 1, -2, 2)));
      const w = Float64Array.from(Float32Array.from(randomArray(size(c.w), 2, -2, 2)));
      const b = Float64Array.from(Float32Array.from(randomArray(c.w[3]!, 3, 0, 3)));
      const expected = convRef(x, w, b, c).map((v) => Math.min(Math.max(v, 0), 6));
      const xt = Tensor.from(x, c.x);
      const wt = Tensor.from(w, c.w);
      const bt = Tensor.from(b, [c.w[3]!]);
      const y = noGrad(() => conv2d(xt, wt, { stride: c.stride, padding: c.padding, groups: c.groups, bias: bt, activation: 'relu6' }));
      expectClose(await y.data(), expected, 1e-5, 1e-5);
      wt.requiresGrad = true;
      expect(() => conv2d(xt, wt, { stride: c.stride, padding: c.padding, groups: c.groups, bias: bt, activation: 'relu6' })).toThrow(/no gradient: run it under noGrad/);
    }
  });

  it('explains mismatched channels and groups', () => {
    expect(() => conv2d(Tensor.zeros([1, 4, 4, 3]), Tensor.zeros([3, 3, 2, 4]))).toThrow(/3 input and 4 output channels do not fit 1 groups/);
  });

  for (const activation of ['gelu', 'sigmoid'] as const) {
    it(`a ${activation} fused into the direct convolution under a gradient: the same values and gradients as the convolution then the ${activation}, one dispatch fewer`, async () => {
      for (const [Cin, Cout] of [[8, 4], [3, 5]] as [number, number][]) {
        const data = [randomArray(2 * 6 * 6 * Cin, 21), randomArray(3 * 3 * Cin * Cout, 22), randomArray(Cout, 23), randomArray(2 * 6 * 6 * Cout, 24)];
        const run = async (fused: boolean) => {
          const [x, w, b] = [[2, 6, 6, Cin], [3, 3, Cin, Cout], [Cout]].map((shape, i) => {
            const t = Tensor.from(data[i]!, shape);
            t.requiresGrad = true;
            return t;
          }) as [Tensor, Tensor, Tensor];
          const weights = Tensor.from(data[3]!, [2, 6, 6, Cout]);
          const { result: y, records } = await env.engine.ledger.capture(() => {
            const out = fused ? conv2d(x, w, { padding: 'same', bias: b, activation }) : (activation === 'gelu' ? gelu : sigmoid)(conv2d(x, w, { padding: 'same', bias: b }));
            backward(sum(mul(out, weights)));
            return out;
          });
          return { values: [await y.data(), ...(await Promise.all([x, w, b].map((t) => t.grad!.data())))], forward: records.filter((r) => r.phase === 'forward').length };
        };
        const [fused, apart] = [await run(true), await run(false)];
        fused.values.forEach((v, i) => expectClose(v, Float64Array.from(apart.values[i]!), 1e-6, 1e-5));
        expect(fused.forward).toBe(apart.forward - 1);
      }
    });
  }

  it('a GELU fused into the direct convolution (no gradient recorded) equals the convolution then the GELU, to the last bit or two, and in declared counts', async () => {
    // [Cin, Cout]: the vec4 kernel (multiples of 4) and the scalar one
    for (const [Cin, Cout] of [[8, 4], [3, 5]] as [number, number][]) {
      const x = Tensor.from(randomArray(2 * 6 * 6 * Cin, 11), [2, 6, 6, Cin]);
      const w = Tensor.from(randomArray(3 * 3 * Cin * Cout, 12), [3, 3, Cin, Cout]);
      const fused = await env.engine.ledger.capture(() => noGrad(() => conv2d(x, w, { padding: 'same', activation: 'gelu' })));
      const apart = await env.engine.ledger.capture(() => noGrad(() => gelu(conv2d(x, w, { padding: 'same' }))));
      expect(fused.records).toHaveLength(1);
      expect(fused.records[0]!.kernel).toMatch(/^conv2d\+gelu/);
      // bit for bit on llvmpipe and lavapipe; SwiftShader's JIT rounds the GELU inlined in the convolution's shader
      // differently in the last bit (0.39554476 against 0.39554474), as a compiler may
      expectClose(await fused.result.data(), Float64Array.from(await apart.result.data()), 1e-7, 2.5e-7);
      const arithmetic = (records: typeof fused.records) => {
        const total = { ...records[0]!.counts, bytesRead: 0, bytesWritten: 0 };
        for (const r of records.slice(1)) for (const key of Object.keys(total) as (keyof typeof total)[]) if (!key.startsWith('bytes')) total[key] += r.counts[key];
        return total;
      };
      expect(arithmetic(fused.records)).toEqual(arithmetic(apart.records));
    }
    expect(() => conv2d(Tensor.zeros([1, 4, 4, 4]), Tensor.zeros([3, 3, 1, 4]), { padding: 'same', groups: 4, activation: 'gelu' })).toThrow(/depthwise convolutions fuse ReLU6 only/);
  });
});


describe('convChain: small convolutions one after another in one dispatch (inference)', () => {
  const gelu64 = (v: number) => 0.5 * v * (1 + erf64(v / Math.SQRT2));
  const sigmoid64 = (v: number) => 1 / (1 + Math.exp(-v));
  const act64 = { none: (v: number) => v, gelu: gelu64, sigmoid: sigmoid64 } as const;
  // TokenLearner v1's three map convolutions on its 8 x 8 grid of 8 tokens; two layers on an odd grid; the 1-D form
  for (const [x, k, activations] of [
    [[2, 8, 8, 8], [3, 3], ['gelu', 'gelu', 'sigmoid']],
    [[1, 5, 7, 4], [3, 3], ['none', 'gelu']],
    [[3, 9, 1, 8], [3, 1], ['gelu', 'sigmoid']],
  ] as [number[], [number, number], ('none' | 'gelu' | 'sigmoid')[]][]) {
    it(`[${x.join(', ')}] through ${activations.length} ${k.join('x')} convolutions (${activations.join(', ')}): one dispatch, values against float64, the same arithmetic as apart`, async () => {
      const C = x[3]!;
      const wShape = [k[0], k[1], C, C];
      const c: ConvCase = { x, w: wShape, stride: 1, padding: 'same', groups: 1, bias: false };
      const xs = Float64Array.from(Float32Array.from(randomArray(x.reduce((a, b) => a * b), 1, -1, 1)));
      const ws = activations.map((_, i) => Float64Array.from(Float32Array.from(randomArray(k[0] * k[1] * C * C, 10 + i, -0.5, 0.5))));
      const weights = ws.map((w) => Tensor.from(w, wShape));
      packTensors(weights); // evenly spaced in one storage, as a model packs them
      const layers = weights.map((w, i) => ({ w, activation: activations[i]! }));
      const run = (variant: string) => env.engine.ledger.capture(() => noGrad(() => withVariant('conv-chain', variant, () => convChain(Tensor.from(xs, x), layers))));
      const [chained, apart] = [await run('chained'), await run('apart')];
      expect(chained.records.map((r) => r.kernel)).toEqual(['conv2d-chain']);
      expect(apart.records).toHaveLength(activations.length);
      const k64 = new Counter();
      const expected = ws.reduce((y, w, i) => convRef(y, w, undefined, c, k64).map(act64[activations[i]!]), xs);
      expectClose(await chained.result.data(), expected, 2e-5, 2e-5);
      expect(chained.records[0]!.counts.fma).toBe(k64.c.fma);
      const total = (records: typeof apart.records) => strip(records.reduce((s, r) => ({ ...s, ...Object.fromEntries(Object.entries(r.counts).map(([key, v]) => [key, (s[key as keyof typeof s] ?? 0) + v])) }), {} as Record<string, number>));
      expect(total(chained.records)).toEqual(total(apart.records));
      expect(chained.records[0]!.macs).toBe(apart.records.reduce((s, r) => s + r.macs!, 0));
    });
  }

  it('with a gradient recorded, or weights that are not evenly packed, each convolution its own dispatch', async () => {
    const c = [2, 4, 4, 4];
    const loose = [0, 1].map((i) => ({ w: Tensor.from(randomArray(3 * 3 * 4 * 4, i), [3, 3, 4, 4]), activation: 'gelu' as const }));
    const unpacked = await env.engine.ledger.capture(() => noGrad(() => convChain(Tensor.from(randomArray(32 * 4, 3), c), loose)));
    expect(unpacked.records.map((r) => r.op)).toEqual(['conv2d', 'conv2d']);
    packTensors(loose.map((l) => l.w));
    const x = Tensor.from(randomArray(32 * 4, 3), c);
    x.requiresGrad = true;
    const recorded = await env.engine.ledger.capture(() => convChain(x, loose));
    expect(recorded.records.map((r) => r.op)).toEqual(['conv2d', 'conv2d']);
  });
});
