/**
 * alloc_pid in its two calling conventions, both allocating innermost level
 * first and freeing exactly what deeper levels took when a level fails:
 *
 * - eclone's (v13 patch 3): a target per level, 0 meaning auto; used by fork,
 *   clone and eclone. A taken target is EBUSY; a level with no automatic pid
 *   free fails with the personality's errno (EBUSY on 2.6.32, where the
 *   patched alloc_pid passes do_alloc_pidmap's -EBUSY up; EAGAIN on mainline).
 * - mainline clone3 set_tid (kernel/pid.c alloc_pid, v5.5+): set_tid[0] names
 *   the innermost level, 0 is EINVAL, a taken pid is EEXIST, each named level
 *   checks the capability against its own user namespace, exhaustion is EAGAIN.
 *
 * Automatic allocation follows the host's personality (personality.ts
 * cyclicIdr): 2.6.32's alloc_pidmap scans up from last_pid + 1 and wraps to
 * RESERVED_PIDS, so pids below 300 are handed out only on a namespace's first
 * pass; mainline's idr_alloc_cyclic wraps to 1 while the cursor has not passed
 * 300. A targeted allocation never moves last_pid.
 */
import { MAX_PID_NS_LEVEL, RESERVED_PIDS } from '../abi/limits.js';
import { fail } from './kernel-error.js';
import { Pid } from './pid.js';
import type { PidNamespace } from './pid-namespace.js';

/** allocAuto takes the next free pid of `ns` after last_pid and records it as last_pid; -1 when none is free. */
export function allocAuto(ns: PidNamespace): number {
  if (ns.rules.cyclicIdr) return allocCyclic(ns);
  let start = ns.lastPid + 1;
  if (start >= ns.pidMax) start = RESERVED_PIDS;
  let nr = ns.bitmap.findZero(start, ns.pidMax);
  // The wrapped pass covers [RESERVED_PIDS, last_pid): alloc_pidmap stops when it comes back to last.
  if (nr < 0 && start > RESERVED_PIDS) nr = ns.bitmap.findZero(RESERVED_PIDS, ns.lastPid);
  if (nr < 0) return -1;
  ns.bitmap.set(nr);
  ns.lastPid = nr;
  return nr;
}

/**
 * allocCyclic is mainline's automatic allocation (kernel/pid.c alloc_pid,
 * lib/idr.c idr_alloc_cyclic, v6.12): the cursor is last_pid + 1; the
 * lowest pid is RESERVED_PIDS once the cursor is above it, else 1; search
 * from the cursor to pid_max, then once from the lowest pid to pid_max. The
 * wrapped pass may so find last_pid itself, and pids below 300 while the
 * cursor has not passed 300.
 */
function allocCyclic(ns: PidNamespace): number {
  const cursor = ns.lastPid + 1;
  const min = cursor > RESERVED_PIDS ? RESERVED_PIDS : 1;
  const start = cursor < min ? min : cursor;
  let nr = start < ns.pidMax ? ns.bitmap.findZero(start, ns.pidMax) : -1;
  if (nr < 0 && start > min) nr = ns.bitmap.findZero(min, ns.pidMax);
  if (nr < 0) return -1;
  ns.bitmap.set(nr);
  ns.lastPid = nr;
  return nr;
}

/** LevelAllocator takes one number in namespace `ns` (at `level`) for a call described by `call`, or throws a KernelError. */
type LevelAllocator<C> = (call: C, ns: PidNamespace, level: number) => number;

/**
 * allocPid allocates a struct pid for a new task in `ns`, innermost level
 * first. On failure at any level the numbers taken at deeper levels are
 * released; last_pid advances made by auto allocation are kept, except that a
 * namespace whose first allocation failed gets its cursor back to 0
 * (mainline's PIDNS_ADDING reset). `take` is a module function given `call`
 * rather than a closure: a restorer makes 100,000s of these calls.
 */
function allocPid<C>(ns: PidNamespace, take: LevelAllocator<C>, call: C): Pid {
  const numbers = taken;
  let level = ns.level;
  try {
    for (; level >= 0; level--) numbers[level] = take(call, ns.chain[level]!, level);
  } catch (e) {
    releaseBelow(ns, numbers, level);
    throw e;
  }
  if (!ns.accepting) {
    // pid_allocated lacks PIDNS_ADDING: the namespace's init has died (pid_namespaces(7)).
    releaseBelow(ns, numbers, -1);
    fail('ENOMEM', `pid namespace at level ${ns.level} no longer accepts processes: its init has exited`);
  }
  const pid = new Pid(ns, numbers);
  for (let i = 0; i <= ns.level; i++) ns.chain[i]!.pids.set(numbers[i]!, pid);
  return pid;
}

/** The numbers of the allocation in progress, one slot per possible level (the kernel allocates one pid at a time). */
const taken: number[] = new Array<number>(MAX_PID_NS_LEVEL + 1).fill(0);

/** releaseBelow frees the numbers taken at the levels deeper than `level` (the rollback of a failed alloc_pid). */
function releaseBelow(ns: PidNamespace, numbers: readonly number[], level: number): void {
  for (let j = level + 1; j <= ns.level; j++) {
    const tmp = ns.chain[j]!;
    tmp.bitmap.clear(numbers[j]!);
    // alloc_pid's reset of a namespace whose first allocation failed: the cursor back to its start
    if (tmp.pids.size === 0) tmp.lastPid = tmp.rules.initialLastPid;
  }
}

/**
 * allocPidEclone is the eclone kernel's alloc_pid(ns, target_pids):
 * `targets[level]` (absent or 0 = auto) is checked by set_pidmap's rules.
 */
export function allocPidEclone(ns: PidNamespace, targets: readonly number[] | null): Pid {
  return allocPid(ns, takeTarget, targets);
}

/** takeTarget is one level of the eclone kernel's alloc_pid: set_pidmap for a target, alloc_pidmap for 0. */
function takeTarget(targets: readonly number[] | null, tmp: PidNamespace, level: number): number {
  const t = targets?.[level] ?? 0;
  if (t === 0) {
    const nr = allocAuto(tmp);
    if (nr < 0) exhausted(tmp, level);
    return nr;
  }
  if (t >= tmp.pidMax || t < 0 || (t < RESERVED_PIDS && tmp.lastPid >= RESERVED_PIDS)) refuseTarget(t, tmp, level);
  if (!tmp.bitmap.set(t)) fail('EBUSY', busyMessage(t, level));
  return t;
}

/**
 * refuseTarget fails with set_pidmap's first rule that `t` breaks. The
 * messages are made here, not in takeTarget, which every eclone runs once
 * a level: their bytecode there would count against what the JIT inlines.
 */
function refuseTarget(t: number, tmp: PidNamespace, level: number): never {
  if (t >= tmp.pidMax) fail('EINVAL', `pid ${t} at level ${level} is not below pid_max ${tmp.pidMax}`);
  if (t < 0) fail('EINVAL', `pid ${t} at level ${level} is negative`);
  fail('EINVAL', `pid ${t} at level ${level} is below ${RESERVED_PIDS} and the namespace has wrapped (last_pid ${tmp.lastPid})`);
}

/** exhausted fails with the personality's errno for a level with no automatic pid free (personality.ts autoExhausted). */
function exhausted(tmp: PidNamespace, level: number): never {
  fail(tmp.rules.autoExhausted, `no free pid at level ${level} (pid_max ${tmp.pidMax})`);
}

function busyMessage(t: number, level: number): string {
  return `pid ${t} is in use at level ${level}`;
}

/**
 * allocPidSetTid is mainline alloc_pid(ns, set_tid, set_tid_size): set_tid[0]
 * names `ns` itself, set_tid[1] its parent, and so on; levels past the array
 * are auto. `mayName(tmp)` is checkpoint_restore_ns_capable(tmp->user_ns).
 */
export function allocPidSetTid(ns: PidNamespace, setTid: readonly number[], mayName: (tmp: PidNamespace) => boolean): Pid {
  if (setTid.length > ns.level + 1) {
    fail('EINVAL', `set_tid_size ${setTid.length} exceeds the ${ns.level + 1} levels of the child's pid namespace`);
  }
  return allocPid(ns, takeSetTid, { setTid, mayName, innermost: ns.level });
}

/** SetTidCall is what each level of a clone3 set_tid allocation needs to know. */
interface SetTidCall {
  readonly setTid: readonly number[];
  readonly mayName: (tmp: PidNamespace) => boolean;
  /** the child's namespace level: set_tid[0] names it */
  readonly innermost: number;
}

/** takeSetTid is one level of mainline alloc_pid: a named level is checked, a level past set_tid is auto. */
function takeSetTid(call: SetTidCall, tmp: PidNamespace, level: number): number {
  const index = call.innermost - level;
  if (index >= call.setTid.length) {
    const nr = allocAuto(tmp);
    if (nr < 0) fail('EAGAIN', `no free pid at level ${level} (pid_max ${tmp.pidMax})`);
    return nr;
  }
  const tid = call.setTid[index]!;
  if (tid < 1 || tid >= tmp.pidMax) fail('EINVAL', `set_tid[${index}] = ${tid} is outside 1..${tmp.pidMax - 1}`);
  if (tid !== 1 && !tmp.childReaper) {
    fail('EINVAL', `set_tid[${index}] = ${tid}: the namespace at level ${level} has no init yet, so only pid 1 may be named`);
  }
  if (!call.mayName(tmp)) {
    fail('EPERM', `set_tid[${index}]: no CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN in the user namespace owning level ${level}`);
  }
  if (!tmp.bitmap.set(tid)) fail('EEXIST', `pid ${tid} is in use at level ${level}`);
  return tid;
}
