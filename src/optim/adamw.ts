// AdamW with decoupled weight decay, one fused kernel per parameter tensor.
import { adamwKernel } from '../kernels/adamw.js';
import { engine, noGrad } from '../tensor/engine.js';
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
}

export class AdamW {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly decayFollowsLr: boolean;
  step = 0;
  readonly moments = new Map<Tensor, { m: Tensor; v: Tensor }>();

  constructor(readonly params: readonly Tensor[], options: AdamWOptions = {}) {
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-7;
    this.weightDecay = options.weightDecay ?? 0;
    this.decayFollowsLr = options.decayFollowsLr ?? false;
    // Allocated up front so the first step already uses as much memory as every later one.
    for (const p of params) this.moments.set(p, { m: Tensor.zeros(p.shape).keep(), v: Tensor.zeros(p.shape).keep() });
  }

  /** Applies one update to every parameter that has a gradient, then frees the gradients. */
  update(): void {
    const eng = engine();
    const previous = eng.phase;
    eng.phase = 'optimizer';
    this.step++;
    try {
      noGrad(() => {
        for (const p of this.params) {
          if (!p.grad) continue;
          const { m, v } = this.moments.get(p)!;
          const decay = this.decayFollowsLr ? this.lr * this.weightDecay : this.weightDecay;
          adamwKernel(p, p.grad, m, v, { lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, decay, step: this.step });
          p.grad.dispose();
          p.grad = undefined;
        }
      });
    } finally {
      eng.phase = previous;
    }
  }

  dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
  }
}
