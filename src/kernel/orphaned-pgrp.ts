/**
 * Orphaned process groups (POSIX.1 §3.2.2.2; kernel/exit.c kill_orphaned_pgrp,
 * will_become_orphaned_pgrp, has_stopped_jobs). A process group is orphaned
 * when no member has a parent in another process group of the same session:
 * nobody is left who could continue its stopped jobs. When an exit, or the
 * reparenting an exit causes, orphans a group that has a stopped member,
 * every member is sent SIGHUP and then SIGCONT, from the kernel (a
 * namespace's init ignores the SIGHUP and is only continued).
 */
import { SIGCONT, SIGHUP } from '../abi/signals.js';
import type { HostState } from './host-state.js';
import type { Pid } from './pid.js';
import type { Task } from './task.js';
import { hasStoppedJobs, type ThreadGroup } from './thread-group.js';

/**
 * killOrphanedPgrp checks `leader`'s process group, as kill_orphaned_pgrp:
 * with `father` null, after `leader`'s thread group has died (its own parent
 * was perhaps the group's last link outside); with `father`, after `leader`
 * was taken from the exiting `father` and reparented (father was perhaps
 * that link).
 */
export function killOrphanedPgrp(host: HostState, leader: Task, father: Task | null): void {
  const parent = father ?? leader.parent;
  if (!parent) return;
  const pgrp = leader.processGroup;
  // The cheap tests first: most exits end here, and the walk below is over every task of the host.
  if (parent.processGroup === pgrp || parent.session !== leader.session || !hasStoppedJobs(pgrp)) return;
  const members = membersOf(host, pgrp);
  if (!willBecomeOrphaned(members, pgrp, father ? null : leader)) return;
  // The kernel sends both under one lock and the members die later; here SIGHUP ends them at once, so a member that is gone gets no SIGCONT.
  for (const g of members) host.signalFromKernel(g, SIGHUP);
  for (const g of members) host.signalFromKernel(g, SIGCONT);
}

/**
 * isOrphaned is is_current_pgrp_orphaned for a member of `pgrp`: a stop
 * signal other than SIGSTOP that would stop the member is discarded instead
 * (kernel/signal.c get_signal), since nobody outside could continue it.
 */
export function isOrphaned(host: HostState, pgrp: Pid): boolean {
  return willBecomeOrphaned(membersOf(host, pgrp), pgrp, null);
}

/** membersOf lists the thread groups in process group `pgrp`, zombies included (the leaders attached to it as PIDTYPE_PGID), oldest first. */
function membersOf(host: HostState, pgrp: Pid): ThreadGroup[] {
  const groups: ThreadGroup[] = [];
  for (const t of host.tasks) if (t.processGroup === pgrp && t.isLeader) groups.push(t.group);
  return groups;
}

/**
 * willBecomeOrphaned is will_become_orphaned_pgrp: no member other than
 * `ignored` has a parent in another group of its session. Members whose
 * whole group has exited do not count, nor do children of the global init.
 */
function willBecomeOrphaned(members: readonly ThreadGroup[], pgrp: Pid, ignored: Task | null): boolean {
  for (const g of members) {
    const p = g.leader;
    const parent = p.parent;
    if (p === ignored || (p.exited && g.threadCount === 0) || !parent || isGlobalInit(parent)) continue;
    if (parent.processGroup !== pgrp && parent.session === g.session) return false;
  }
  return true;
}

/** isGlobalInit is is_global_init: a thread of the root namespace's init (tgid 1). */
function isGlobalInit(t: Task): boolean {
  return t.group.tgid.nr === 1;
}
