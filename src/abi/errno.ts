/**
 * Linux errno names and numbers. These values are shared by x86, s390 and
 * powerpc (asm-generic/errno-base.h, errno.h); the model's only errno table.
 */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  EMFILE: 24,
  ENOSPC: 28,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  EUSERS: 87,
  EOPNOTSUPP: 95,
} as const;

/** ErrnoName is the symbolic name of an errno the model can return. */
export type ErrnoName = keyof typeof ERRNO;

const NAME_BY_NUMBER = new Map<number, ErrnoName>(
  Object.entries(ERRNO).map(([name, nr]) => [nr, name as ErrnoName]),
);

/** errnoName returns the name of errno number `nr`, or undefined when the model does not know it. */
export function errnoName(nr: number): ErrnoName | undefined {
  return NAME_BY_NUMBER.get(nr);
}

/** MAX_ERRNO: return values in [-4095, -1] are errors on the negative-errno ABIs (include/linux/err.h). */
export const MAX_ERRNO = 4095;
