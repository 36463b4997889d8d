/**
 * Exit, zombies, reparenting and the death of a pid namespace's init
 * (kernel/exit.c do_exit, exit_notify, forget_original_parent,
 * release_task; kernel/pid_namespace.c zap_pid_ns_processes).
 *
 * - A thread other than the leader is released as soon as it exits.
 * - The leader becomes a zombie; it can be reaped only once every thread of
 *   its group has exited (delay_group_leader), and then its parent is told.
 * - Children of an exiting task go to a live thread of its group, else to its
 *   pid namespace's child reaper.
 * - An exit that orphans a process group with a stopped member sends the
 *   group SIGHUP and SIGCONT (orphaned-pgrp.ts).
 * - When the last thread of a namespace's init exits, the namespace stops
 *   accepting pids, every task in it (and so in every namespace below it) is
 *   killed, and the init reaps its children. On mainline it then waits
 *   until every other pid of its namespace is freed (by the parents outside
 *   of processes it could not reap) before it can be reaped itself.
 * - On mainline the last thread to exit sets the process's wait status.
 */
import { SIGCHLD, SIGKILL } from '../abi/signals.js';
import { KernelPanic } from './kernel-error.js';
import { killOrphanedPgrp } from './orphaned-pgrp.js';
import type { HostState } from './host-state.js';
import { putPid, type Pid } from './pid.js';
import type { PidNamespace } from './pid-namespace.js';
import type { Task } from './task.js';
import type { ThreadGroup } from './thread-group.js';
import { tryPutUserInt } from './uaccess.js';

/** exitStatus encodes a normal exit for wait4: (code & 0xff) << 8. */
export function exitStatus(code: number): number {
  return (code & 0xff) << 8;
}

/** isReapable reports whether a zombie leader can be waited for: its whole group has exited (and, for a dead namespace init on mainline, its namespace has emptied). */
export function isReapable(t: Task): boolean {
  return t.exited && t.isLeader && t.group.threadCount === 0 && !waitsForNamespace(t);
}

/**
 * waitsForNamespace: a namespace init on mainline stays in do_exit, not yet
 * a zombie, until its namespace holds no pid but its own
 * (kernel/pid_namespace.c zap_pid_ns_processes, v6.12: pid_allocated ==
 * init_pids; personality.ts initWaitsForNamespace). Only the processes of
 * the namespace whose parents are outside it can still be unreaped then.
 */
function waitsForNamespace(t: Task): boolean {
  const ns = t.pid.ns;
  if (ns.accepting || !ns.rules.initWaitsForNamespace) return false;
  const reaper = ns.childReaper;
  return reaper !== null && reaper.group === t.group && ns.pids.size > 1;
}

/** wakeDeadInits tells the parent of each dead namespace init the freeing of `pid`'s numbers let go (mainline: the last other pid of its namespace). */
export function wakeDeadInits(host: HostState, numbers: Pid): void {
  for (let level = numbers.ns.level; level > 0; level--) {
    const ns = numbers.ns.chain[level]!;
    if (ns.accepting || !ns.rules.initWaitsForNamespace || ns.pids.size !== 1) continue;
    const init = ns.childReaper?.group.leader;
    if (init && init.pid.ns === ns && host.tasks.has(init) && isReapable(init)) notifyParent(host, init);
  }
}

/** waitStatusOf is the status a waiter sees for a reapable zombie. */
export function waitStatusOf(t: Task): number {
  return t.group.groupExitStatus ?? t.exitStatus;
}

/** wakeWaiters makes the threads of `group` blocked in wait4 runnable again; they re-issue the call. */
export function wakeWaiters(host: HostState, group: ThreadGroup): void {
  for (const t of group.threadList()) {
    if (t.blockedIn !== 'wait4') continue;
    t.blockedIn = null;
    host.wakeups++;
  }
}

/** notifyParent is do_notify_parent: tell the parent a child changed state. */
function notifyParent(host: HostState, child: Task): void {
  const parent = child.parent;
  if (parent) wakeWaiters(host, parent.group);
}

/** releaseTask frees what a reaped (or self-reaping) task still holds: its pid, and for a leader the group's pgrp and session. */
export function releaseTask(host: HostState, t: Task): void {
  host.tasks.delete(t);
  t.parent?.removeChild(t);
  t.pid.task = null;
  if (t.isLeader) t.group.detach(putPid);
  putPid(t.pid);
  if (t.pid.ns.level > 0) wakeDeadInits(host, t.pid);
}

/** exitGroup kills every thread of `group` with one wait status (do_group_exit). */
export function exitGroup(host: HostState, group: ThreadGroup, status: number): void {
  if (group.groupExitStatus === null) group.groupExitStatus = status;
  group.stopped = false;
  const threads = group.threadList();
  // Non-leaders first, so the leader's exit finds its group empty.
  for (const t of threads) if (!t.isLeader) exitThread(host, t, status);
  for (const t of threads) if (t.isLeader) exitThread(host, t, status);
}

/** exitThread is do_exit for one task. */
export function exitThread(host: HostState, t: Task, status: number): void {
  if (t.exited) return;
  const group = t.group;
  if (group.unkillable && t.activeNs === host.rootPidNs && group.threadCount === 1 && group.hasThread(t)) {
    throw new KernelPanic('Attempted to kill init!');
  }
  t.exited = true;
  t.exitStatus = status;
  t.blockedIn = null;
  group.deleteThread(t);
  // synchronize_group_exit (kernel/exit.c, v6.12): the last thread out sets the group's code
  if (group.threadCount === 0 && group.groupExitStatus === null && host.rules.lastThreadExitCode) group.groupExitStatus = status;
  releaseMemory(t);
  if (group.threadCount === 0 && --group.files.users === 0) group.files.clear();
  forgetOriginalParent(host, t);
  // exit_notify: the group's death may orphan its own process group.
  if (group.threadCount === 0) killOrphanedPgrp(host, group.leader, null);
  if (!t.isLeader) {
    releaseTask(host, t);
    const leader = group.leader;
    if (leader.exited && group.threadCount === 0) notifyParent(host, leader);
    return;
  }
  if (group.threadCount === 0) notifyParent(host, t);
}

/** releaseMemory is exit_mm: clear_child_tid for a shared address space, the task keeps the dumpable flag (user_dumpable), then mmput. */
function releaseMemory(t: Task): void {
  const mm = t.mm;
  if (t.clearChildTid !== 0 && mm.users > 1) tryPutUserInt(t, t.clearChildTid, 0);
  if (mm.nondumpable) t.recordNotDumpable();
  if (--mm.users === 0) mm.release();
}

/** findNewReaper chooses who inherits an exiting task's children (find_new_reaper). */
function findNewReaper(host: HostState, t: Task): Task | null {
  const ns = t.activeNs;
  const sibling = firstLiveThread(t.group);
  if (ns.childReaper === t) {
    if (sibling) {
      ns.childReaper = sibling;
      return sibling;
    }
    zapPidNamespace(host, ns, t);
    return ns.parent?.childReaper ?? null;
  }
  return sibling ?? ns.childReaper;
}

function firstLiveThread(group: ThreadGroup): Task | null {
  for (const t of group.threadList()) if (!t.exited) return t;
  return null;
}

/** forgetOriginalParent hands an exiting task's children to their new reaper. */
function forgetOriginalParent(host: HostState, t: Task): void {
  // Even with no children, the reaper's exit must run: it may be the namespace's init.
  if (t.childCount === 0 && t.activeNs.childReaper !== t) return;
  const reaper = findNewReaper(host, t);
  for (const child of [...t.children()]) {
    t.removeChild(child);
    child.parent = reaper;
    // every thread of the child gets the new parent (kernel/exit.c forget_original_parent, v2.6.32 and v6.12)
    const threads = child.groupIfMade;
    if (threads) for (const th of threads.threadList()) th.parent = reaper;
    if (!reaper) continue;
    reaper.addChild(child);
    if (reaper.group === t.group) continue; // a threaded reparent: nobody need know (forget_original_parent)
    // reparent_leader: a child moving to another process signals its new parent with SIGCHLD,
    // and the move may orphan its process group.
    child.exitSignal = SIGCHLD;
    if (isReapable(child)) notifyParent(host, child);
    killOrphanedPgrp(host, child, t);
  }
}

/**
 * zapPidNamespace is what the death of a namespace's init does: disable
 * allocation, SIGKILL every other task in the namespace in ascending pid
 * order (tasks of nested namespaces have numbers here too), then reap every
 * child of the dying init.
 */
export function zapPidNamespace(host: HostState, ns: PidNamespace, init: Task): void {
  ns.accepting = false;
  const victims = [...ns.pids.entries()]; // ascending pid order
  for (const [, pid] of victims) {
    const victim = pid.task;
    if (!victim || victim.exited || victim.group === init.group) continue;
    exitGroup(host, victim.group, SIGKILL);
  }
  // kernel_wait4 until ECHILD: reaping one child may let another be reaped (on mainline, a nested
  // namespace's init waiting for a process of its namespace that is also a child of this init)
  for (let reaped = true; reaped; ) {
    reaped = false;
    for (const child of [...init.children()]) {
      if (!isReapable(child)) continue;
      releaseTask(host, child);
      reaped = true;
    }
  }
}
