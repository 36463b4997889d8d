/**
 * KernelError is how the model kernel fails: an errno name plus a detail
 * saying which rule fired. It never leaves the kernel: the syscall path
 * (syscall.ts) turns it into the architecture's error return.
 */
import type { ErrnoName } from '../abi/errno.js';

export class KernelError extends Error {
  override readonly name = 'KernelError';
  constructor(
    readonly errno: ErrnoName,
    readonly detail: string,
  ) {
    super(`${errno}: ${detail}`);
  }
}

/** fail throws a KernelError; written as a function so call sites read as the kernel's `return -EINVAL`. */
export function fail(errno: ErrnoName, detail: string): never {
  throw new KernelError(errno, detail);
}

/** isKernelError narrows an unknown thrown value. */
export function isKernelError(e: unknown): e is KernelError {
  return e instanceof KernelError;
}

/** KernelPanic is the one failure the kernel does not survive: the root namespace's init exiting ("Attempted to kill init!"). */
export class KernelPanic extends Error {
  override readonly name = 'KernelPanic';
}
