// The tokenwave command line. Every command takes --backend; errors print one clear message, not a stack trace
// (TOKENWAVE_DEBUG=1 shows the stack).
import { Command, Option } from 'commander';
import { BACKENDS, NoAdapterError } from '../runtime/adapter.js';
import { doctor } from './doctor.js';
import { spectrogramCommand, type SpectrogramCommandOptions } from './spectrogram.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

function backendOption(): Option {
  return new Option('--backend <name>', 'force a WebGPU backend (default: TOKENWAVE_BACKEND, else automatic)').choices(
    [...BACKENDS],
  );
}

const program = new Command()
  .name('tokenwave')
  .description('WebGPU engine that trains and measures audio transformers with TokenLearner')
  .showHelpAfterError();

program
  .command('doctor')
  .description('show the WebGPU adapter, its limits and features, and run a self-test kernel against the CPU')
  .addOption(backendOption())
  .option('--json', 'print the report as JSON')
  .action(async (opts: { backend?: string; json?: boolean }) => {
    process.exitCode = await doctor(opts);
  });

program
  .command('spectrogram')
  .description("compute a WAV file's spectrogram on the GPU and write it as a picture (time across, frequency up)")
  .argument('<file>', 'a WAV file')
  .option('--png <path>', 'where to write the picture (default: FILE with .png)')
  .addOption(new Option('--output <kind>', 'spectrum values').choices(['magnitude', 'power', 'logmel']).default('magnitude'))
  .option('--mel-bins <n>', 'mel bands for --output logmel', '64')
  .option('--frame-length <n>', 'samples per frame', String(255))
  .option('--hop <n>', 'samples between frame starts', String(128))
  .option('--fft-length <n>', 'FFT size, a power of two >= frame length', String(256))
  .addOption(
    new Option('--window <name>', "window; 'hann-tf' is TensorFlow's (symmetric for odd lengths)")
      .choices(['hann-tf', 'hann-periodic', 'hann-symmetric', 'hamming', 'rectangular'])
      .default('hann-tf'),
  )
  .option('--sample-rate <hz>', 'resample (band-limited) to this rate first (default: keep the file\'s rate)')
  .addOption(backendOption())
  .action(async (file: string, opts: SpectrogramCommandOptions) => {
    await spectrogramCommand(file, opts);
  });

const KNOWN_ERRORS = new Set(['NoAdapterError', 'UsageError', 'KernelCompileError', 'GpuValidationError', 'DeviceLostError', 'WavError']);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const error = err as Error;
  if (process.env.TOKENWAVE_DEBUG) console.error(error.stack);
  else if (err instanceof NoAdapterError || KNOWN_ERRORS.has(error.name)) console.error(`tokenwave: ${error.message}`);
  else console.error(`tokenwave: ${error.message}\n(set TOKENWAVE_DEBUG=1 for the stack trace)`);
  process.exitCode = 1;
}
// Dawn's bindings can keep Node alive after the device is gone.
process.exit(process.exitCode ?? 0);
