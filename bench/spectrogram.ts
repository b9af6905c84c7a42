// Spectrograms per second for batches of 1 s clips: the GPU front end against plain TypeScript on the CPU.
import { PAPER_SPECTROGRAM, spectrogram, windowCoefficients } from '../src/audio/spectrogram.js';
import { engine, tidy } from '../src/tensor/engine.js';
import { Tensor } from '../src/tensor/tensor.js';
import { randomMatrix, timeRepeated } from './matmul.js';

/** The paper preset on the CPU: frame, window, zero-pad, iterative radix-2 FFT, magnitude (float64). */
export function cpuSpectrogram(signal: Float32Array, out: Float32Array): void {
  const { frameLength, hop, fftLength: n } = PAPER_SPECTROGRAM;
  const window = windowCoefficients('hann-tf', frameLength);
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  const bins = n / 2 + 1;
  const frames = 1 + Math.floor((signal.length - frameLength) / hop);
  const bits = Math.log2(n);
  for (let f = 0; f < frames; f++) {
    im.fill(0);
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      re[r] = i < frameLength ? signal[f * hop + i]! * window[i]! : 0;
    }
    for (let size = 2; size <= n; size *= 2) {
      const step = (-2 * Math.PI) / size;
      for (let start = 0; start < n; start += size) {
        for (let k = 0; k < size / 2; k++) {
          const [wr, wi] = [Math.cos(step * k), Math.sin(step * k)];
          const [a, b] = [start + k, start + k + size / 2];
          const tr = re[b]! * wr - im[b]! * wi;
          const ti = re[b]! * wi + im[b]! * wr;
          [re[b], im[b]] = [re[a]! - tr, im[a]! - ti];
          [re[a], im[a]] = [re[a]! + tr, im[a]! + ti];
        }
      }
    }
    for (let k = 0; k < bins; k++) out[f * bins + k] = Math.hypot(re[k]!, im[k]!);
  }
}

export async function spectrogramThroughput(clips: number): Promise<{ gpu: number; cpu: number }> {
  const signals = randomMatrix(clips, 16000, 7);
  const input = Tensor.from(signals, [clips, 16000]).keep();
  const runtime = engine().runtime;
  const gpuSeconds = await timeRepeated(() => tidy(() => void spectrogram(input)), () => runtime.sync());
  input.dispose();
  const out = new Float32Array(124 * 129);
  const cpuSeconds = await timeRepeated(
    () => {
      for (let c = 0; c < clips; c++) cpuSpectrogram(signals.subarray(c * 16000, (c + 1) * 16000), out);
    },
    async () => {},
  );
  return { gpu: clips / gpuSeconds, cpu: clips / cpuSeconds };
}
