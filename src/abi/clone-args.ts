/**
 * The two `struct clone_args` layouts. Both are made of naturally aligned
 * fields with no padding, read in the calling task's byte order.
 */

/** eclone's struct clone_args (eclone v13; docs/semantics.md §4.2): exactly 48 bytes. */
export const ECLONE_ARGS = {
  size: 48,
  clone_flags_high: 0,
  child_stack: 8,
  child_stack_size: 16,
  parent_tid_ptr: 24,
  child_tid_ptr: 32,
  nr_pids: 40,
  reserved0: 44,
} as const;

/** clone3's struct clone_args (include/uapi/linux/sched.h): u64 fields. */
export const CLONE3_ARGS = {
  flags: 0,
  pidfd: 8,
  child_tid: 16,
  parent_tid: 24,
  exit_signal: 32,
  stack: 40,
  stack_size: 48,
  tls: 56,
  set_tid: 64,
  set_tid_size: 72,
  cgroup: 80,
} as const;

/** CLONE_ARGS_SIZE_VER0 (5.3), VER1 (5.5, set_tid), VER2 (5.7, cgroup). */
export const CLONE_ARGS_SIZE_VER0 = 64;
export const CLONE_ARGS_SIZE_VER1 = 80;
export const CLONE_ARGS_SIZE_VER2 = 88;
/** The kernel's own sizeof(struct clone_args): bytes beyond it must be zero (E2BIG). */
export const CLONE_ARGS_SIZE_KERNEL = CLONE_ARGS_SIZE_VER2;

/** EcloneArgs mirrors eclone's struct clone_args field for field (C names). */
export interface EcloneArgs {
  clone_flags_high?: bigint | number;
  child_stack?: bigint | number;
  child_stack_size?: bigint | number;
  parent_tid_ptr?: bigint | number;
  child_tid_ptr?: bigint | number;
  nr_pids?: number;
  reserved0?: number;
}

/** Clone3Args mirrors clone3's struct clone_args (C names); pointers are addresses, set_tid an address too. */
export interface Clone3Args {
  flags?: bigint | number;
  pidfd?: bigint | number;
  child_tid?: bigint | number;
  parent_tid?: bigint | number;
  exit_signal?: bigint | number;
  stack?: bigint | number;
  stack_size?: bigint | number;
  tls?: bigint | number;
  set_tid?: bigint | number;
  set_tid_size?: bigint | number;
  cgroup?: bigint | number;
}
