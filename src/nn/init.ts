// Keras-style initialisers: Glorot-uniform kernels, zero biases.
import { Tensor, sizeOf, type Shape } from '../tensor/tensor.js';

/** A trainable tensor: requires a gradient and outlives tidy scopes. */
export function parameter(values: ArrayLike<number>, shape: Shape): Tensor {
  const t = Tensor.from(values, shape).keep();
  t.requiresGrad = true;
  return t;
}

/** Glorot (Xavier) uniform: U(-limit, limit), limit = sqrt(6 / (fanIn + fanOut)). */
export function glorotUniform(shape: Shape, fanIn: number, fanOut: number, random: () => number): Tensor {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const values = new Float32Array(sizeOf(shape));
  for (let i = 0; i < values.length; i++) values[i] = (2 * random() - 1) * limit;
  return parameter(values, shape);
}

/** U(-limit, limit), Keras' Embedding default with limit 0.05. */
export function uniformParameter(shape: Shape, limit: number, random: () => number): Tensor {
  return parameter(Float32Array.from({ length: sizeOf(shape) }, () => (random() * 2 - 1) * limit), shape);
}

export function zerosParameter(shape: Shape): Tensor {
  return parameter(new Float32Array(sizeOf(shape)), shape);
}

export function onesParameter(shape: Shape): Tensor {
  return parameter(new Float32Array(sizeOf(shape)).fill(1), shape);
}
