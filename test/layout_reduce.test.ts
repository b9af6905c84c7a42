import { describe, expect, it } from 'vitest';
import { reduceAxis } from '../src/kernels/reduce.js';
import { withVariant } from '../src/kernels/tuner.js';
import { broadcastTo, concat, pad, permute, reshape, slice, transpose } from '../src/ops/layout.js';
import { max, mean, sum } from '../src/ops/reduce.js';
import { Tensor } from '../src/tensor/tensor.js';
import { checkOp } from './helpers/check.js';
import { useEngine } from './helpers/gpu.js';
import { Counter } from './reference/counter.js';

const env = useEngine();

/** Row-major strides. */
function strides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}
function coords(flat: number, shape: number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    c[i] = flat % shape[i]!;
    flat = Math.floor(flat / shape[i]!);
  }
  return c;
}
const index = (c: number[], shape: number[]) => c.reduce((s, v, i) => s + v * strides(shape)[i]!, 0);
const prod = (s: number[]) => s.reduce((p, d) => p * d, 1);

/** Reduces axis with f over float64 values, keeping the axis (size 1). */
function reduceRef(x: Float64Array, shape: number[], axes: number[], f: (c: Counter, acc: number, v: number) => number, c = new Counter()): { out: Float64Array; shape: number[] } {
  let cur = x;
  let curShape = [...shape];
  for (const axis of axes) {
    const outShape = curShape.map((d, i) => (i === axis ? 1 : d));
    const out = new Float64Array(prod(outShape));
    for (let o = 0; o < out.length; o++) {
      const base = coords(o, outShape);
      let acc = NaN;
      for (let k = 0; k < curShape[axis]!; k++) {
        base[axis] = k;
        const v = cur[index(base, curShape)]!;
        acc = k === 0 ? v : f(c, acc, v);
      }
      out[o] = acc;
    }
    cur = out;
    curShape = outShape;
  }
  return { out: cur, shape: curShape };
}

describe('reductions', () => {
  const shape = [3, 5, 7, 2];
  for (const axes of [[0], [1], [3], [1, 2], [0, 1, 2, 3]]) {
    it(`sum and mean over ${JSON.stringify(axes)}: values and gradients`, async () => {
      await checkOp({ shapes: [shape], gpu: ([x]) => sum(x!, axes), reference: ([x]) => reduceRef(x!, shape, axes, (c, a, v) => c.add(a, v)).out });
      const n = axes.reduce((p, a) => p * shape[a]!, 1);
      await checkOp({ shapes: [shape], gpu: ([x]) => mean(x!, axes, true), reference: ([x]) => reduceRef(x!, shape, axes, (c, a, v) => c.add(a, v)).out.map((v) => v / n) });
    });
  }
  for (const axis of [0, 2, 3]) {
    it(`max over axis ${axis}: values and gradient to the maximum`, async () => {
      await checkOp({ shapes: [shape], gpu: ([x]) => max(x!, axis), reference: ([x]) => reduceRef(x!, shape, [axis], (c, a, v) => c.max(a, v)).out });
    });
  }
  it('declared counts equal the counted reference (n - 1 adds per output; mean adds one multiply)', async () => {
    const x = Tensor.zeros(shape);
    for (const op of ['sum', 'mean', 'max'] as const) {
      const { records } = await env.engine.ledger.capture(() => reduceAxis(op, x, 1));
      const c = new Counter();
      const ref = reduceRef(new Float64Array(prod(shape)), shape, [1], op === 'max' ? (k, a, v) => k.max(a, v) : (k, a, v) => k.add(a, v), c);
      if (op === 'mean') for (let i = 0; i < ref.out.length; i++) c.mul(1, 1);
      expect({ ...records[0]!.counts, bytesRead: 0, bytesWritten: 0 }).toEqual(c.c);
    }
  });
  // the tuner's candidates forced: runs of 2,048 (the rule: two passes), 512 (two) or 8,192 (one), or one pass
  // across a workgroup's 64 lanes or a subgroup's; over 3 rows of 5,000 (inner 1) and 5,000 rows of 3 (inner 3)
  for (const variant of ['chunk2048', 'chunk512', 'chunk8192', 'workgroup', 'subgroup'] as const) {
    it(`sum and mean over an axis of 5,000, ${variant}: its passes, the adds each lane and pass makes, values against float64`, async ({ skip }) => {
      const subgroup = env.engine.runtime.subgroupSize;
      if (variant === 'subgroup' && subgroup === undefined) skip(`no fixed-size subgroups on ${env.engine.runtime.adapterName}`);
      const lanes = variant === 'workgroup' ? 64 : variant === 'subgroup' ? subgroup! : 0;
      const passes = { chunk2048: 2, chunk512: 2, chunk8192: 1, workgroup: 1, subgroup: 1 }[variant];
      const n = 5000;
      for (const [shape, axis] of [[[3, n], 1], [[n, 3], 0]] as const) {
        const values = Float32Array.from({ length: 3 * n }, (_, i) => Math.sin(i * 0.37));
        for (const op of ['sum', 'mean'] as const) {
          const { result, records } = await env.engine.ledger.capture(() => withVariant('reduce', variant, () => reduceAxis(op, Tensor.from(values, [...shape]), axis)));
          expect(records.map((r) => r.kernel)).toEqual(Array(passes).fill(lanes ? `reduce:${op}-${variant}` : `reduce:${op}`));
          // n - 1 adds an output however the runs split it; across lanes each lane adds to a zero and the lanes meet
          expect(records.reduce((a, r) => a + r.counts.add, 0)).toBe(3 * (lanes ? n + lanes - 1 : n - 1));
          const expected = Array.from({ length: 3 }, (_, j) => {
            let acc = 0;
            for (let k = 0; k < n; k++) acc += axis === 1 ? values[j * n + k]! : values[k * 3 + j]!;
            return op === 'mean' ? acc / n : acc;
          });
          Array.from(await result.data()).forEach((v, j) => expect(Math.abs(v - expected[j]!)).toBeLessThan(1e-3));
        }
      }
    });
  }
  it('a row of 300,007 values (past the 65,535-iteration loop limit of llvmpipe) sums exactly', async () => {
    const n = 300_007;
    const values = new Float32Array(n).map((_, i) => ((i % 97) - 48) / 64);
    const total = values.reduce((s, v) => s + v, 0);
    expect(await sum(Tensor.from(values, [n])).item()).toBe(total);
  });
});

describe('layout ops', () => {
  // The last two keep their innermost axis, four values at a time (the patch regroup of a patch embedding).
  const permutes: [number[], number[]][] = [[[2, 3, 4, 5], [2, 0, 3, 1]], [[2, 3, 2, 8], [0, 2, 1, 3]], [[2, 2, 3, 2, 3, 4], [0, 1, 3, 2, 4, 5]]];
  for (const [shape, perm] of permutes) it(`permute ${JSON.stringify(shape)} by ${JSON.stringify(perm)} matches index arithmetic, gradient is the inverse permutation`, async () => {
    const outShape = perm.map((p) => shape[p]!);
    await checkOp({
      shapes: [shape],
      gpu: ([x]) => permute(x!, perm),
      reference: ([x]) => {
        const out = new Float64Array(x!.length);
        for (let o = 0; o < out.length; o++) {
          const c = coords(o, outShape);
          const src = new Array<number>(shape.length);
          perm.forEach((p, i) => (src[p] = c[i]!));
          out[o] = x![index(src, shape)]!;
        }
        return out;
      },
      forwardTol: [0, 0],
    });
  });
  it('transpose swaps the last two axes', async () => {
    const x = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
    expect([...(await transpose(x).data())]).toEqual([1, 4, 2, 5, 3, 6]);
  });
  it('slice and pad of rows of 8 (four values per invocation) are each other\'s gradients', async () => {
    const shape = [4, 6, 8];
    await checkOp({
      shapes: [shape],
      gpu: ([x]) => slice(x!, [1, 2, 0], [2, 3, -1]),
      reference: ([x]) => new Float64Array(2 * 3 * 8).map((_, o) => {
        const c = coords(o, [2, 3, 8]);
        return x![index([c[0]! + 1, c[1]! + 2, c[2]!], shape)]!;
      }),
      forwardTol: [0, 0],
    });
    await checkOp({
      shapes: [[2, 4]],
      gpu: ([x]) => pad(x!, [1, 0], [2, 0]),
      reference: ([x]) => new Float64Array(5 * 4).map((_, o) => {
        const [i, j] = coords(o, [5, 4]) as [number, number];
        return i >= 1 && i < 3 ? x![(i - 1) * 4 + j]! : 0;
      }),
      forwardTol: [0, 0],
    });
  });
  it('slice and pad are each other\'s gradients', async () => {
    const shape = [4, 6, 3];
    await checkOp({
      shapes: [shape],
      gpu: ([x]) => slice(x!, [1, 2, 0], [2, 3, -1]),
      reference: ([x]) => {
        const outShape = [2, 3, 3];
        return new Float64Array(prod(outShape)).map((_, o) => {
          const c = coords(o, outShape);
          return x![index([c[0]! + 1, c[1]! + 2, c[2]!], shape)]!;
        });
      },
      forwardTol: [0, 0],
    });
    await checkOp({
      shapes: [[2, 3]],
      gpu: ([x]) => pad(x!, [1, 0], [2, 3]),
      reference: ([x]) => {
        const outShape = [5, 6];
        return new Float64Array(30).map((_, o) => {
          const [i, j] = coords(o, outShape) as [number, number];
          return i >= 1 && i < 3 && j < 3 ? x![(i - 1) * 3 + j]! : 0;
        });
      },
      forwardTol: [0, 0],
    });
  });
  it('concat along a middle axis, gradient split back', async () => {
    await checkOp({
      shapes: [[2, 1, 3], [2, 4, 3]],
      gpu: ([a, b]) => concat([a!, b!], 1),
      reference: ([a, b]) => {
        const out = new Float64Array(2 * 5 * 3);
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 5; j++)
            for (let k = 0; k < 3; k++) out[(i * 5 + j) * 3 + k] = j < 1 ? a![i * 3 + k]! : b![(i * 4 + j - 1) * 3 + k]!;
        return out;
      },
      forwardTol: [0, 0],
    });
  });
  it('broadcastTo copies along new axes and sums the gradient back', async () => {
    await checkOp({
      shapes: [[3, 1]],
      gpu: ([x]) => broadcastTo(x!, [2, 3, 4]),
      reference: ([x]) => new Float64Array(24).map((_, o) => x![coords(o, [2, 3, 4])[1]!]!),
      forwardTol: [0, 0],
    });
  });
  it('rank-0 tensors: sum, broadcast and their gradients', async () => {
    await checkOp({ shapes: [[]], gpu: ([x]) => sum(x!), reference: ([x]) => x!, forwardTol: [0, 0] });
    await checkOp({ shapes: [[]], gpu: ([x]) => broadcastTo(x!, [3]), reference: ([x]) => new Float64Array(3).fill(x![0]!), forwardTol: [0, 0] });
  });

  it('reshape is a view with a gradient, and -1 infers a size', async () => {
    await checkOp({ shapes: [[4, 6]], gpu: ([x]) => reshape(x!, [3, -1]), reference: ([x]) => x!, forwardTol: [0, 0] });
    expect(() => reshape(Tensor.zeros([4, 6]), [5, 5])).toThrow(/cannot reshape \[4, 6\]/);
  });
});
