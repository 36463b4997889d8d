/**
 * Process groups and sessions (kernel/sys.c, 2.6.32): setsid, setpgid,
 * getpgid, getsid, getpgrp. Ids are returned as the caller's namespace sees
 * them, which is 0 for a group or session created outside it (pid_vnr).
 */
import { fail } from './kernel-error.js';
import { putPid, type Pid } from './pid.js';
import { wakeDeadInits } from './exit.js';
import type { HostState } from './host-state.js';
import type { Task } from './task.js';

/** findTask is find_task_by_vpid: pid 0 means the caller. */
function findTask(task: Task, pid: number): Task {
  if (pid === 0) return task;
  const t = task.activeNs.pids.get(pid)?.task;
  if (!t) fail('ESRCH', `no process ${pid}`);
  return t;
}

export function sysGetpgid(task: Task, pid: number): number {
  return findTask(task, pid).group.pgrp.nrIn(task.activeNs);
}

export function sysGetsid(task: Task, pid: number): number {
  return findTask(task, pid).group.session.nrIn(task.activeNs);
}

export function sysGetpgrp(task: Task): number {
  return task.group.pgrp.nrIn(task.activeNs);
}

/** sysSetsid makes the caller's process the leader of a new session and process group. */
export function sysSetsid(task: Task): number {
  const group = task.group;
  const sid = group.tgid;
  // Fail if any process group already has this id (the caller may not even be its leader).
  if (sid.pgrpUsers > 0) fail('EPERM', `a process group with id ${sid.nrIn(task.activeNs)} already exists`);
  group.sessionLeader = true;
  group.setSession(sid, putPid);
  group.setPgrp(sid, putPid);
  return sid.nrIn(task.activeNs);
}

/** sysSetpgid moves process `pid` (0: the caller) into process group `pgid` (0: its own pid). */
export function sysSetpgid(host: HostState, task: Task, pid: number, pgid: number): number {
  const ns = task.activeNs;
  const caller = task.group;
  if (pid === 0) pid = caller.tgid.nrIn(ns);
  if (pgid === 0) pgid = pid;
  if (pgid < 0) fail('EINVAL', `process group ${pgid} is negative`);
  const p = findTask(task, pid);
  if (!p.isLeader) fail('EINVAL', `${pid} is a thread, not a process`);
  const g = p.group;
  if (p.parent && p.parent.group === caller) {
    if (g.session !== caller.session) fail('EPERM', `child ${pid} is in another session`);
    // did_exec is never set: the model has no execve, so EACCES cannot arise.
  } else if (g !== caller) {
    fail('ESRCH', `${pid} is neither the caller nor one of its children`);
  }
  if (g.sessionLeader) fail('EPERM', `${pid} is a session leader`);
  let target = g.tgid;
  if (pgid !== pid) {
    const pgrp = ns.pids.get(pgid);
    if (!pgrp || pgrp.pgrpUsers === 0) fail('EPERM', `no process group ${pgid} in the caller's session`);
    const member = anyMember(task, pgrp);
    if (!member || member.group.session !== caller.session) fail('EPERM', `process group ${pgid} is in another session`);
    target = pgrp;
  }
  const old = g.pgrp;
  g.setPgrp(target, putPid);
  // free_pid wakes a dead init waiting for its namespace to empty (mainline): the group may have held
  // the last other pid of it, e.g. an init moved back to a group of its own by its parent
  if (old !== target && !old.inUse && old.level > 0) wakeDeadInits(host, old);
  return 0;
}

/** anyMember finds a live or zombie process whose group is `pgrp` (pid_task(pgrp, PIDTYPE_PGID)). */
function anyMember(task: Task, pgrp: Pid): Task | null {
  for (const p of task.activeNs.pids.values()) {
    const t = p.task;
    if (t && t.isLeader && t.group.pgrp === pgrp) return t;
  }
  return null;
}
