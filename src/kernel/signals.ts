/**
 * kill(2) and signal delivery, reduced to the default actions (the model has
 * no handlers): SIGKILL and the terminating signals end the thread group;
 * SIGSTOP and the other stop signals stop it (the others not in an orphaned
 * process group); SIGCONT resumes it; SIGCHLD,
 * SIGURG and SIGWINCH are ignored. A pid namespace's init ignores every
 * signal sent from inside its namespace; from an ancestor namespace only
 * SIGKILL and SIGSTOP reach it (pid_namespaces(7)).
 */
import { CAP_KILL } from '../abi/capabilities.js';
import { NSIG, SIGCONT, SIGKILL, SIGSTOP } from '../abi/signals.js';
import { capableIn } from './credentials.js';
import { exitGroup, wakeWaiters } from './exit.js';
import { fail } from './kernel-error.js';
import { isOrphaned } from './orphaned-pgrp.js';
import type { HostState } from './host-state.js';
import type { Task } from './task.js';
import type { ThreadGroup } from './thread-group.js';

const IGNORED = new Set([17 /* SIGCHLD */, 23 /* SIGURG */, 28 /* SIGWINCH */]);
const STOPPING = new Set([SIGSTOP, 20 /* SIGTSTP */, 21 /* SIGTTIN */, 22 /* SIGTTOU */]);

/** a fault's signal (force_sig): with no handler it reaches even an init, whose SIGNAL_UNKILLABLE it clears */
export const FORCED = 'forced';
/** a signal the kernel sends of its own accord (SEND_SIG_PRIV): an init still ignores it, but for SIGKILL and SIGSTOP */
export const FROM_KERNEL = 'kernel';

/** Sender is who a signal comes from: a task (kill(2)), or the kernel. */
export type Sender = Task | typeof FORCED | typeof FROM_KERNEL;

/** initIgnores is sig_task_ignored for the init of `group`'s namespace: whether it drops `sig` coming from `sender`. */
function initIgnores(sender: Sender, group: ThreadGroup, sig: number): boolean {
  if (!group.unkillable || sender === FORCED) return false;
  const kernelOnly = sig === SIGKILL || sig === SIGSTOP;
  if (sender === FROM_KERNEL) return !kernelOnly;
  const initNs = group.leader.activeNs;
  const fromAncestor = sender.activeNs.level < initNs.level && sender.activeNs.isAncestorOf(initNs);
  return !(fromAncestor && kernelOnly);
}

/** deliver applies `sig`'s default action to a thread group. */
export function deliver(host: HostState, sender: Sender, group: ThreadGroup, sig: number): void {
  if (sig === 0 || group.threadCount === 0 || group.groupExitStatus !== null) return;
  // prepare_signal resumes a stopped group on SIGCONT before anything may ignore the signal: even an init that ignores it is continued.
  if (sig === SIGCONT) {
    if (group.stopped) {
      group.stopped = false;
      host.wakeups++;
      group.stopReportPending = false;
      group.continueReportPending = true;
      notifyParentOf(host, group);
    }
    return;
  }
  if (initIgnores(sender, group, sig)) return;
  if (IGNORED.has(sig)) return;
  if (STOPPING.has(sig)) {
    // get_signal drops SIGTSTP, SIGTTIN and SIGTTOU for a member of an orphaned process group: only SIGSTOP stops it
    if (sig !== SIGSTOP && isOrphaned(host, group.leader.processGroup)) return;
    if (!group.stopped) {
      group.stopped = true;
      group.stopSignal = sig;
      group.stopReportPending = true;
      group.continueReportPending = false;
      notifyParentOf(host, group);
    }
    return;
  }
  exitGroup(host, group, sig); // killed by a signal: the status is the signal number
}

function notifyParentOf(host: HostState, group: ThreadGroup): void {
  const parent = group.leader.parent;
  if (parent) wakeWaiters(host, parent.group);
}

/**
 * mayKill is check_kill_permission: a thread of the target's own group, matching
 * uids or CAP_KILL in the target's user namespace (kill_ok_by_cred), or for
 * SIGCONT, a sender in the target's session (kill(2)). Credentials are per
 * thread: both sides' are those of one task, the sending thread and the task
 * the pid names (kill_pid_info's pid_task(pid, PIDTYPE_PID): for a tid, that
 * thread, not its leader; a process group or kill(-1) names leaders).
 */
function mayKill(sender: Task, target: Task, sig: number): boolean {
  const group = target.group;
  if (sender.group === group) return true;
  const s = sender.creds;
  const t = target.creds;
  if (s.euid === t.suid || s.euid === t.uid || s.uid === t.suid || s.uid === t.uid) return true;
  if (capableIn(s, CAP_KILL, t.userNs)) return true;
  return sig === SIGCONT && group.session === sender.group.session;
}

/** sysKill is kill(pid, sig) with the pid selectors of kill(2), seen from the caller's namespace. */
export function sysKill(host: HostState, task: Task, pid: number, sig: number): number {
  if (sig < 0 || sig > NSIG) fail('EINVAL', `signal ${sig} is not valid`);
  const ns = task.activeNs;
  if (pid > 0) {
    const target = ns.pids.get(pid)?.task;
    if (!target) fail('ESRCH', `no process ${pid}`);
    if (!mayKill(task, target, sig)) fail('EPERM', `not allowed to signal process ${pid}`);
    deliver(host, task, target.group, sig);
    return 0;
  }
  // Every group a selector names, in ascending pid order of the caller's namespace.
  const groups: ThreadGroup[] = [];
  const seen = new Set<ThreadGroup>();
  const pgrp = pid === 0 ? task.group.pgrp : pid < -1 ? ns.pids.get(-pid) : undefined;
  if (pid < -1 && !pgrp) fail('ESRCH', `no process group ${-pid}`);
  for (const [nr, p] of ns.pids.entries()) {
    const t = p.task;
    if (!t || !t.isLeader || seen.has(t.group)) continue;
    if (pgrp ? t.group.pgrp !== pgrp : nr <= 1 || t.group === task.group) continue;
    seen.add(t.group);
    groups.push(t.group);
  }
  if (groups.length === 0) fail('ESRCH', pid === -1 ? 'no process to signal' : 'the process group is empty');
  let sent = 0;
  for (const g of groups) {
    if (!mayKill(task, g.leader, sig)) continue;
    deliver(host, task, g, sig);
    sent++;
  }
  if (sent === 0) fail('EPERM', 'not allowed to signal any of the processes');
  return 0;
}
