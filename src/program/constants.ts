/** The named constants a workload may use: signals, clone flags, wait options, mmap bits. */
import * as flags from '../abi/clone-flags.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE } from '../abi/mman.js';
import { SIGCHLD, SIGCONT, SIGHUP, SIGKILL, SIGSTOP } from '../abi/signals.js';
import { WCONTINUED, WNOHANG, WUNTRACED, __WALL, __WCLONE } from '../abi/wait.js';

export const CONSTANTS: Readonly<Record<string, number>> = {
  SIGHUP,
  SIGKILL,
  SIGCHLD,
  SIGCONT,
  SIGSTOP,
  SIGTERM: 15,
  WNOHANG,
  WUNTRACED,
  WCONTINUED,
  __WALL,
  __WCLONE,
  PROT_READ,
  PROT_WRITE,
  PROT_EXEC,
  MAP_SHARED,
  MAP_PRIVATE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  NULL: 0,
  ...Object.fromEntries(Object.entries(flags).filter(([k, v]) => k.startsWith('CLONE_') && typeof v === 'number' && !k.endsWith('_HI') && k !== 'CLONE_NEW_MASK')),
};
