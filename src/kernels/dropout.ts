// Inverted dropout whose mask comes from a counter-based hash of (seed, index): reproducible, never stored.
import { Tensor } from '../tensor/tensor.js';
import { groups, launch, Uniforms, WG } from './launch.js';

export function dropoutKernel(x: Tensor, rate: number, seed: number, op = 'dropout'): Tensor {
  const y = Tensor.empty(x.shape);
  const threshold = Math.min(0xffffffff, Math.round(rate * 2 ** 32));
  launch({
    spec: { name: 'dropout', file: 'dropout.wgsl', constants: { WG }, buffers: ['read', 'write'], uniformBytes: 16 },
    op,
    uniforms: new Uniforms(16).u32(x.size).u32(seed).u32(threshold).f32(1 / (1 - rate)),
    inputs: [x],
    outputs: [y],
    workgroups: groups(x.size),
    counts: { cmp: x.size, mul: x.size },
  });
  return y;
}
