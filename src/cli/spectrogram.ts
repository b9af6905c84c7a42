// `tokenwave spectrogram FILE.wav --png OUT.png`: a picture of what the model sees.
import { Command, Option } from 'commander';
import { resample } from '../audio/resample.js';
import { PAPER_SPECTROGRAM, spectrogram, validateSpectrogramConfig, type SpectrogramConfig, type SpectrumOutput, type WindowName } from '../audio/spectrogram.js';
import { readWav, WavError } from '../audio/wav.js';
import { init, shutdown } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { writeFileAtomic } from '../util/files.js';
import { spectrogramPng } from '../viz/spectrogram-image.js';
import { backendOption, integerOption } from './options.js';

interface SpectrogramCommandOptions {
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

async function spectrogramAction(file: string, options: SpectrogramCommandOptions): Promise<void> {
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
    throw new WavError(file, `${samples.length} samples is shorter than one frame (${config.frameLength})`);
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

export const spectrogramCommand = new Command('spectrogram')
  .description("compute a WAV file's spectrogram on the GPU and write it as a picture (time across, frequency up)")
  .argument('<file>', 'a WAV file')
  .option('--png <path>', 'where to write the picture (default: FILE with .png)')
  .addOption(new Option('--output <kind>', 'spectrum values').choices(['magnitude', 'power', 'logmel']).default('magnitude'))
  .option('--mel-bins <n>', 'mel bands for --output logmel', '64')
  .option('--frame-length <n>', 'samples per frame', String(PAPER_SPECTROGRAM.frameLength))
  .option('--hop <n>', 'samples between frame starts', String(PAPER_SPECTROGRAM.hop))
  .option('--fft-length <n>', 'FFT size, a power of two >= frame length', String(PAPER_SPECTROGRAM.fftLength))
  .addOption(
    new Option('--window <name>', "window; 'hann-tf' is TensorFlow's (symmetric for odd lengths)")
      .choices(['hann-tf', 'hann-periodic', 'hann-symmetric', 'hamming', 'rectangular'])
      .default('hann-tf'),
  )
  .option('--sample-rate <hz>', "resample (band-limited) to this rate first (default: keep the file's rate)")
  .addOption(backendOption())
  .action(spectrogramAction);
