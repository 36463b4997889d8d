/** Kernel limits of the pid machinery (include/linux/threads.h, kernel/pid.c, include/linux/pid_namespace.h; docs/semantics.md §2.2, §3.1). */
export const PID_MAX_DEFAULT = 0x8000;
/** PID_MAX_LIMIT on 64-bit kernels: 4 * 1024 * 1024. */
export const PID_MAX_LIMIT = 4 * 1024 * 1024;
/** pid_max_min: the kernel.pid_max sysctl accepts [RESERVED_PIDS + 1, PID_MAX_LIMIT]. */
export const PID_MAX_MIN = 301;
/** RESERVED_PIDS: after a namespace's first wrap, auto allocation never goes below this. */
export const RESERVED_PIDS = 300;
/** MAX_PID_NS_LEVEL: the deepest pid namespace level; deeper is ENOSPC. */
export const MAX_PID_NS_LEVEL = 32;
/** The user namespace nesting limit (kernel/user_namespace.c: depth > 32 is EUSERS; the model reports ENOSPC like ucounts). */
export const MAX_USER_NS_LEVEL = 32;
