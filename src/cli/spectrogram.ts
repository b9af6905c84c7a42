// `tokenwave spectrogram FILE.wav --png OUT.png`: a picture of what the model sees.
import { resample } from '../audio/resample.js';
import { PAPER_SPECTROGRAM, spectrogram, validateSpectrogramConfig, type SpectrogramConfig, type SpectrumOutput, type WindowName } from '../audio/spectrogram.js';
import { readWav } from '../audio/wav.js';
import { init, shutdown } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { writeFileAtomic } from '../util/files.js';
import { spectrogramPng } from '../viz/spectrogram-image.js';
import { integerOption } from './errors.js';

export interface SpectrogramCommandOptions {
  png?: string;
  output: SpectrumOutput;
  melBins: string;
  frameLength: string;
  hop: string;
  fftLength: string;
  window: WindowName;
  sampleRate?: string;
  backend?: string;
}

export async function spectrogramCommand(file: string, options: SpectrogramCommandOptions): Promise<void> {
  const wav = await readWav(file);
  const targetRate = options.sampleRate ? integerOption('sample-rate', options.sampleRate)! : wav.sampleRate;
  const samples = targetRate === wav.sampleRate ? wav.samples : resample(wav.samples, wav.sampleRate, targetRate);
  const config: SpectrogramConfig = {
    ...PAPER_SPECTROGRAM,
    frameLength: integerOption('frame-length', options.frameLength)!,
    hop: integerOption('hop', options.hop)!,
    fftLength: integerOption('fft-length', options.fftLength)!,
    window: options.window,
    output: options.output,
    melBins: integerOption('mel-bins', options.melBins)!,
    sampleRate: targetRate,
  };
  validateSpectrogramConfig(config);
  if (samples.length < config.frameLength) {
    throw new Error(`${file}: ${samples.length} samples is shorter than one frame (${config.frameLength})`);
  }
  await init({ backend: options.backend });
  try {
    const out = spectrogram(Tensor.from(samples, [1, samples.length]), config);
    const [, frames, bins] = out.shape as [number, number, number];
    const png = spectrogramPng(await out.data(), frames, bins, { logarithmic: config.output === 'logmel' });
    const target = options.png ?? file.replace(/\.wav$/i, '') + '.png';
    await writeFileAtomic(target, png);
    console.log(
      `${file}: ${(samples.length / targetRate).toFixed(2)} s at ${targetRate} Hz -> ${frames} frames x ${bins} ${config.output} bins; wrote ${target}`,
    );
  } finally {
    shutdown();
  }
}
