/**
 * fork(2) and clone(2) through the model's one fork path. clone's raw
 * argument order differs per architecture (CLONE_BACKWARDS on i386 and
 * powerpc, CLONE_BACKWARDS2 on s390; docs/semantics.md §6.4).
 */
import { CSIGNAL, CLONE_PIDFD } from '../abi/clone-flags.js';
import { SIGCHLD } from '../abi/signals.js';
import { checkNewUser, copyProcess } from './copy-process.js';
import type { HostState } from './host-state.js';
import { allocPidEclone } from './pid-allocator.js';
import type { SyscallArgs } from './syscall-args.js';
import type { Task } from './task.js';

export function sysFork(host: HostState, task: Task): number {
  const child = copyProcess(host, task, {
    flags: 0,
    exitSignal: SIGCHLD,
    stack: 0,
    tls: 0,
    parentTid: 0,
    childTid: 0,
    allocate: (ns) => allocPidEclone(ns, null),
  });
  return child.pid.nrIn(task.activeNs);
}

/** CloneArgsRaw is clone's arguments after undoing the arch's order: (flags, newsp, parent_tid, child_tid, tls). */
export interface CloneArgsRaw {
  flags: number;
  newsp: number;
  parentTid: number;
  childTid: number;
  tls: number;
}

/** cloneArgs reads clone's arguments in the caller ABI's order. */
export function cloneArgs(task: Task, a: SyscallArgs): CloneArgsRaw {
  switch (task.abi.syscall.cloneOrder) {
    case 'backwards': // (flags, newsp, parent_tid, tls, child_tid)
      return { flags: a.u32(0), newsp: a.word(1), parentTid: a.word(2), tls: a.word(3), childTid: a.word(4) };
    case 'backwards2': // (newsp, flags, parent_tid, child_tid, tls)
      return { newsp: a.word(0), flags: a.u32(1), parentTid: a.word(2), childTid: a.word(3), tls: a.word(4) };
    case 'default':
      return { flags: a.u32(0), newsp: a.word(1), parentTid: a.word(2), childTid: a.word(3), tls: a.word(4) };
  }
}

/** sysClone is the eclone kernel's clone: flags' low byte is the exit signal; 0x1000 is CLONE_UNUSED there and ignored. */
export function sysClone(host: HostState, task: Task, a: SyscallArgs): number {
  const raw = cloneArgs(task, a);
  const flags = (raw.flags & ~CLONE_PIDFD) >>> 0;
  checkNewUser(task, flags);
  const child = copyProcess(host, task, {
    flags,
    exitSignal: flags & CSIGNAL,
    stack: raw.newsp,
    tls: raw.tls,
    parentTid: raw.parentTid,
    childTid: raw.childTid,
    allocate: (ns) => allocPidEclone(ns, null),
  });
  return child.pid.nrIn(task.activeNs);
}
