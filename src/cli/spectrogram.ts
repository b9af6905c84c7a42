// `tokenwave spectrogram FILE.wav --png OUT.png [--svg OUT.svg]`: a picture of what the model sees, with axes in
// seconds and Hz (or mel bands, or cepstral coefficients) and a dB (or coefficient) colour bar.
import { basename } from 'node:path';
import { Command, Option } from 'commander';
import { resample } from '../audio/resample.js';
import { frameCount, longSpectrogram, PAPER_SPECTROGRAM, SPECTRUM_OUTPUTS, validateSpectrogramConfig, WINDOWS, type SpectrogramConfig, type SpectrumOutput, type WindowName } from '../audio/spectrogram.js';
import { WavError } from '../audio/wav.js';
import { readWav } from '../audio/wav-files.js';
import { init, shutdown } from '../tensor/engine.js';
import { writeFileAtomic } from '../util/files.js';
import { spectrogramSvg } from '../audio/picture.js';
import { svgToPng } from '../viz/render.js';
import { backendOption, integerOption, UsageError } from './options.js';

/** Longer files are refused: 100,000 frames are 13 minutes at 16 kHz with the paper's hop, a pixel column each 130. */
const MAX_PICTURE_FRAMES = 100_000;

interface SpectrogramCommandOptions {
  png?: string;
  svg?: string;
  output: SpectrumOutput;
  melBins: string;
  mfccs: string;
  frameLength: string;
  hop: string;
  fftLength: string;
  window: WindowName;
  sampleRate?: string;
  backend?: string;
}

async function spectrogramAction(file: string, options: SpectrogramCommandOptions): Promise<void> {
  const requestedRate = integerOption('sample-rate', options.sampleRate, 1000, 768_000);
  const frameLength = integerOption('frame-length', options.frameLength, 1, 65_536)!;
  const hop = integerOption('hop', options.hop, 1, 65_536)!;
  const fftLength = integerOption('fft-length', options.fftLength, 2, 65_536)!;
  const melBins = integerOption('mel-bins', options.melBins, 1, 4096)!;
  const mfccs = integerOption('mfccs', options.mfccs, 1, melBins)!;
  const wav = await readWav(file);
  const targetRate = requestedRate ?? wav.sampleRate;
  const config: SpectrogramConfig = { ...PAPER_SPECTROGRAM, frameLength, hop, fftLength, window: options.window, output: options.output, melBins, mfccs, sampleRate: targetRate };
  validateSpectrogramConfig(config);
  const frames = frameCount(Math.round((wav.samples.length * targetRate) / wav.sampleRate), config);
  if (frames < 1) throw new WavError(file, `${wav.samples.length} samples is shorter than one frame (${config.frameLength})`);
  if (frames > MAX_PICTURE_FRAMES) {
    throw new UsageError(`${file}: ${frames} frames is more than one picture shows (at most ${MAX_PICTURE_FRAMES}); cut the file, or use a larger --hop`);
  }
  const samples = targetRate === wav.sampleRate ? wav.samples : resample(wav.samples, wav.sampleRate, targetRate);
  await init({ backend: options.backend });
  try {
    const { values, bins } = await longSpectrogram(samples, config);
    const svg = spectrogramSvg(values, frames, bins, config, basename(file));
    const png = options.png ?? (options.svg ? undefined : file.replace(/\.wav$/i, '') + '.png');
    if (png) await writeFileAtomic(png, svgToPng(svg));
    if (options.svg) await writeFileAtomic(options.svg, svg);
    console.log(
      `${file}: ${(samples.length / targetRate).toFixed(2)} s at ${targetRate} Hz -> ${frames} frames x ${bins} ${config.output} bins; wrote ${[png, options.svg].filter(Boolean).join(' and ')}`,
    );
  } finally {
    shutdown();
  }
}

export const spectrogramCommand = new Command('spectrogram')
  .description("compute a WAV file's spectrogram on the GPU and draw it: time (s) across, frequency (Hz, or mel bands) up, dB below the loudest as colour")
  .argument('<file>', 'a WAV file')
  .option('--png <path>', 'where to write the picture as PNG (default: FILE with .png, unless only --svg is given)')
  .option('--svg <path>', 'also (or only) write it as SVG')
  .addOption(new Option('--output <kind>', 'spectrum values').choices(SPECTRUM_OUTPUTS).default('magnitude'))
  .option('--mel-bins <n>', 'mel bands for --output logmel and mfcc', '64')
  .option('--mfccs <n>', 'cepstral coefficients for --output mfcc (at most --mel-bins)', String(PAPER_SPECTROGRAM.mfccs))
  .option('--frame-length <n>', 'samples per frame', String(PAPER_SPECTROGRAM.frameLength))
  .option('--hop <n>', 'samples between frame starts', String(PAPER_SPECTROGRAM.hop))
  .option('--fft-length <n>', 'FFT size, a power of two >= frame length', String(PAPER_SPECTROGRAM.fftLength))
  .addOption(
    new Option('--window <name>', "window; 'hann-tf' is TensorFlow's (symmetric for odd lengths)")
      .choices(WINDOWS)
      .default('hann-tf'),
  )
  .option('--sample-rate <hz>', "resample (band-limited) to this rate first (default: keep the file's rate)")
  .addOption(backendOption())
  .action(spectrogramAction);
