import { describe, expect, it } from 'vitest';
import { UNARY, type UnaryOp, unaryForward, unaryBackward, BINARY, binaryForward } from '../src/kernels/elementwise.js';
import * as ops from '../src/ops/elementwise.js';
import { counts } from '../src/tensor/counts.js';
import { withVariant } from '../src/kernels/tuner.js';
import { Tensor } from '../src/tensor/tensor.js';
import { checkOp } from './helpers/check.js';
import { useEngine } from './helpers/gpu.js';
import { Counter } from './reference/counter.js';

const env = useEngine();

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

// Float64 references of each unary op and its gradient, written against a counting arithmetic.
const REF: Record<UnaryOp, { f: (c: Counter, x: number, a: number, b: number) => number; g: (c: Counter, x: number, y: number, dy: number, a: number, b: number) => number; range?: [number, number]; params?: [number, number] }> = {
  neg: { f: (c, x) => c.neg(x), g: (c, _x, _y, dy) => c.neg(dy) },
  exp: { f: (c, x) => c.exp(x), g: (c, _x, y, dy) => c.mul(dy, y) },
  log: { f: (c, x) => c.log(x), g: (c, x, _y, dy) => c.div(dy, x), range: [0.2, 3] },
  sqrt: { f: (c, x) => c.sqrt(x), g: (c, _x, y, dy) => c.div(dy, c.mul(2, y)), range: [0.2, 3] },
  rsqrt: { f: (c, x) => c.rsqrt(x), g: (c, _x, y, dy) => c.mul(c.mul(c.mul(c.mul(-0.5, dy), y), y), y), range: [0.2, 3] },
  square: { f: (c, x) => c.mul(x, x), g: (c, x, _y, dy) => c.mul(c.mul(2, x), dy) },
  reciprocal: { f: (c, x) => c.div(1, x), g: (c, _x, y, dy) => c.mul(c.mul(c.neg(dy), y), y), range: [0.3, 3] },
  relu: { f: (c, x) => c.max(x, 0), g: (c, x, _y, dy) => (c.gt(x, 0) ? dy : 0), range: [-2, 2] },
  relu6: { f: (c, x) => c.min(c.max(x, 0), 6), g: (c, x, _y, dy) => (c.gt(x, 0) && c.gt(6, x) ? dy : 0), range: [-3, 9] },
  gelu: {
    f: (c, x) => c.mul(c.mul(0.5, x), c.add(1, c.erf(c.mul(x, SQRT1_2)))),
    g: (c, x, _y, dy) => {
      const phi = c.mul(0.5, c.add(1, c.erf(c.mul(x, SQRT1_2))));
      const density = c.mul(c.mul(x, INV_SQRT_2PI), c.exp(c.mul(c.mul(-0.5, x), x)));
      return c.mul(dy, c.add(phi, density));
    },
    range: [-4, 4],
  },
  sigmoid: { f: (c, x) => c.div(1, c.add(1, c.exp(c.neg(x)))), g: (c, _x, y, dy) => c.mul(c.mul(dy, y), c.sub(1, y)), range: [-5, 5] },
  tanh: { f: (c, x) => c.tanh(x), g: (c, _x, y, dy) => c.mul(dy, c.sub(1, c.mul(y, y))), range: [-3, 3] },
  addScalar: { f: (c, x, a) => c.add(x, a), g: (_c, _x, _y, dy) => dy, params: [0.75, 0] },
  mulScalar: { f: (c, x, a) => c.mul(x, a), g: (c, _x, _y, dy, a) => c.mul(dy, a), params: [-1.5, 0] },
  affine: { f: (c, x, a, b) => c.fma(x, a, b), g: (c, _x, _y, dy, a) => c.mul(dy, a), params: [1.25, -0.5] },
  clamp: { f: (c, x, a, b) => c.min(c.max(x, a), b), g: (c, x, _y, dy, a, b) => (!c.gt(a, x) && !c.gt(x, b) ? dy : 0), params: [-0.5, 0.25] },
};

function unaryOp(op: UnaryOp, x: Tensor, a: number, b: number): Tensor {
  switch (op) {
    case 'addScalar':
      return ops.addScalar(x, a);
    case 'mulScalar':
      return ops.mulScalar(x, a);
    case 'clamp':
      return ops.clamp(x, a, b);
    case 'affine':
      return ops.affine(x, a, b);
    default:
      return ops[op](x);
  }
}

describe('unary kernels', () => {
  for (const op of Object.keys(UNARY) as UnaryOp[]) {
    const ref = REF[op];
    const [a, b] = ref.params ?? [0, 0];
    for (const shape of [[7], [3, 37], [2, 5, 13], [4, 9]]) {
      it(`${op} ${JSON.stringify(shape)}: forward and gradient match float64`, async () => {
        await checkOp({
          shapes: [shape],
          gpu: ([x]) => unaryOp(op, x!, a, b),
          reference: ([x]) => { const c = new Counter(); return x!.map((v) => ref.f(c, v, a, b)); },
          ranges: [ref.range ?? [-1, 1]],
          seed: shape.length,
          forwardTol: [2e-6, 2e-6],
          gradTol: [1e-4, 1e-3],
        });
      });
    }

    it(`${op}: declared counts equal the counted float64 reference`, async () => {
      const n = 11;
      const x = Tensor.from(new Float32Array(n).fill(0.5), [n]);
      const { records } = await env.engine.ledger.capture(() => {
        const y = unaryForward(op, x, a, b);
        unaryBackward(op, x, y, y, a, b);
      });
      const fwd = new Counter();
      const bwd = new Counter();
      for (let i = 0; i < n; i++) {
        const y = ref.f(fwd, 0.5, a, b);
        ref.g(bwd, 0.5, y, y, a, b);
      }
      const strip = (c: ReturnType<typeof counts>) => ({ ...c, bytesRead: 0, bytesWritten: 0 });
      expect(strip(records[0]!.counts)).toEqual(fwd.c);
      expect(strip(records[1]!.counts)).toEqual(bwd.c);
    });
  }
});

describe('elementwise workgroup sizes (the tuner family)', () => {
  // each candidate forced: 1,001 values (scalar lanes: a last, partial workgroup) and 1,000 (250 vec4 lanes)
  for (const variant of ['wg64', 'wg128', 'wg256']) {
    it(`${variant}: a GELU, its gradient and a broadcast add give the float64 values; the kernel names say the size`, async () => {
      for (const n of [1001, 1000]) {
        const xs = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7) * 3);
        const bias = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
        const c = new Counter();
        const { result, records } = await env.engine.ledger.capture(() =>
          withVariant('elementwise', variant, () => {
            const x = Tensor.from(xs, [n]);
            const y = unaryForward('gelu', x);
            return { y, dx: unaryBackward('gelu', x, y, Tensor.from(bias, [n])), sum: binaryForward('add', y, Tensor.from(bias, [n])) };
          }),
        );
        const suffix = variant === 'wg64' ? '' : `-${variant}`;
        expect(records.map((r) => r.kernel)).toEqual([`unary:gelu${suffix}`, `unary-grad:gelu${suffix}`, `binary:add${suffix}`]);
        const y = Array.from(xs, (v) => REF.gelu.f(c, v, 0, 0));
        const close = (got: Float32Array, want: number[]) => got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-5 + 1e-5 * Math.abs(want[i]!)));
        close(await result.y.data(), y);
        close(await result.dx.data(), Array.from(xs, (v, i) => REF.gelu.g(c, v, y[i]!, bias[i]!, 0, 0)));
        close(await result.sum.data(), y.map((v, i) => v + bias[i]!));
      }
    });
  }
});

describe('binary kernels with broadcasting', () => {
  const binaryRef = {
    add: (c: Counter, x: number, y: number) => c.add(x, y),
    sub: (c: Counter, x: number, y: number) => c.sub(x, y),
    mul: (c: Counter, x: number, y: number) => c.mul(x, y),
    div: (c: Counter, x: number, y: number) => c.div(x, y),
  };
  // [a shape, b shape, broadcast result]: strided layouts, and the direct ones (same shape, a block repeated
  // along the leading axes, one value spread over the trailing ones), four values per invocation where they fit
  const cases: [number[], number[], number[]][] = [
    [[5, 13], [5, 13], [5, 13]],
    [[4, 1, 7], [3, 1], [4, 3, 7]],
    [[7], [2, 3, 7], [2, 3, 7]],
    [[2, 1, 3, 1], [1, 5, 1, 4], [2, 5, 3, 4]],
    [[8, 4], [8, 4], [8, 4]],
    [[6, 8], [8], [6, 8]],
    [[5, 3], [3], [5, 3]],
    [[2, 3, 4, 8], [2, 3, 4, 1], [2, 3, 4, 8]],
    [[3, 6], [3, 1], [3, 6]],
    [[1], [3, 4], [3, 4]],
  ];
  function broadcastIndex(shape: number[], out: number[], flat: number): number {
    let idx = 0;
    let stride = 1;
    let rem = flat;
    for (let d = out.length - 1; d >= 0; d--) {
      const c = rem % out[d]!;
      rem = Math.floor(rem / out[d]!);
      const j = d - (out.length - shape.length);
      if (j >= 0) {
        if (shape[j]! !== 1) idx += c * stride;
        stride *= shape[j]!;
      }
    }
    return idx;
  }
  for (const op of Object.keys(BINARY) as (keyof typeof BINARY)[]) {
    for (const [sa, sb, so] of cases) {
      it(`${op} ${JSON.stringify(sa)} x ${JSON.stringify(sb)}: forward and both gradients`, async () => {
        const size = so.reduce((p, d) => p * d, 1);
        await checkOp({
          shapes: [sa, sb],
          gpu: ([x, y]) => ops[op](x!, y!),
          reference: ([x, y]) => {
            const out = new Float64Array(size);
            const c = new Counter();
            for (let i = 0; i < size; i++) out[i] = binaryRef[op](c, x![broadcastIndex(sa, so, i)]!, y![broadcastIndex(sb, so, i)]!);
            return out;
          },
          ranges: op === 'div' ? [[-1, 1], [0.5, 2]] : undefined,
          forwardTol: [1e-6, 1e-6],
        });
      });
    }
    it(`${op}: declared counts equal the counted reference`, async () => {
      const a = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
      const b = Tensor.from([1, 2, 3], [3]);
      const { records } = await env.engine.ledger.capture(() => binaryForward(op, a, b));
      const c = new Counter();
      for (let i = 0; i < 6; i++) binaryRef[op](c, 1, 1);
      expect({ ...records[0]!.counts, bytesRead: 0, bytesWritten: 0 }).toEqual(c.c);
    });
  }

  it('rejects shapes that cannot broadcast, naming both', () => {
    const a = Tensor.zeros([2, 3]);
    const b = Tensor.zeros([4]);
    expect(() => ops.add(a, b)).toThrow(/\[2, 3\] and \[4\] cannot be broadcast/);
  });
});
