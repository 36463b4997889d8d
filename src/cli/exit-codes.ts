/** ckpt's exit codes, documented in the README and in --help. */
export const EXIT = {
  OK: 0,
  /** the command ran and found a problem (a failed check, a kernel errno) */
  FAILURE: 1,
  /** bad usage: unknown option, missing argument, invalid value */
  USAGE: 2,
  /** a bug in ckpt: an unexpected exception */
  INTERNAL: 70,
} as const;
