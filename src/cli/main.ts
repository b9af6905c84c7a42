// The tokenwave command line. Every command takes --backend; errors print one clear message, not a stack trace
// (TOKENWAVE_DEBUG=1 shows the stack).
import { Command, Option } from 'commander';
import { BACKENDS, NoAdapterError } from '../runtime/adapter.js';
import { doctor } from './doctor.js';

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

const KNOWN_ERRORS = new Set(['NoAdapterError', 'UsageError', 'KernelCompileError', 'GpuValidationError', 'DeviceLostError']);

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
