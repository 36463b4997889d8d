/**
 * ckpt's public library API. This is the only file that re-exports.
 */
export { Host, pidMaxLimit, STACK_SIZE, type HostOptions } from './kernel/host.js';
export { DEFAULT_KERNEL, KERNEL_NAMES, RULES as KERNEL_RULES, kernelRules, type KernelName, type KernelRules } from './kernel/personality.js';
export type { Task, TaskState } from './kernel/task.js';
export type { HostSnapshot, TaskSnapshot } from './kernel/snapshot.js';
export { ARGUMENT_WINDOW, Libc, libcOf, UserFault, encodeEcloneArgs, encodeClone3Args, type SyscallResult } from './program/libc.js';
export type { Arch, ArchName, RegLayout, RegField } from './arch/arch.js';
export { ARCHES, archByName, archNames } from './arch/registry.js';
export { placement, type Placement } from './arch/compat.js';
export { decodeRegs, encodeRegs, nonZeroPadding } from './arch/register-file.js';
export { FSAVE_LAYOUT, FXSAVE32_LAYOUT, FXSAVE64_LAYOUT, fsaveToFxsave, fxsaveToFsave, twdFxsrToI387, twdI387ToFxsr } from './arch/x86/fpu.js';
export { ERRNO, errnoName, type ErrnoName } from './abi/errno.js';
export * from './abi/clone-flags.js';
export { SIGCHLD, SIGCONT, SIGKILL, SIGSTOP } from './abi/signals.js';
export { WNOHANG, WUNTRACED, WCONTINUED, __WALL, __WCLONE } from './abi/wait.js';
export { PIDFD_NONBLOCK } from './kernel/pidfd-open.js';
export { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, MAP_FIXED, PROT_READ, PROT_WRITE, PROT_EXEC } from './abi/mman.js';
export { CAP_SYS_ADMIN, CAP_CHECKPOINT_RESTORE, CAP_SETUID, CAP_SETGID, CAP_KILL, CAP_SYS_PTRACE, LINUX_CAPABILITY_VERSION_3 } from './abi/capabilities.js';
export { PID_MAX_DEFAULT, PID_MAX_LIMIT, RESERVED_PIDS, MAX_PID_NS_LEVEL } from './abi/limits.js';
export { ECLONE_ARGS, CLONE3_ARGS, CLONE_ARGS_SIZE_VER0, CLONE_ARGS_SIZE_VER1, CLONE_ARGS_SIZE_VER2, type EcloneArgs, type Clone3Args } from './abi/clone-args.js';
