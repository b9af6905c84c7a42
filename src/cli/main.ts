// The tokenwave command line. Every command takes --backend; errors print one clear message, not a stack trace
// (TOKENWAVE_DEBUG=1 shows the stack).
import { Command, Option } from 'commander';
import { BACKENDS, NoAdapterError } from '../runtime/adapter.js';
import { doctor } from './doctor.js';
import { spectrogramCommand, type SpectrogramCommandOptions } from './spectrogram.js';
import { flopsCommand, predictCommand, type FlopsOptions } from './models.js';
import { CONVENTIONS, CONVENTION_HELP } from '../flops/accounting.js';


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

program
  .command('flops')
  .description("count a model's FLOPs per clip (and per training step) under a named convention, from a real pass")
  .argument('<model>', 'a model name, e.g. TASR_4L_8T-8H, TASR_10L_NT-8H, TESC_4L_8T-8H')
  .addOption(
    new Option('--convention <name>', CONVENTIONS.map((c) => `${c}: ${CONVENTION_HELP[c]}`).join('; '))
      .choices([...CONVENTIONS])
      .default('exact'),
  )
  .option('--train', 'also count one training step (forward with dropout, backward, AdamW), by phase')
  .option('--batch <n>', 'batch size of the counted passes (the paper convention always uses 1)', '1')
  .option('--breakdown', 'print a per-module table')
  .option('--json', 'print the report as JSON')
  .option('--classes <n>', 'override the class count (ESC-50 condensed: 5)')
  .addOption(new Option('--token-learner <version>', 'TokenLearner version').choices(['v1', 'v1.1']))
  .option('--token-learner-at <block>', 'run TokenLearner before this block (0: on the patch grid, the paper)')
  .option('--token-fuser', 'TokenLearner -> block -> TokenFuser for every block from --token-learner-at on')
  .addOption(backendOption())
  .action(async (model: string, opts: FlopsOptions) => {
    await flopsCommand(model, opts);
  });

program
  .command('predict')
  .description('classify WAV files with a trained checkpoint: the top classes with probabilities')
  .argument('<files...>', 'WAV files')
  .requiredOption('--checkpoint <dir>', 'a checkpoint folder (config.json + model.safetensors)')
  .option('--top <k>', 'how many classes to show', '3')
  .option('--json', 'print JSON')
  .addOption(backendOption())
  .action(async (files: string[], opts: { checkpoint: string; top: string; json?: boolean; backend?: string }) => {
    await predictCommand(files, opts);
  });

const KNOWN_ERRORS = new Set(['NoAdapterError', 'UsageError', 'KernelCompileError', 'GpuValidationError', 'DeviceLostError', 'WavError', 'ModelConfigError', 'CheckpointError', 'SafetensorsError']);

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
