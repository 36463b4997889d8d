/**
 * wait4 (kernel/exit.c do_wait, 2.6.32): a thread waits for children of any
 * thread of its group (unless __WNOTHREAD), chosen by pid (>0), any (-1), its
 * own process group (0) or a process group (< -1). A zombie is reaped and its
 * pid freed at every level; WUNTRACED and WCONTINUED report stops and
 * continues once. No matching child: ECHILD. Nothing ready: 0 with WNOHANG,
 * else the caller blocks and re-issues the call when a child changes state.
 */
import { SIGCHLD } from '../abi/signals.js';
import { __WALL, __WCLONE, __WNOTHREAD, WAIT4_VALID_OPTIONS, WCONTINUED, WNOHANG, WUNTRACED } from '../abi/wait.js';
import { isReapable, releaseTask, waitStatusOf } from './exit.js';
import { fail } from './kernel-error.js';
import type { HostState } from './host-state.js';
import type { Pid } from './pid.js';
import type { Task } from './task.js';
import { putUserInt } from './uaccess.js';

/** BLOCKED is what a handler returns when the calling task must sleep and retry. */
export const BLOCKED = Symbol('blocked');

/** rusageSize is sizeof(struct rusage): two timevals and fourteen longs. */
function rusageSize(t: Task): number {
  return 18 * t.abi.wordSize;
}

/** WAIT_CONTINUED is the status of a continued child (0xffff). */
const WAIT_CONTINUED = 0xffff;

/**
 * threadsFrom lists the caller's thread group starting with the caller, then
 * the threads after it, wrapping round: do_wait looks at the caller's own
 * children first (kernel/exit.c do_wait, while_each_thread from current;
 * v2.6.32 and v6.12 alike).
 */
function threadsFrom(task: Task): Task[] {
  const all = task.group.threadList();
  const at = all.indexOf(task);
  return at <= 0 ? all : [...all.slice(at), ...all.slice(0, at)];
}

export function sysWait4(host: HostState, task: Task, pid: number, statusAddr: number, options: number, rusageAddr: number): number | typeof BLOCKED {
  if (((options >>> 0) & ~WAIT4_VALID_OPTIONS) !== 0) fail('EINVAL', `wait4 options 0x${(options >>> 0).toString(16)} has unknown bits`);
  const ns = task.activeNs;
  let wanted: Pid | undefined;
  let byPgrp: Pid | undefined;
  if (pid > 0) {
    wanted = ns.pids.get(pid);
    if (!wanted) fail('ECHILD', `no child with pid ${pid}`);
  } else if (pid === 0) {
    byPgrp = task.group.pgrp;
  } else if (pid < -1) {
    byPgrp = ns.pids.get(-pid);
    if (!byPgrp) fail('ECHILD', `no process group ${-pid}`);
  }
  const eligible = (c: Task): boolean => {
    if (wanted && c.pid !== wanted) return false;
    if (byPgrp && c.group.pgrp !== byPgrp) return false;
    // __WCLONE selects children whose exit signal is not SIGCHLD; __WALL takes both.
    if ((options & __WALL) === 0 && (c.exitSignal !== SIGCHLD) !== ((options & __WCLONE) !== 0)) return false;
    return true;
  };
  const waiters = (options & __WNOTHREAD) !== 0 ? [task] : threadsFrom(task);
  let found = false;
  for (const w of waiters) {
    for (const c of w.children()) {
      if (!eligible(c)) continue;
      found = true;
      if (isReapable(c)) {
        const nr = c.pid.nrIn(ns);
        const status = waitStatusOf(c);
        // wait_task_zombie: the child is released even when copying the status out faults.
        let fault: unknown = null;
        try {
          if (rusageAddr !== 0) task.mm.write(rusageAddr, new Uint8Array(rusageSize(task)));
          if (statusAddr !== 0) putUserInt(task, statusAddr, status);
        } catch (e) {
          fault = e;
        }
        releaseTask(host, c);
        if (fault) throw fault;
        return nr;
      }
      if (c.exited) continue;
      if ((options & WUNTRACED) !== 0 && c.group.stopped && c.group.stopReportPending) {
        if (statusAddr !== 0) putUserInt(task, statusAddr, (c.group.stopSignal << 8) | 0x7f);
        c.group.stopReportPending = false;
        return c.pid.nrIn(ns);
      }
      if ((options & WCONTINUED) !== 0 && c.group.continueReportPending) {
        if (statusAddr !== 0) putUserInt(task, statusAddr, WAIT_CONTINUED);
        c.group.continueReportPending = false;
        return c.pid.nrIn(ns);
      }
    }
  }
  if (!found) fail('ECHILD', 'no child matches');
  if ((options & WNOHANG) !== 0) return 0;
  return BLOCKED;
}
