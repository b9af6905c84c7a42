// The tokenwave command line. Every command takes --backend; errors print one clear message, not a stack trace
// (TOKENWAVE_DEBUG=1 shows the stack).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { BACKENDS, NoAdapterError } from '../runtime/adapter.js';
import { demoCommand, type DemoOptions } from './demo.js';
import { doctor } from './doctor.js';
import { spectrogramCommand, type SpectrogramCommandOptions } from './spectrogram.js';
import { flopsCommand, predictCommand, type FlopsOptions } from './models.js';
import { CONVENTIONS, CONVENTION_HELP } from '../flops/accounting.js';
import { evalCommand, generateCommand, trainCommand, type TrainCommandOptions } from './data.js';
import { SCHEDULES } from '../train/schedule.js';


function backendOption(): Option {
  return new Option('--backend <name>', 'force a WebGPU backend (default: TOKENWAVE_BACKEND, else automatic)').choices(
    [...BACKENDS],
  );
}

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const program = new Command()
  .name('tokenwave')
  .version(version)
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

program
  .command('generate')
  .description("generate a synthetic data set: 'speech' (the 8 mini_speech_commands words, eSpeak NG voices) or 'sounds' (ESC-50 layout)")
  .argument('<kind>', "'speech' or 'sounds'")
  .requiredOption('--out <dir>', 'where to write the data set')
  .option('--per-class <n>', 'clips per class (default: 100 words, 40 sounds)')
  .option('--seed <n>', 'random seed (same seed and version: identical files)', '0')
  .action(async (kind: string, opts: { out: string; perClass?: string; seed: string }) => {
    await generateCommand(kind, opts);
  });

const splitOption = () => new Option('--split <policy>', "'paper': random 80/10/10 by file (leaks speakers); 'proper': speaker hash rule / list files / ESC-50 folds").choices(['paper', 'proper']).default('paper');

program
  .command('train')
  .description('train a model on a data folder (mini_speech_commands, Speech Commands v0.02 or ESC-50 layout)')
  .requiredOption('--data <dir>', 'the data set folder')
  .option('--model <name>', 'model name, e.g. TASR_4L_8T-8H, TASR_4L_NT-8H, TESC_4L_8T-8H', 'TASR_4L_8T-8H')
  .option('--epochs <n>', 'epochs', '20')
  .option('--batch-size <n>', 'batch size (default: 64 for TASR, 32 for TESC, as the paper)')
  .addOption(new Option('--schedule <name>', 'learning-rate schedule').choices(SCHEDULES).default('paper'))
  .option('--lr <rate>', "peak learning rate (paper schedule: 1.5e-5 x batch size; others: 1e-4)")
  .option('--weight-decay <w>', 'decoupled weight decay per step', '1e-4')
  .option('--seed <n>', 'seed for initialisation, shuffling and dropout', '0')
  .addOption(splitOption())
  .option('--out <dir>', 'run folder (default: runs/MODEL)')
  .option('--resume', 'continue the run in --out from its last checkpoint')
  .option('--save-every <steps>', 'write the resumable checkpoint every this many steps', '50')
  .option('--condensed', 'ESC-50: the 5 major categories')
  .option('--esc10', 'ESC-50: the ESC-10 subset')
  .option('--limit-per-class <n>', 'use at most this many clips per class')
  .option('--model-options <json>', 'model options beyond the name, e.g. \'{"tokenLearnerVersion": "v1.1", "tokenLearnerAt": 2}\'')
  .addOption(backendOption())
  .action(async (opts: TrainCommandOptions) => {
    await trainCommand(opts);
  });

program
  .command('eval')
  .description('evaluate a checkpoint: top-1, top-3 (speech) or top-5 (ESC-50), per-class accuracy, confusion matrix')
  .requiredOption('--checkpoint <dir>', 'a checkpoint folder, e.g. runs/TASR_4L_8T-8H/best')
  .requiredOption('--data <dir>', 'the data set folder')
  .addOption(splitOption())
  .option('--subset <name>', 'train, validation or test', 'test')
  .option('--condensed', 'ESC-50: the 5 major categories')
  .option('--esc10', 'ESC-50: the ESC-10 subset')
  .option('--limit-per-class <n>', 'use at most this many clips per class (as in training)')
  .option('--json', 'print JSON')
  .addOption(backendOption())
  .action(async (opts) => {
    await evalCommand(opts);
  });

program
  .command('demo')
  .description('the end-to-end demo (npm start): synthetic speech, TASR with and without TokenLearner, accuracy vs FLOPs vs time')
  .option('--per-class <n>', 'clips per word (default: 60 on a CPU adapter, 1000 on a GPU)')
  .option('--epochs <n>', 'epochs (default: 3 on a CPU adapter, 20 on a GPU)')
  .option('--batch-size <n>', 'batch size (default: 16 on a CPU adapter, 64 on a GPU)')
  .option('--data <dir>', 'where generated data sets are kept', 'datasets')
  .option('--out <dir>', 'where the runs, the table and the plot go', join('runs', 'demo'))
  .addOption(backendOption())
  .action(async (opts: DemoOptions) => {
    await demoCommand(opts);
  });

const KNOWN_ERRORS = new Set(['NoAdapterError', 'UsageError', 'KernelCompileError', 'GpuValidationError', 'DeviceLostError', 'WavError', 'ModelConfigError', 'CheckpointError', 'SafetensorsError', 'DatasetError']);

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
