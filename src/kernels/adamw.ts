// The fused AdamW update over packed parameters (tensor/pack.ts), in place on the parameters and their moments:
// p = p - lr * (m c1) / (sqrt(v c2) + eps) - decay * p, which gives Keras' form (c1 = c2 = 1, the corrections in lr)
// or PyTorch's (c1, c2 the bias corrections) from the same kernel. One dispatch updates up to ADAMW_TENSORS
// parameters (as many gradients as the device lets one kernel bind), so a model's step is a handful of dispatches.
import type { KernelSpec } from '../runtime/kernel.js';
import { engine } from '../tensor/engine.js';
import { PACK_ALIGN } from '../tensor/pack.js';
import { Tensor } from '../tensor/tensor.js';
import { launch, read, write } from './launch.js';

export interface AdamWConstants {
  beta1: number;
  beta2: number;
  eps: number;
}

/** What changes from step to step. */
export interface AdamWSchedule {
  lr: number;
  /** Decoupled weight decay applied this step (p -= decay * p). */
  decay: number;
  /** Factors applied to m and v before the update: the bias corrections (or 1, where the learning rate holds them). */
  c1: number;
  c2: number;
}

/** The most tensors one dispatch updates: its uniforms hold 16 starts and sizes. */
export const ADAMW_TENSORS = 16;

/** One parameter's part of an update: the parameter, its gradient and its moments, each packed like the others. */
export interface AdamWTensor {
  param: Tensor;
  grad: Tensor;
  m: Tensor;
  v: Tensor;
}

/** How many tensors one dispatch takes on this device: the gradients beside param, m and v. */
export function adamwTensorsPerDispatch(): number {
  return Math.min(ADAMW_TENSORS, engine().runtime.device.limits.maxStorageBuffersPerShaderStage - 3);
}

const SCHEDULE_UNIFORMS = {
  lr: 'f32', beta1: 'f32', beta2: 'f32', one_minus_beta1: 'f32', one_minus_beta2: 'f32', eps: 'f32', decay: 'f32', c1: 'f32', c2: 'f32',
} as const;

const specs = new Map<number, KernelSpec>();

function adamwSpec(tensors: number): KernelSpec {
  let spec = specs.get(tensors);
  if (!spec) {
    const grads = Array.from({ length: tensors }, (_, s) => `g${s}`);
    spec = {
      name: 'adamw',
      file: 'adamw.wgsl',
      constants: {
        ARENA: false,
        ARENA_BLOCK: PACK_ALIGN,
        // constant indices into the uniforms: a dynamic index into a uniform array is slow on llvmpipe
        FIND_TENSOR: Array.from({ length: tensors - 1 }, (_, k) => {
          const t = k + 1;
          const at = (name: string) => `u.${name}_${t < 8 ? 'lo' : 'hi'}[${(t % 8) >> 2}][${t % 4}]`;
          return `if (i >= ${at('starts')}) { s = ${t}u; start = ${at('starts')}; size = ${at('sizes')}; }`;
        }).join(' '),
        READ_GRADIENT: grads.map((g, s) => `case ${s}u: { for (var c = 0u; c < lanes; c++) { g[c] = ${g}[j + c]; } }`).join(' '),
      },
      bindings: [write('param', 'vec4f'), write('m', 'vec4f'), write('v', 'vec4f'), ...grads.map((g) => read(g))],
      uniforms: { ...SCHEDULE_UNIFORMS, starts_lo: 'vec8u', starts_hi: 'vec8u', sizes_lo: 'vec8u', sizes_hi: 'vec8u' },
    };
    specs.set(tensors, spec);
  }
  return spec;
}

/**
 * Updates `tensors` in one dispatch. Their parameters share one packed storage, in ascending order, as do their m
 * and their v, each at the same offsets; at most adamwTensorsPerDispatch() of them. `schedule` is read at the
 * dispatch and again at every replay of a recorded step.
 */
export function adamwKernel(tensors: readonly AdamWTensor[], k: AdamWConstants, schedule: () => AdamWSchedule): void {
  if (tensors.length === 0) return;
  if (tensors.length > adamwTensorsPerDispatch()) throw new Error(`adamw: ${tensors.length} tensors in one dispatch, at most ${adamwTensorsPerDispatch()} on this device`);
  const span = (pick: (t: AdamWTensor) => Tensor) => Tensor.span(tensors.map(pick), PACK_ALIGN);
  const [param, m, v] = [span((t) => t.param), span((t) => t.m), span((t) => t.v)];
  const base = tensors[0]!.param.byteOffset / 4;
  const starts = tensors.map((t) => t.param.byteOffset / 4 - base);
  const sizes = tensors.map((t) => t.param.size);
  const eight = (values: number[], from: number) => Array.from({ length: 8 }, (_, i) => values[from + i] ?? 0);
  const grads: Record<string, Tensor> = {};
  tensors.forEach((t, s) => {
    if (t.grad.size !== t.param.size) throw new Error(`adamw: gradient [${t.grad.shape.join(', ')}] for parameter [${t.param.shape.join(', ')}]`);
    grads[`g${s}`] = t.grad;
  });
  try {
    launch({
      kernel: adamwSpec(tensors.length),
      op: 'adamw',
      uniforms: {
        ...constantUniforms(k),
        starts_lo: eight(starts, 0), starts_hi: eight(starts, 8), sizes_lo: eight(sizes, 0), sizes_hi: eight(sizes, 8),
      },
      replayUniforms: scheduleUniforms(schedule),
      tensors: { param, m, v, ...grads },
      invocations: param.size / 4,
      ...updateCost(sizes),
    });
  } finally {
    for (const t of [param, m, v]) t.dispose();
  }
}

const constantUniforms = (k: AdamWConstants) => ({ beta1: k.beta1, beta2: k.beta2, one_minus_beta1: 1 - k.beta1, one_minus_beta2: 1 - k.beta2, eps: k.eps });

const scheduleUniforms = (schedule: () => AdamWSchedule) => () => {
  const s = schedule();
  return { lr: s.lr, decay: s.decay, c1: s.c1, c2: s.c2 };
};

/** What updating tensors of `sizes` costs, either kernel. */
function updateCost(sizes: readonly number[]) {
  const n = sizes.reduce((a, b) => a + b, 0);
  // the lanes computed: each tensor in whole groups of four (its last group's padding lanes compute on zeros)
  const lanes = sizes.reduce((a, b) => a + Math.ceil(b / 4) * 4, 0);
  return {
    // per lane: (1-b1) g, g g, (1-b2) g^2, m c1, v c2, lr u, decay p: 7 mul; 2 fma; 3 add/sub; 1 sqrt; 1 div
    // (groups of four wholly in the alignment padding are skipped: no arithmetic, no traffic)
    counts: { mul: 7 * lanes, fma: 2 * lanes, add: 3 * lanes, sqrt: lanes, div: lanes },
    bytesRead: 4 * (n + 3 * lanes),
    bytesWritten: 3 * lanes * 4,
  };
}

/**
 * An optimizer's state packed alike in four storages: the parameters, their gradients (the gradient arena: each
 * parameter's gradient at its parameter's offset), m and v, and where the tensors lie in them.
 */
export interface AdamWArena {
  param: Tensor;
  grads: Tensor;
  m: Tensor;
  v: Tensor;
  /** adamwArenaTable()'s. */
  table: Tensor;
  sizes: readonly number[];
}

/**
 * The arena kernel's table for tensors at `starts` (multiples of PACK_ALIGN) with `sizes`, in an arena of `total`
 * elements: for each block of PACK_ALIGN elements the tensor it belongs to, then the starts, then the sizes.
 */
export function adamwArenaTable(starts: readonly number[], sizes: readonly number[], total: number): Tensor {
  const blocks = Math.ceil(total / PACK_ALIGN);
  const owner = new Int32Array(blocks);
  starts.forEach((start, t) => owner.fill(t, start / PACK_ALIGN, blocks));
  return Tensor.from([...owner, ...starts, ...sizes], [blocks + 2 * starts.length], 'i32');
}

const ARENA_SPEC: KernelSpec = {
  name: 'adamw',
  file: 'adamw.wgsl',
  constants: { ARENA: true, ARENA_BLOCK: PACK_ALIGN, FIND_TENSOR: '', READ_GRADIENT: '' },
  bindings: [write('param', 'vec4f'), write('m', 'vec4f'), write('v', 'vec4f'), read('grads', 'vec4f'), read('table', 'i32')],
  uniforms: { ...SCHEDULE_UNIFORMS, tensors: 'u32', blocks: 'u32' },
};

/** Updates every tensor of the arena in one dispatch (each gradient read from its place in the gradient arena). */
export function adamwArenaKernel(arena: AdamWArena, k: AdamWConstants, schedule: () => AdamWSchedule): void {
  launch({
    kernel: ARENA_SPEC,
    op: 'adamw',
    uniforms: { ...constantUniforms(k), tensors: arena.sizes.length, blocks: arena.table.size - 2 * arena.sizes.length },
    replayUniforms: scheduleUniforms(schedule),
    tensors: { param: arena.param, m: arena.m, v: arena.v, grads: arena.grads, table: arena.table },
    invocations: arena.param.size / 4,
    ...updateCost(arena.sizes),
  });
}
