/**
 * clone3(uargs, size) with set_tid, as mainline (kernel/fork.c, kernel/pid.c,
 * Linux 6.x; docs/semantics.md §5):
 *
 *  copy_clone_args_from_user: size > PAGE_SIZE E2BIG; size < 64 EINVAL;
 *    a non-zero byte past the kernel's struct E2BIG (checked before the head
 *    is copied); faults EFAULT; set_tid_size > 32, set_tid/set_tid_size
 *    inconsistent, bad exit_signal, bad CLONE_INTO_CGROUP: EINVAL; then
 *    set_tid[] is copied (EFAULT).
 *  clone3_args_valid: unknown flags, CLONE_DETACHED or CSIGNAL bits in
 *    flags, SIGHAND with CLEAR_SIGHAND, THREAD/PARENT with an exit signal,
 *    stack without size or size without stack: EINVAL.
 *  copy_process, then alloc_pid with set_tid (set_tid[0] = innermost).
 */
import { CLONE3_ARGS, CLONE_ARGS_SIZE_KERNEL, CLONE_ARGS_SIZE_VER0, CLONE_ARGS_SIZE_VER2 } from '../abi/clone-args.js';
import { CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN } from '../abi/capabilities.js';
import {
  CLONE_CLEAR_SIGHAND_HI,
  CLONE_DETACHED,
  CLONE_INTO_CGROUP_HI,
  CLONE_PARENT,
  CLONE_PIDFD,
  CLONE_SIGHAND,
  CLONE_THREAD,
  CSIGNAL,
  hasFlag,
} from '../abi/clone-flags.js';
import { MAX_PID_NS_LEVEL } from '../abi/limits.js';
import { NSIG } from '../abi/signals.js';
import { capableIn } from './credentials.js';
import { checkNewUser, copyProcess } from './copy-process.js';
import { O_RDWR } from './files.js';
import type { HostState } from './host-state.js';
import { fail } from './kernel-error.js';
import { allocPidSetTid } from './pid-allocator.js';
import type { Task } from './task.js';
import { installPidfd } from './pidfd-open.js';
import { copyFromUser, getU64, getUserInts, isZero64, putUserInt, u64At, u64Value, viewOf, type U64 } from './uaccess.js';

const INT_MAX = 0x7fffffff;

export function sysClone3(host: HostState, task: Task, uargs: number, size: number): number {
  const le = task.abi.littleEndian;
  if (size > task.abi.pageSize) fail('E2BIG', `size ${size} exceeds PAGE_SIZE`);
  if (size < CLONE_ARGS_SIZE_VER0) fail('EINVAL', `size ${size} is below CLONE_ARGS_SIZE_VER0 (${CLONE_ARGS_SIZE_VER0})`);
  if (size > CLONE_ARGS_SIZE_KERNEL) {
    const tail = copyFromUser(task, uargs + CLONE_ARGS_SIZE_KERNEL, size - CLONE_ARGS_SIZE_KERNEL);
    if (tail.some((b) => b !== 0)) fail('E2BIG', `bytes past the kernel's ${CLONE_ARGS_SIZE_KERNEL}-byte struct clone_args are not zero`);
  }
  // A short struct is zero-extended (copy_struct_from_user).
  const raw = new Uint8Array(CLONE_ARGS_SIZE_KERNEL);
  raw.set(copyFromUser(task, uargs, Math.min(size, CLONE_ARGS_SIZE_KERNEL)));
  const dv = viewOf(raw);
  const field = (off: number): U64 => getU64(dv, off, le);
  const flags = field(CLONE3_ARGS.flags);
  const exitSignal = field(CLONE3_ARGS.exit_signal);
  const stack = field(CLONE3_ARGS.stack);
  const stackSize = field(CLONE3_ARGS.stack_size);
  const setTidAddr = field(CLONE3_ARGS.set_tid);
  const setTidSize = field(CLONE3_ARGS.set_tid_size);
  const cgroup = field(CLONE3_ARGS.cgroup);

  if (setTidSize.hi !== 0 || setTidSize.lo > MAX_PID_NS_LEVEL) fail('EINVAL', `set_tid_size exceeds ${MAX_PID_NS_LEVEL}`);
  if (isZero64(setTidAddr) && setTidSize.lo > 0) fail('EINVAL', 'set_tid_size without set_tid');
  if (!isZero64(setTidAddr) && setTidSize.lo === 0) fail('EINVAL', 'set_tid without set_tid_size');
  if (exitSignal.hi !== 0 || (exitSignal.lo & ~CSIGNAL) !== 0 || exitSignal.lo > NSIG) fail('EINVAL', 'exit_signal is not a valid signal');
  const intoCgroup = (flags.hi & CLONE_INTO_CGROUP_HI) !== 0;
  if (intoCgroup && (cgroup.hi !== 0 || cgroup.lo > INT_MAX || size < CLONE_ARGS_SIZE_VER2)) fail('EINVAL', 'CLONE_INTO_CGROUP with a bad cgroup or a struct too short to hold it');
  const setTid = setTidSize.lo > 0 ? getUserInts(task, u64Value(setTidAddr), setTidSize.lo) : [];

  // clone3_args_valid
  if ((flags.hi & ~(CLONE_CLEAR_SIGHAND_HI | CLONE_INTO_CGROUP_HI)) !== 0) fail('EINVAL', 'unknown clone3 flags');
  const low = flags.lo;
  if (hasFlag(low, CLONE_DETACHED) || (low & CSIGNAL) !== 0) fail('EINVAL', 'CLONE_DETACHED or an exit signal in flags');
  if (hasFlag(low, CLONE_SIGHAND) && (flags.hi & CLONE_CLEAR_SIGHAND_HI) !== 0) fail('EINVAL', 'CLONE_SIGHAND with CLONE_CLEAR_SIGHAND');
  if (hasFlag(low, CLONE_THREAD | CLONE_PARENT) && exitSignal.lo !== 0) fail('EINVAL', 'CLONE_THREAD or CLONE_PARENT with an exit signal');
  const stackBase = u64Value(stack);
  const stackLen = u64Value(stackSize);
  if (isZero64(stack) ? !isZero64(stackSize) : isZero64(stackSize) || stackBase + stackLen > task.abi.taskSize) {
    fail('EINVAL', 'stack and stack_size must be given together and lie in user space');
  }
  if (hasFlag(low, CLONE_PIDFD) && hasFlag(low, CLONE_THREAD)) fail('EINVAL', 'CLONE_PIDFD with CLONE_THREAD');
  checkNewUser(task, low);

  let pidfd = -1;
  const child = copyProcess(host, task, {
    flags: low,
    exitSignal: exitSignal.lo,
    inheritExitSignalWithParent: true,
    // clone3's stack is the lowest address: the kernel starts the child at stack + stack_size.
    stack: isZero64(stack) ? 0 : stackBase + stackLen,
    tls: u64At(dv, CLONE3_ARGS.tls, le),
    parentTid: u64At(dv, CLONE3_ARGS.parent_tid, le),
    childTid: u64At(dv, CLONE3_ARGS.child_tid, le),
    allocate: (ns) =>
      allocPidSetTid(ns, setTid, (tmp) => capableIn(task.creds, CAP_CHECKPOINT_RESTORE, tmp.userNs) || capableIn(task.creds, CAP_SYS_ADMIN, tmp.userNs)),
    afterAlloc: (pid) => {
      if (hasFlag(low, CLONE_PIDFD)) {
        pidfd = installPidfd(task, pid, O_RDWR);
        try {
          putUserInt(task, u64At(dv, CLONE3_ARGS.pidfd, le), pidfd);
        } catch (e) {
          task.group.files.delete(pidfd);
          throw e;
        }
      }
      // The model has no cgroup file descriptors to move the child into.
      if (intoCgroup) {
        if (pidfd >= 0) task.group.files.delete(pidfd);
        fail('EBADF', `cgroup fd ${cgroup.lo} is not an open cgroup directory`);
      }
    },
  });
  return child.pid.nrIn(task.activeNs);
}
