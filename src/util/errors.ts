/**
 * The base of every error meant for a user: a bad file, a bad option, a missing driver, a GPU fault. Its message
 * says what is wrong and how to fix it, and the command line prints it as is (no stack trace). Any other error
 * is a bug in tokenwave.
 */
export class TokenwaveError extends Error {
  override name = 'TokenwaveError';
}

/** A library call that cannot work as made: a wrong shape or type, a label out of range, a tensor used after shutdown. */
export class ArgumentError extends TokenwaveError {
  override name = 'ArgumentError';
}
