/**
 * pidfd_open(pid, flags) (kernel/pid.c pidfd_open; pidfd_open(2)): a file
 * descriptor that refers to a process, as clone3's CLONE_PIDFD gives.
 * Order: unknown flags, then pid <= 0 (EINVAL); a pid the caller's namespace
 * does not know (ESRCH). Then, on mainline (kernel/fork.c pidfd_prepare,
 * v6.15): a pid with no task left ESRCH, a thread that does not lead its
 * group ENOENT; on 2.6.32 the model keeps Linux 5.10's EINVAL for both
 * (pid_has_task(PIDTYPE_TGID); personality.ts pidfdNonLeader).
 */
import { O_RDWR } from './files.js';
import { fail } from './kernel-error.js';
import type { Pid } from './pid.js';
import type { Task } from './task.js';

/** PIDFD_NONBLOCK is O_NONBLOCK (the same value on every modelled ABI). */
export const PIDFD_NONBLOCK = 0o4000;

export function sysPidfdOpen(task: Task, pid: number, flags: number): number {
  if ((flags >>> 0 & ~PIDFD_NONBLOCK) !== 0) fail('EINVAL', `pidfd_open flags 0x${(flags >>> 0).toString(16)} has unknown bits`);
  if (pid <= 0) fail('EINVAL', `pid ${pid} is not positive`);
  const p = task.activeNs.pids.get(pid);
  if (!p) fail('ESRCH', `no process ${pid} in the caller's pid namespace`);
  const t = p.task;
  const nonLeader = task.activeNs.rules.pidfdNonLeader;
  if (!t) fail(nonLeader === 'ENOENT' ? 'ESRCH' : 'EINVAL', `pid ${pid} has no process left (only a process group or session holds it)`);
  if (t.group.leader !== t) fail(nonLeader, `pid ${pid} is not a thread-group leader`);
  return installPidfd(task, p, O_RDWR | (flags & PIDFD_NONBLOCK));
}

/** installPidfd puts a pidfd for `pid` at the caller's lowest free descriptor (pidfd_open, clone3's CLONE_PIDFD), or fails with EMFILE. */
export function installPidfd(task: Task, pid: Pid, flags: number): number {
  const fd = task.group.files.install({ kind: 'pidfd', flags, pid });
  if (fd < 0) fail('EMFILE', 'no free file descriptor for the pidfd');
  return fd;
}
