// Reductions over one axis: sum, mean and max, and the gradient of max.
import { engine } from '../tensor/engine.js';
import { stridesOf, Tensor, type Shape } from '../tensor/tensor.js';
import { laneCandidates, laneLayout, type LaneLayout, type LaneVariant } from './lanes.js';
import { launch, read, write } from './launch.js';
import { benchOnScratch, choose, type Family } from './tuner.js';

export type ReduceOp = 'sum' | 'mean' | 'max';

/** Views a shape as [outer, n, inner] around `axis`. */
function aroundAxis(shape: readonly number[], axis: number): { outer: number; n: number; inner: number } {
  const n = shape[axis]!;
  const inner = stridesOf(shape)[axis]!;
  const outer = shape.slice(0, axis).reduce((p, d) => p * d, 1);
  return { outer, n, inner };
}

/** Longest run one invocation reduces, by candidate: the rule's 2,048, or 512 (more invocations and partial
 * results, another pass sooner) or 8,192; all well under llvmpipe's 65,535-iteration loop limit. */
const REDUCE_CHUNKS: Record<string, number> = { chunk2048: 2048, chunk512: 512, chunk8192: 8192 };

interface ReduceProblem {
  op: ReduceOp;
  outer: number;
  n: number;
  inner: number;
  subgroupSize: number | undefined;
}

/** A lane's longest loop in the lane variants, well under llvmpipe's 65,535 iterations. */
const LANE_RUN = 32_768;

/** Values an output needs before its lanes each get a few of them. */
const LANE_MIN_N = 256;

/** Sums and means of long enough runs may also spread each output's values over a workgroup's or a subgroup's
 * lanes, in one pass. */
function laneVariants(p: ReduceProblem): Exclude<LaneVariant, 'row'>[] {
  if (p.op === 'max' || p.n < LANE_MIN_N) return [];
  const fits = (v: Exclude<LaneVariant, 'row'>) => Math.ceil(p.n / laneLayout(v, p.outer * p.inner, p.n, p.subgroupSize).lanes) <= LANE_RUN;
  return laneCandidates(p.subgroupSize).filter((v): v is Exclude<LaneVariant, 'row'> => v !== 'row' && fits(v));
}

const REDUCE_FAMILY: Family<ReduceProblem> = {
  name: 'reduce',
  key: (p) => `${p.op} ${p.outer}x${p.n}x${p.inner}`,
  // the chunk matters only to axes longer than the shortest
  candidates: (p) => [...(p.n > Math.min(...Object.values(REDUCE_CHUNKS)) ? Object.keys(REDUCE_CHUNKS) : ['chunk2048']), ...laneVariants(p)],
  rule: () => 'chunk2048',
};

/** A sum or mean in one pass across lanes: each output's values spread over them, the lanes' parts then added. */
function reduceAcrossLanes(op: ReduceOp, x: Tensor, outer: number, n: number, inner: number, variant: Exclude<LaneVariant, 'row'>, layout: LaneLayout, into?: Tensor): Tensor {
  const outputs = outer * inner;
  const out = into ?? Tensor.empty([outer, 1, inner]);
  const scale = op === 'mean' ? 1 / n : undefined;
  launch({
    kernel: {
      name: `reduce:${op}-${variant}`,
      file: 'reduce.wgsl',
      constants: { MAX: false, SCALE: scale !== undefined, LANES: true, LANES_WORKGROUP: variant === 'workgroup', LANES_SUBGROUP: variant === 'subgroup', ...layout.constants },
      bindings: [read('src'), write('dst')],
      uniforms: { n: 'u32', inner: 'u32', chunk: 'u32', parts: 'u32', scale: 'f32', rows: 'u32' },
      ...layout.spec,
    },
    op,
    uniforms: { n, inner, chunk: n, parts: 1, scale: scale ?? 1, rows: outputs },
    tensors: { src: x, dst: out },
    ...layout.work,
    // every lane adds its values to a zero, then the lanes' parts meet (lanes - 1 adds)
    counts: { add: outputs * (n + layout.lanes - 1), mul: scale !== undefined ? outputs : 0 },
  });
  return out;
}

function reducePass(op: ReduceOp, x: Tensor, outer: number, n: number, inner: number, longest: number, scale?: number, into?: Tensor): Tensor {
  const chunk = Math.min(n, longest);
  const parts = Math.ceil(n / chunk);
  const out = into ?? Tensor.empty([outer, parts, inner]);
  const outputs = outer * parts * inner;
  launch({
    kernel: {
      name: `reduce:${op}`,
      file: 'reduce.wgsl',
      constants: { MAX: op === 'max', SCALE: scale !== undefined, LANES: false, LANES_WORKGROUP: false, LANES_SUBGROUP: false, ROWS_PER_GROUP: 1 },
      bindings: [read('src'), write('dst')],
      uniforms: { n: 'u32', inner: 'u32', chunk: 'u32', parts: 'u32', scale: 'f32', rows: 'u32' },
    },
    op,
    uniforms: { n, inner, chunk, parts, scale: scale ?? 1, rows: outputs },
    tensors: { src: x, dst: out },
    invocations: outputs,
    // Each output folds its run of values with one fewer operation than the run is long.
    counts: op === 'max' ? { cmp: outer * inner * (n - parts) } : { add: outer * inner * (n - parts), mul: scale !== undefined ? outputs : 0 },
  });
  return out;
}

/**
 * Reduces `axis` of x; the output keeps the axis with size 1. Long axes take several passes. `into`: the tensor
 * the last pass writes (of the output's size, e.g. a parameter's place in a gradient arena), returned as it is.
 */
export function reduceAxis(op: ReduceOp, x: Tensor, axis: number, into?: Tensor): Tensor {
  const { outer, n, inner } = aroundAxis(x.shape, axis);
  if (n === 0) throw new Error(`cannot ${op} over an empty axis ${axis} of [${x.shape.join(', ')}]`);
  if (into && into.size !== outer * inner) throw new Error(`reduce: the output [${into.shape.join(', ')}] does not hold ${outer * inner} values`);
  const subgroupSize = engine().runtime.subgroupSize;
  const variant = choose(REDUCE_FAMILY, { op, outer, n, inner, subgroupSize }, () => benchOnScratch([x], ([s]) => void reduceAxis(op, s!, axis)));
  if (variant === 'workgroup' || variant === 'subgroup') {
    const out = reduceAcrossLanes(op, x, outer, n, inner, variant, laneLayout(variant, outer * inner, n, subgroupSize), into);
    return into ?? out.intoShape(x.shape.map((d, i) => (i === axis ? 1 : d)));
  }
  const longest = REDUCE_CHUNKS[variant]!;
  let current = x;
  let length = n;
  while (length > longest) {
    const partial = reducePass(op, current, outer, length, inner, longest);
    if (current !== x) current.dispose();
    current = partial;
    length = partial.shape[1]!;
  }
  const last = reducePass(op, current, outer, length, inner, longest, op === 'mean' ? 1 / n : undefined, into);
  if (current !== x) current.dispose();
  return into ?? last.intoShape(x.shape.map((d, i) => (i === axis ? 1 : d)));
}

/**
 * Where a kernel that splits its work writes its `splits` slabs of `shape` for sumSlabs: a tensor of its own, or
 * with a single slab `into` itself (then no sum is needed).
 */
export function slabs(splits: number, shape: Shape, into?: Tensor): Tensor {
  return splits === 1 && into ? into : Tensor.empty([splits, ...shape]);
}

/** Sums the slabs that a split kernel wrote along the first axis of `partial` into one tensor of `shape`, or into
 * `into` (`partial` is consumed; a single slab already in `into` is `into`). */
export function sumSlabs(partial: Tensor, shape: Shape, into?: Tensor): Tensor {
  if (into && partial === into) return into;
  if (!into && partial.shape[0] === 1) return partial.intoShape(shape);
  const summed = reduceAxis('sum', partial, 0, into);
  partial.dispose();
  return into ?? summed.intoShape(shape);
}

export function maxAxisGrad(x: Tensor, y: Tensor, dy: Tensor, axis: number): Tensor {
  const { outer, n, inner } = aroundAxis(x.shape, axis);
  if (n > 65_535) throw new Error(`max over an axis of ${n} values is not supported (at most 65,535)`);
  const dx = Tensor.empty(x.shape);
  launch({
    kernel: {
      name: 'reduce-grad:max',
      file: 'reduce_max_grad.wgsl',
      bindings: [read('xs'), read('ys'), read('dys'), write('dxs')],
      uniforms: { n: 'u32', inner: 'u32' },
    },
    op: 'max-grad',
    uniforms: { n, inner },
    tensors: { xs: x, ys: y, dys: dy, dxs: dx },
    invocations: outer * inner,
    counts: { cmp: n * outer * inner },
  });
  return dx;
}
