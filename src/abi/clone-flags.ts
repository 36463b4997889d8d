/**
 * CLONE_* flags (include/uapi/linux/sched.h). eclone takes the low 32 bits in
 * `flags_low`; clone3 takes a u64 `flags` whose bits above 31 are the
 * clone3-only flags.
 */
export const CSIGNAL = 0x000000ff;
export const CLONE_VM = 0x00000100;
export const CLONE_FS = 0x00000200;
export const CLONE_FILES = 0x00000400;
export const CLONE_SIGHAND = 0x00000800;
/** 0x1000 was CLONE_UNUSED in 2.6.32 (valid and ignored); mainline reused it as CLONE_PIDFD. */
export const CLONE_PIDFD = 0x00001000;
export const CLONE_PTRACE = 0x00002000;
export const CLONE_VFORK = 0x00004000;
export const CLONE_PARENT = 0x00008000;
export const CLONE_THREAD = 0x00010000;
export const CLONE_NEWNS = 0x00020000;
export const CLONE_SYSVSEM = 0x00040000;
export const CLONE_SETTLS = 0x00080000;
export const CLONE_PARENT_SETTID = 0x00100000;
export const CLONE_CHILD_CLEARTID = 0x00200000;
export const CLONE_DETACHED = 0x00400000;
export const CLONE_UNTRACED = 0x00800000;
export const CLONE_CHILD_SETTID = 0x01000000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_IO = 0x80000000;

/** clone3-only flags live above bit 31: they are kept as the high word of the u64. */
export const CLONE_CLEAR_SIGHAND_HI = 0x1; // 0x100000000
export const CLONE_INTO_CGROUP_HI = 0x2; // 0x200000000

/** CLONE_NEW_MASK: every namespace flag; each needs CAP_SYS_ADMIN (copy_namespaces). */
export const CLONE_NEW_MASK =
  CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

/** hasFlag tests one flag bit of a 32-bit flags word without sign surprises. */
export function hasFlag(flags: number, flag: number): boolean {
  return ((flags & flag) >>> 0) !== 0;
}
