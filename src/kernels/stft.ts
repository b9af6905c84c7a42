// The STFT's two ends around the FFT: framing (window, zero-pad) and the spectrum (magnitude or power).
import { Tensor } from '../tensor/tensor.js';
import { launch, read, write, type KernelSpec } from './launch.js';

export interface FrameGeometry {
  clips: number;
  length: number;
  frames: number;
  hop: number;
  frameLength: number;
  fftLength: number;
}

const STFT_UNIFORMS = { length: 'u32', frames: 'u32', hop: 'u32', frame_length: 'u32', n: 'u32', bins: 'u32' } as const;

function stftUniforms(g: FrameGeometry, bins: number) {
  return { length: g.length, frames: g.frames, hop: g.hop, frame_length: g.frameLength, n: g.fftLength, bins };
}

const stftSpec = (name: string, frame: boolean, magnitude: boolean, bindings: KernelSpec['bindings']): KernelSpec => ({
  name,
  file: 'stft.wgsl',
  constants: { FRAME: frame, SPECTRUM: !frame, MAGNITUDE: magnitude },
  bindings,
  uniforms: STFT_UNIFORMS,
});

/** signal [clips, length] -> windowed, zero-padded complex frames [clips, frames, fftLength, 2]. */
export function frameKernel(signal: Tensor, window: Tensor, g: FrameGeometry): Tensor {
  const frames = Tensor.empty([g.clips, g.frames, g.fftLength, 2]);
  launch({
    kernel: stftSpec('stft-frame', true, false, [read('signal'), read('window'), write('frames', 'vec2f')]),
    op: 'stft-frame',
    uniforms: stftUniforms(g, 0),
    tensors: { signal, window, frames },
    invocations: g.clips * g.frames * g.fftLength,
    counts: { mul: g.clips * g.frames * g.frameLength },
    bytesRead: g.clips * g.frames * g.frameLength * 8,
  });
  return frames;
}

/** spectrum [clips, frames, fftLength, 2] -> [clips, frames, fftLength/2 + 1] magnitude or power. */
export function spectrumKernel(spectrum: Tensor, g: FrameGeometry, magnitude: boolean): Tensor {
  const bins = g.fftLength / 2 + 1;
  const out = Tensor.empty([g.clips, g.frames, bins]);
  const n = g.clips * g.frames * bins;
  launch({
    kernel: stftSpec('stft-spectrum', false, magnitude, [read('spectrum', 'vec2f'), write('out')]),
    op: magnitude ? 'magnitude' : 'power',
    uniforms: stftUniforms(g, bins),
    tensors: { spectrum, out },
    invocations: n,
    counts: { mul: n, fma: n, sqrt: magnitude ? n : 0 },
    bytesRead: n * 8,
  });
  return out;
}
