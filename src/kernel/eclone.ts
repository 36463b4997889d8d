/**
 * eclone(flags_low, cargs, args_size, pids) as the v13 patchset defined it
 * (docs/semantics.md §4). Validation runs in the patch's order (§4.4):
 *
 *  1. args_size must be exactly sizeof(struct clone_args) = 48   EINVAL
 *  2. copy clone_args from user memory                          EFAULT
 *  3. reserved0 and clone_flags_high must be 0                   EINVAL
 *  4. child_stack_size must be 0 on x86, s390 and powerpc       EINVAL
 *  5. CLONE_NEWUSER checks                                       EINVAL / EPERM
 *  6. nr_pids <= caller's level + 1, then copy pids[]           EINVAL / EFAULT
 *  7. any nr_pids > 0 needs CAP_SYS_ADMIN (capable(): initial user namespace)  EPERM
 *  8. copy_process: flag rules, namespaces, copy_thread
 *  9. alloc_pid innermost first with the targets                EINVAL / EBUSY
 *
 * pids[] is oldest level first and names the youngest levels: with the
 * caller at level L, pids[nr_pids-1] is level L and pids[0] is level
 * L+1-nr_pids. The pid inside a new CLONE_NEWPID namespace cannot be named
 * (it is 1). Returns the child's pid in the caller's namespace.
 */
import { ECLONE_ARGS } from '../abi/clone-args.js';
import { CAP_SYS_ADMIN } from '../abi/capabilities.js';
import { CSIGNAL } from '../abi/clone-flags.js';
import { capableIn } from './credentials.js';
import { MAX_PID_NS_LEVEL } from '../abi/limits.js';
import { checkNewUser, copyProcess, type CloneRequest } from './copy-process.js';
import type { HostState } from './host-state.js';
import { fail } from './kernel-error.js';
import { allocPidEclone } from './pid-allocator.js';
import type { Task } from './task.js';
import { getUserIntsInto, u64At, u64IsZero, u64Low } from './uaccess.js';

/** The kernel-side copy of clone_args: one buffer, as the kernel's on-stack struct. */
const kargs = new Uint8Array(ECLONE_ARGS.size);
const kargsView = new DataView(kargs.buffer);

/** target_pids[level] of the call in progress, one slot per possible level: the kernel's buffer, reused by every call. */
const targetPids = new Array<number>(MAX_PID_NS_LEVEL + 2).fill(0);

/**
 * The request eclone hands copy_process, filled in by each call: the kernel
 * keeps kernel_clone_args on its stack, and the model runs one syscall at a
 * time. A new object and closure per call would be garbage for every child of
 * a 100,000-task restore.
 */
const request: { -readonly [K in keyof CloneRequest]: CloneRequest[K] } & { targets: readonly number[] | null } = {
  flags: 0,
  exitSignal: 0,
  stack: 0,
  tls: 0,
  parentTid: 0,
  childTid: 0,
  targets: null,
  allocate: (ns) => allocPidEclone(ns, request.targets),
};

/**
 * sysEclone runs eclone for `task`; `cloneTls` is what its ABI's clone TLS
 * register holds, which copy_thread installs when CLONE_SETTLS is set.
 */
export function sysEclone(host: HostState, task: Task, flagsLow: number, cargs: number, argsSize: number, pidsAddr: number, cloneTls: number): number {
  const le = task.abi.littleEndian;
  if (argsSize !== ECLONE_ARGS.size) fail('EINVAL', `args_size ${argsSize} is not sizeof(struct clone_args) = ${ECLONE_ARGS.size}`);
  // copy_from_user of the whole struct: every field is read before anything can write user memory
  const mm = task.mm;
  const dv = mm.readView(cargs, ECLONE_ARGS.size, kargs, kargsView);
  const at = mm.viewBase;
  const nrPids = dv.getUint32(at + ECLONE_ARGS.nr_pids, le);
  const reserved0 = dv.getUint32(at + ECLONE_ARGS.reserved0, le);
  if (reserved0 !== 0) fail('EINVAL', `reserved0 is 0x${reserved0.toString(16)}, not 0`);
  if (!u64IsZero(dv, at + ECLONE_ARGS.clone_flags_high)) fail('EINVAL', 'clone_flags_high is not 0: no high clone flags are defined');
  if (!u64IsZero(dv, at + ECLONE_ARGS.child_stack_size)) fail('EINVAL', 'child_stack_size must be 0 on this architecture');
  checkNewUser(task, flagsLow);

  const callerLevel = task.activeNs.level;
  const knum = callerLevel + 1;
  let targets: number[] | null = null;
  if (nrPids !== 0) {
    // copy_target_pids takes nr_pids as an int: 2^31 and above turn negative,
    // pass the bound check and fail in copy_from_user (docs/semantics.md §4.4 step 6).
    const n = nrPids | 0;
    if (n > knum) fail('EINVAL', `nr_pids ${n} exceeds the caller's ${knum} pid levels`);
    if (n < 0) fail('EFAULT', `nr_pids ${nrPids} is too large to copy`);
    // target_pids[level] for levels 0..knum: pids[] fills the youngest n levels,
    // the older ones and the slot for a new namespace (knum) stay 0 (auto).
    targets = targetPids;
    for (let level = 0; level <= knum; level++) targets[level] = 0;
    getUserIntsInto(task, pidsAddr, n, targets, knum - n);
    if (!capableIn(task.creds, CAP_SYS_ADMIN, host.rootUserNs)) {
      fail('EPERM', 'choosing pids with eclone needs CAP_SYS_ADMIN in the initial user namespace');
    }
  }
  const req = request;
  req.flags = flagsLow >>> 0;
  req.exitSignal = flagsLow & CSIGNAL;
  // child_stack is the stack pointer itself; 0 keeps the caller's (docs/semantics.md §4.5).
  req.stack = task.abi.wordSize === 4 ? u64Low(dv, at + ECLONE_ARGS.child_stack, le) : u64At(dv, at + ECLONE_ARGS.child_stack, le);
  // No TLS argument: copy_thread reads clone's TLS register, whatever it holds (docs/semantics.md §4.5).
  req.tls = cloneTls;
  req.parentTid = u64At(dv, at + ECLONE_ARGS.parent_tid_ptr, le);
  req.childTid = u64At(dv, at + ECLONE_ARGS.child_tid_ptr, le);
  req.targets = targets;
  const child = copyProcess(host, task, req);
  return child.pid.nrIn(task.activeNs);
}
