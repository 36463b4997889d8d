/**
 * Signal numbers the model delivers. x86, s390 and powerpc all use the
 * generic numbering for these (asm/signal.h).
 */
export const SIGHUP = 1;
export const SIGKILL = 9;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
/** _NSIG: signals are 1..64; valid_signal(sig) is sig <= _NSIG. */
export const NSIG = 64;
