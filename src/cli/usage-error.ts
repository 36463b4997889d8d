/** The command line's own errors: each carries a code of the table in error-codes.ts, which gives its exit status. */
import type { CkptCode } from './error-codes.js';

/** CliError is a problem the command line finds itself (a missing container, an output that exists), with its code. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  constructor(
    readonly code: CkptCode,
    message: string,
  ) {
    super(message);
  }
}

/** UsageError is a user mistake on the command line: one line to print, exit code 2, no stack trace, nothing touched. */
export class UsageError extends CliError {
  override readonly name = 'UsageError';
  constructor(message: string) {
    super('CKPT_USAGE', message);
  }
}
