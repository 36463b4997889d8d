/** UsageError is a user mistake on the command line: one line to print, exit code 2, no stack trace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'CKPT_USAGE';
}
