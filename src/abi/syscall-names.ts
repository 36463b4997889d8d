/**
 * The syscalls the model kernel offers, by their Linux names. Each arch maps
 * every name to its own number (src/arch/*); the kernel's handlers are keyed
 * by name (src/kernel/syscall-table.ts).
 */
export const SYSCALL_NAMES = [
  'read',
  'write',
  'open',
  'close',
  'getpid',
  'getppid',
  'gettid',
  'getpgid',
  'getpgrp',
  'getsid',
  'setsid',
  'setpgid',
  'getuid',
  'setuid',
  'capget',
  'capset',
  'fork',
  'clone',
  'eclone',
  'clone3',
  'unshare',
  'setns',
  'pidfd_open',
  'exit',
  'exit_group',
  'wait4',
  'kill',
  'mmap',
  'munmap',
  'sched_yield',
  'nanosleep',
] as const;

/** SyscallName is one syscall the model implements. */
export type SyscallName = (typeof SYSCALL_NAMES)[number];
