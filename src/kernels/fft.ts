// FFT, STFT framing/spectrum and bilinear resize kernels. Complex tensors are float32 with a trailing axis of 2.
import { Tensor } from '../tensor/tensor.js';
import { groups, launch, Uniforms, WG } from './launch.js';

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
  const twiddles = Tensor.from(twiddleTable(n), [n / 2, 2]);
  let src = x;
  const stages = Math.log2(n);
  const butterflies = transforms * (n / 2);
  for (let stage = 0; stage < stages; stage++) {
    const dst = Tensor.empty(x.shape);
    launch({
      spec: { name: 'fft-stage', file: 'fft.wgsl', constants: { WG }, buffers: ['read', 'read', 'write'], uniformBytes: 16 },
      op: inverse ? 'ifft' : 'fft',
      uniforms: new Uniforms(16).u32(n).u32(transforms).u32(2 ** stage).u32(inverse ? 1 : 0),
      inputs: [twiddles, src],
      outputs: [dst],
      workgroups: groups(butterflies),
      // a complex multiply (4 mul, 2 add) and a complex add and subtract (4 add) per butterfly
      counts: { mul: butterflies * (4 + (inverse ? 1 : 0)), add: butterflies * 6 },
    });
    if (src !== x) src.dispose();
    src = dst;
  }
  twiddles.dispose();
  return src === x ? x.view(x.shape) : src;
}

export interface FrameGeometry {
  clips: number;
  length: number;
  frames: number;
  hop: number;
  frameLength: number;
  fftLength: number;
}

function stftUniforms(g: FrameGeometry, bins: number): Uniforms {
  return new Uniforms(32).u32(g.clips).u32(g.length).u32(g.frames).u32(g.hop).u32(g.frameLength).u32(g.fftLength).u32(bins).u32(0);
}

/** signal [clips, length] -> windowed, zero-padded complex frames [clips, frames, fftLength, 2]. */
export function frameKernel(signal: Tensor, window: Tensor, g: FrameGeometry): Tensor {
  const out = Tensor.empty([g.clips, g.frames, g.fftLength, 2]);
  const n = g.clips * g.frames * g.fftLength;
  launch({
    spec: { name: 'stft-frame', file: 'stft.wgsl', constants: { WG, FRAME: true, SPECTRUM: false, MAGNITUDE: false }, buffers: ['read', 'read', 'write'], uniformBytes: 32 },
    op: 'stft-frame',
    uniforms: stftUniforms(g, 0),
    inputs: [signal, window],
    outputs: [out],
    workgroups: groups(n),
    counts: { mul: g.clips * g.frames * g.frameLength },
    bytesRead: g.clips * g.frames * g.frameLength * 8,
  });
  return out;
}

/** spectrum [clips, frames, fftLength, 2] -> [clips, frames, fftLength/2 + 1] magnitude or power. */
export function spectrumKernel(spectrum: Tensor, g: FrameGeometry, magnitude: boolean): Tensor {
  const bins = g.fftLength / 2 + 1;
  const out = Tensor.empty([g.clips, g.frames, bins]);
  const n = g.clips * g.frames * bins;
  launch({
    spec: { name: 'stft-spectrum', file: 'stft.wgsl', constants: { WG, FRAME: false, SPECTRUM: true, MAGNITUDE: magnitude }, buffers: ['read', 'write'], uniformBytes: 32 },
    op: magnitude ? 'magnitude' : 'power',
    uniforms: stftUniforms(g, bins),
    inputs: [spectrum],
    outputs: [out],
    workgroups: groups(n),
    counts: { mul: n, fma: n, sqrt: magnitude ? n : 0 },
    bytesRead: n * 8,
  });
  return out;
}

/** Bilinear resize of images [N, H, W] to [N, OH, OW], half-pixel centres, no antialiasing (TensorFlow's). */
export function resizeKernel(images: Tensor, outHeight: number, outWidth: number): Tensor {
  const [N, H, W] = images.shape as [number, number, number];
  const out = Tensor.empty([N, outHeight, outWidth]);
  launch({
    spec: { name: 'resize-bilinear', file: 'resize.wgsl', constants: { WG }, buffers: ['read', 'write'], uniformBytes: 32 },
    op: 'resize',
    uniforms: new Uniforms(32).u32(N).u32(H).u32(W).u32(outHeight).u32(outWidth).f32(H / outHeight).f32(W / outWidth).u32(0),
    inputs: [images],
    outputs: [out],
    workgroups: groups(out.size),
    // three linear interpolations (a subtract and an fma each) per output; coordinate arithmetic is not counted
    counts: { add: 3 * out.size, fma: 3 * out.size },
    bytesRead: 4 * out.size * 4,
  });
  return out;
}
