// Batched complex FFT (Stockham radix-2). Complex tensors are float32 with a trailing axis of 2.
import { engine } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { launch, read, write } from './launch.js';

const twiddleTables = new Map<number, Float32Array>();

/** exp(-2 pi i t / n) for t < n/2, computed in float64. */
export function twiddleTable(n: number): Float32Array {
  let table = twiddleTables.get(n);
  if (!table) {
    table = new Float32Array(n);
    for (let t = 0; t < n / 2; t++) {
      table[2 * t] = Math.cos((-2 * Math.PI * t) / n);
      table[2 * t + 1] = Math.sin((-2 * Math.PI * t) / n);
    }
    twiddleTables.set(n, table);
  }
  return table;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 2 && (n & (n - 1)) === 0;
}

/** Batched complex FFT over the second-to-last axis of x [..., n, 2] (natural order in and out). */
export function fftKernel(x: Tensor, inverse = false): Tensor {
  const n = x.shape[x.rank - 2]!;
  if (x.shape[x.rank - 1] !== 2 || !isPowerOfTwo(n)) {
    throw new Error(`fft needs complex input [..., n, 2] with n a power of two, got [${x.shape.join(', ')}]`);
  }
  const transforms = x.size / (2 * n);
  const twiddles = engine().constant(`fft twiddles ${n}`, [n / 2, 2], () => twiddleTable(n));
  let src = x;
  const stages = Math.log2(n);
  const butterflies = transforms * (n / 2);
  for (let stage = 0; stage < stages; stage++) {
    const dst = Tensor.empty(x.shape);
    launch({
      kernel: {
        name: 'fft-stage',
        file: 'fft.wgsl',
        bindings: [read('twiddles', 'vec2f'), read('src', 'vec2f'), write('dst', 'vec2f')],
        uniforms: { n: 'u32', span: 'u32', inverse: 'u32' },
      },
      op: inverse ? 'ifft' : 'fft',
      uniforms: { n, span: 2 ** stage, inverse: inverse ? 1 : 0 },
      tensors: { twiddles, src, dst },
      invocations: butterflies,
      // a complex multiply (4 mul, 2 add) and a complex add and subtract (4 add) per butterfly
      counts: { mul: butterflies * (4 + (inverse ? 1 : 0)), add: butterflies * 6 },
    });
    if (src !== x) src.dispose();
    src = dst;
  }
  return src === x ? x.view(x.shape) : src;
}
