/**
 * The exit status of a command stopped by a fault outside it (its GPU device lost, its run folder in use by another
 * process): the same command may well succeed later. sysexits' EX_TEMPFAIL; a sweep worker hands such a run back.
 */
export const EXIT_RETRY_LATER = 75;

/**
 * The base of every error meant for a user: a bad file, a bad option, a missing driver, a GPU fault. Its message
 * says what is wrong and how to fix it, and the command line prints it as is (no stack trace). Any other error
 * is a bug in tokenwave. `retryable`: the fault lies outside the command (see EXIT_RETRY_LATER).
 */
export class TokenwaveError extends Error {
  override name = 'TokenwaveError';
  readonly retryable: boolean;

  constructor(message: string, options: { retryable?: boolean } = {}) {
    super(message);
    this.retryable = options.retryable ?? false;
  }
}

/** A library call that cannot work as made: a wrong shape or type, a label out of range, a tensor used after shutdown. */
export class ArgumentError extends TokenwaveError {
  override name = 'ArgumentError';
}
