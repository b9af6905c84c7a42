// AdamW with decoupled weight decay: the parameters packed in one storage (models pack theirs when built), the
// moments and a gradient arena packed the same way, and one fused dispatch for all the parameters where every
// gradient was written into its place in the arena (else one per group of up to 16).
import { adamwArenaKernel, adamwArenaTable, adamwKernel, adamwTensorsPerDispatch, type AdamWArena, type AdamWSchedule, type AdamWTensor } from '../kernels/adamw.js';
import { engine, noGrad } from '../tensor/engine.js';
import { PACK_ALIGN, packedZeros, packTensors } from '../tensor/pack.js';
import { Tensor } from '../tensor/tensor.js';

export interface AdamWOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay per step. */
  weightDecay?: number;
  /**
   * false (the paper's TensorFlow Addons AdamW): p -= weightDecay * p, whatever the learning rate.
   * true (PyTorch / Loshchilov & Hutter): p -= lr * weightDecay * p, so the decay follows the schedule.
   */
  decayFollowsLr?: boolean;
  /**
   * Where epsilon goes. 'keras' (the paper's TensorFlow Addons AdamW, i.e. Keras' Adam update): the bias
   * corrections scale the learning rate, lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t), and
   * p -= lr_t * m / (sqrt(v) + eps). 'pytorch' (PyTorch, the Adam paper's Algorithm 1):
   * p -= lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t). The two
   * differ wherever sqrt(v) is not large against eps.
   */
  form?: AdamForm;
}

export type AdamForm = 'keras' | 'pytorch';
export const ADAM_FORMS: AdamForm[] = ['keras', 'pytorch'];

export class AdamW {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly decayFollowsLr: boolean;
  readonly form: AdamForm;
  step = 0;
  readonly moments = new Map<Tensor, { m: Tensor; v: Tensor }>();
  /** Each parameter's place for its gradient, packed as the parameters are. */
  private readonly gradients: Tensor[];
  private readonly arena: AdamWArena | undefined;
  /** What this step applies (set by advance()). */
  private current: AdamWSchedule = { lr: 0, c1: 1, c2: 1, decay: 0 };

  constructor(readonly params: readonly Tensor[], options: AdamWOptions = {}) {
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-7;
    this.weightDecay = options.weightDecay ?? 0;
    this.decayFollowsLr = options.decayFollowsLr ?? false;
    this.form = options.form ?? 'keras';
    // Parameters not packed together yet move into one storage (plans recorded before are dropped then); the
    // moments are packed at the same offsets. Allocated up front: the first step uses as much memory as any later.
    const layout = packTensors(params);
    const shapes = params.map((p) => p.shape);
    const [ms, vs] = [packedZeros(shapes, layout), packedZeros(shapes, layout)];
    params.forEach((p, i) => this.moments.set(p, { m: ms[i]!, v: vs[i]! }));
    // The gradient arena: each parameter's gradient has a place laid out as the parameter is, where the kernels
    // that make it write it (see ops/autograd.ts), so that one dispatch updates the whole model.
    this.gradients = packedZeros(shapes, layout);
    const eng = engine();
    params.forEach((p, i) => eng.gradientSlots.set(p, this.gradients[i]!));
    const span = (tensors: readonly Tensor[]) => Tensor.span(tensors, PACK_ALIGN);
    this.arena =
      params.length === 0
        ? undefined
        : {
            param: span(params).keep(),
            grads: span(this.gradients).keep(),
            m: span(ms).keep(),
            v: span(vs).keep(),
            table: adamwArenaTable(layout.offsets, params.map((p) => p.size), layout.total).keep(),
            sizes: params.map((p) => p.size),
          };
  }

  /** Whether every parameter's gradient is in its place in the gradient arena (then one dispatch updates all). */
  private gradientsInArena(): boolean {
    return this.params.every((p, i) => p.grad !== undefined && p.grad.sharesStorage(this.gradients[i]!) && p.grad.byteOffset === this.gradients[i]!.byteOffset);
  }

  /** Applies one update to every parameter that has a gradient, then frees the gradients. */
  update(): void {
    const eng = engine();
    const previous = eng.phase;
    eng.phase = 'optimizer';
    this.advance();
    // A replayed step counts its update and reads the learning rate of its own time.
    eng.runtime.onReplay(() => this.advance());
    try {
      noGrad(() => {
        const constants = { beta1: this.beta1, beta2: this.beta2, eps: this.eps };
        if (this.arena && this.gradientsInArena()) {
          adamwArenaKernel(this.arena, constants, () => this.current);
          return;
        }
        // some gradient elsewhere (summed over several backward passes, or a parameter without one): in groups
        const perDispatch = adamwTensorsPerDispatch();
        let group: AdamWTensor[] = [];
        const flush = () => {
          adamwKernel(group, constants, () => this.current);
          group = [];
        };
        for (const param of this.params) {
          if (!param.grad) continue;
          group.push({ param, grad: param.grad, ...this.moments.get(param)! });
          if (group.length === perDispatch) flush();
        }
        flush();
      });
      for (const p of this.params) {
        p.grad?.dispose();
        p.grad = undefined;
      }
    } finally {
      eng.phase = previous;
    }
  }

  /** Counts a step and sets what it applies: the learning rate, the bias corrections of m and v, the decay. */
  private advance(): void {
    this.step++;
    const [b1, b2] = [1 - this.beta1 ** this.step, 1 - this.beta2 ** this.step];
    const decay = this.decayFollowsLr ? this.lr * this.weightDecay : this.weightDecay;
    this.current =
      this.form === 'keras' ? { lr: (this.lr * Math.sqrt(b2)) / b1, c1: 1, c2: 1, decay } : { lr: this.lr, c1: 1 / b1, c2: 1 / b2, decay };
  }

  dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
    const eng = engine();
    this.params.forEach((p, i) => {
      if (eng.gradientSlots.get(p) === this.gradients[i]) eng.gradientSlots.delete(p);
    });
    for (const t of this.gradients) t.dispose();
    if (this.arena) for (const t of [this.arena.param, this.arena.grads, this.arena.m, this.arena.v, this.arena.table]) t.dispose();
  }
}
