// The fused AdamW update of one parameter tensor (in place on the parameter and its moments).
import type { Tensor } from '../tensor/tensor.js';
import { groups, launch, Uniforms, WG } from './launch.js';

export interface AdamWStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay applied per step (p -= decay * p). */
  decay: number;
  /** 1-based step number, for the bias corrections. */
  step: number;
}

export function adamwKernel(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, s: AdamWStep): void {
  const n = param.size;
  const uniforms = new Uniforms(48)
    .u32(n)
    .f32(s.lr)
    .f32(s.beta1)
    .f32(s.beta2)
    .f32(1 - s.beta1)
    .f32(1 - s.beta2)
    .f32(s.eps)
    .f32(s.decay)
    .f32(1 / (1 - s.beta1 ** s.step))
    .f32(1 / (1 - s.beta2 ** s.step))
    .u32(0)
    .u32(0);
  launch({
    spec: { name: 'adamw', file: 'adamw.wgsl', constants: { WG }, buffers: ['read', 'write', 'write', 'write'], uniformBytes: 48 },
    op: 'adamw',
    uniforms,
    inputs: [grad],
    outputs: [param, m, v],
    workgroups: groups(n),
    // per element: (1-b1) g, g g, (1-b2) g^2, m c1, v c2, lr u, decay p: 7 mul; 2 fma; 3 add/sub; 1 sqrt; 1 div
    counts: { mul: 7 * n, fma: 2 * n, add: 3 * n, sqrt: n, div: n },
    bytesRead: 4 * n * 4,
  });
}
