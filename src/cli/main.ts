// The tokenwave command line: one file per command. Errors meant for users (TokenwaveError) print one clear
// line; anything else is a bug and says how to see its stack (TOKENWAVE_DEBUG=1).
import { Command } from 'commander';
import { EXIT_RETRY_LATER, TokenwaveError } from '../util/errors.js';
import { TOKENWAVE_VERSION } from '../util/version.js';
import { demoCommand } from './demo.js';
import { doctorCommand } from './doctor.js';
import { evalCommand } from './eval.js';
import { explainCommand } from './explain.js';
import { flopsCommand } from './flops.js';
import { generateCommand } from './generate.js';
import { predictCommand } from './predict.js';
import { profileCommand } from './profile.js';
import { spectrogramCommand } from './spectrogram.js';
import { sweepCommand, workerCommand } from './sweep.js';
import { trainCommand } from './train.js';
import { tuneCommand } from './tune.js';

const program = new Command()
  .name('tokenwave')
  .version(TOKENWAVE_VERSION)
  .description('WebGPU engine that trains and measures audio transformers with TokenLearner')
  .showHelpAfterError();

for (const command of [doctorCommand, spectrogramCommand, flopsCommand, profileCommand, tuneCommand, predictCommand, explainCommand, generateCommand, trainCommand, evalCommand, sweepCommand, workerCommand, demoCommand]) {
  program.addCommand(command.showHelpAfterError());
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const error = err as Error;
  if (process.env.TOKENWAVE_DEBUG) console.error(error.stack);
  else if (err instanceof TokenwaveError) console.error(`tokenwave: ${error.message}`);
  else console.error(`tokenwave: ${error.message}\n(set TOKENWAVE_DEBUG=1 for the stack trace)`);
  process.exitCode = err instanceof TokenwaveError && err.retryable ? EXIT_RETRY_LATER : 1;
}
// Dawn's bindings can keep Node alive after the device is gone.
process.exit(process.exitCode ?? 0);
