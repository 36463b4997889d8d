/**
 * ThreadGroup is a process: the tasks sharing one tgid (the leader's pid),
 * with the process-wide state of signal_struct: process group and session
 * (attached to the group, as PIDTYPE_PGID/SID hang off the leader), stop and
 * continue state for wait4, the group exit code, and the open-file table.
 */
import { NSIG } from '../abi/signals.js';
import type { Pid } from './pid.js';
import type { Task } from './task.js';
import { FileTable } from './files.js';

/**
 * The group's flags (the kernel's signal->flags and signal->leader), each a
 * bit of ThreadGroup.state and read and written as a boolean property.
 */
const FLAGS = {
  /** SIGNAL_UNKILLABLE: set on a pid namespace's init */
  unkillable: 1,
  /** signal->leader: this process created its session with setsid */
  sessionLeader: 2,
  /** SIGNAL_STOP_STOPPED: the group is stopped */
  stopped: 4,
  /** a stop not yet reported to a WUNTRACED waiter */
  stopReportPending: 8,
  /** a continue not yet reported to a WCONTINUED waiter */
  continueReportPending: 16,
} as const;

/** the stop signal is kept in the bits above the flags (signals are 1..NSIG) */
const STOP_SIGNAL_SHIFT = 8;
const FLAG_BITS = (1 << STOP_SIGNAL_SHIFT) - 1;

/** a new group's flags word: no flag set, no stop signal (the constructor's, and so fromFork's) */
const NEW_GROUP_STATE = 0;

/** GroupFlags: a group's flags, stop signal and group exit status as plain data (a host snapshot's) */
export interface GroupFlags {
  sessionLeader: boolean;
  unkillable: boolean;
  stopped: boolean;
  stopSignal: number;
  stopReportPending: boolean;
  continueReportPending: boolean;
  groupExitStatus: number | null;
}

/** flagsOf reads a flags word (ThreadGroup.state) and group exit status as GroupFlags. */
function flagsOf(state: number, groupExitStatus: number | null): GroupFlags {
  const on = (bit: number): boolean => (state & bit) !== 0;
  return {
    sessionLeader: on(FLAGS.sessionLeader),
    unkillable: on(FLAGS.unkillable),
    stopped: on(FLAGS.stopped),
    stopSignal: state >>> STOP_SIGNAL_SHIFT,
    stopReportPending: on(FLAGS.stopReportPending),
    continueReportPending: on(FLAGS.continueReportPending),
    groupExitStatus,
  };
}

/**
 * How many groups of each process group are stopped (attached to it, with
 * SIGNAL_STOP_STOPPED set): has_stopped_jobs in one look, where the kernel
 * walks the group's members. Kept beside struct pid rather than in it, since
 * every pid would carry the field and almost none ever needs it; kept up to
 * date by the `stopped` flag, setPgrp and detach, the only ways a group's
 * stop state or process group changes.
 */
const stoppedIn = new WeakMap<Pid, number>();

function countStopped(pgrp: Pid, delta: 1 | -1): void {
  const n = (stoppedIn.get(pgrp) ?? 0) + delta;
  if (n === 0) stoppedIn.delete(pgrp);
  else stoppedIn.set(pgrp, n);
}

/** hasStoppedJobs reports whether a group of process group `pgrp` is stopped (kernel/exit.c has_stopped_jobs). */
export function hasStoppedJobs(pgrp: Pid): boolean {
  return stoppedIn.has(pgrp);
}

/** each flag of FLAGS is a boolean property of a group (defined on the prototype by the class's static block) */
export interface ThreadGroup extends Record<keyof typeof FLAGS, boolean> {}

/**
 * ForkedGroup is what a fork without CLONE_THREAD leaves a process of no
 * open files until its group is first looked at: the process group and
 * session it joined, counted as users at the fork. Every such fork of a
 * process gets the same one while the process stays in that group and
 * session: a restorer's children, which mostly never run, cost no group
 * object each. ThreadGroup.fromFork makes the child's group from it.
 */
export class ForkedGroup {
  constructor(
    readonly pgrp: Pid,
    readonly session: Pid,
  ) {}
}

export class ThreadGroup {
  /** the live threads: the one task, a Set only from the second on (most groups never have one), or null */
  private threads: Task | Set<Task> | null = null;
  /**
   * The flags and the stop signal in one number: a host holds 100,000s of
   * groups, and the garbage collector copies every field of each twice.
   */
  private state = NEW_GROUP_STATE;

  // Each flag of FLAGS becomes a boolean accessor of one bit of `state`.
  static {
    for (const [name, bit] of Object.entries(FLAGS)) {
      Object.defineProperty(ThreadGroup.prototype, name, {
        get(this: ThreadGroup): boolean {
          return (this.state & bit) !== 0;
        },
        set(this: ThreadGroup, on: boolean) {
          const was = (this.state & bit) !== 0;
          this.state = on ? this.state | bit : this.state & ~bit;
          if (bit === FLAGS.stopped && was !== on) countStopped(this.pgrp, on ? 1 : -1);
        },
      });
    }
  }

  /** SIGNAL_GROUP_EXIT: the wait status the whole group exits with */
  groupExitStatus: number | null = null;
  /** the open-file table; null stands for an empty one of the group's own, made on first use */
  private fileTable: FileTable | null;
  /** what the last fork was given (fork), dropped when the group moves */
  private lastFork: ForkedGroup | null = null;

  constructor(
    public leader: Task,
    /** the process group: moved only by setPgrp, which keeps the count of stopped groups with it */
    public pgrp: Pid,
    /** the session: moved only by setSession */
    public session: Pid,
    /** the group's table, or null for a new empty one (a fork of a process with no open files) */
    files: FileTable | null,
    /** the process group and session already count this group as a user (a fork counted it) */
    counted = false,
  ) {
    this.fileTable = files;
    if (counted) return;
    pgrp.pgrpUsers++;
    session.sessionUsers++;
  }

  /** fromFork makes the group a fork left as `forked`, led by `leader`, taking over the users the fork counted. */
  static fromFork(leader: Task, forked: ForkedGroup): ThreadGroup {
    const group = new ThreadGroup(leader, forked.pgrp, forked.session, null, true);
    group.addThread(leader);
    return group;
  }

  /** forkedFlags: the flags of the group fromFork makes (a new group's), read without making one */
  static forkedFlags(): GroupFlags {
    return flagsOf(NEW_GROUP_STATE, null);
  }

  /** flags: the group's flags, stop signal and group exit status as plain data */
  get flags(): GroupFlags {
    return flagsOf(this.state, this.groupExitStatus);
  }

  /**
   * fork gives a child process that shares nothing of this group its start:
   * this group's process group and session, each counted one more user. The
   * same ForkedGroup serves every fork while they stay the same.
   */
  fork(): ForkedGroup {
    let forked = this.lastFork;
    if (forked === null || forked.pgrp !== this.pgrp || forked.session !== this.session) forked = this.lastFork = new ForkedGroup(this.pgrp, this.session);
    this.pgrp.pgrpUsers++;
    this.session.sessionUsers++;
    return forked;
  }

  /**
   * files is the group's open-file table. A fork copies its parent's table,
   * and most processes of a model host open none: the copy of an empty table
   * is left unmade until something looks at it, which then gets an empty
   * table of the group's own, exactly what the copy would have been.
   */
  /** filesIfMade is the open-file table when it has been made, else null (an empty one of the group's own): read without making it. */
  get filesIfMade(): FileTable | null {
    return this.fileTable;
  }

  get files(): FileTable {
    return (this.fileTable ??= new FileTable());
  }

  set files(table: FileTable) {
    this.fileTable = table;
  }

  /** filesForFork is the table a fork without CLONE_FILES gives its child: a copy, or null (empty, made on use) when nothing is open. */
  filesForFork(): FileTable | null {
    return this.fileTable && !this.fileTable.isEmpty ? this.fileTable.copy() : null;
  }

  /** the signal that stopped the group, reported by WUNTRACED; 0 before any stop */
  get stopSignal(): number {
    return this.state >>> STOP_SIGNAL_SHIFT;
  }

  set stopSignal(sig: number) {
    if (!Number.isInteger(sig) || sig < 0 || sig > NSIG) throw new RangeError(`stop signal ${sig} is not a signal number`);
    this.state = (this.state & FLAG_BITS) | (sig << STOP_SIGNAL_SHIFT);
  }

  /** threadCount: how many live threads, leader included until it exits. */
  get threadCount(): number {
    const t = this.threads;
    return t instanceof Set ? t.size : t ? 1 : 0;
  }

  /** threadList lists the live threads. */
  threadList(): Task[] {
    const t = this.threads;
    return t instanceof Set ? [...t] : t ? [t] : [];
  }

  hasThread(task: Task): boolean {
    const t = this.threads;
    return t instanceof Set ? t.has(task) : t === task;
  }

  /** addThread joins a thread to the group (copy_process); the Set is made with the second one. */
  addThread(task: Task): void {
    const t = this.threads;
    if (t instanceof Set) t.add(task);
    else this.threads = t ? new Set([t, task]) : task;
  }

  /** deleteThread removes a thread that has exited. */
  deleteThread(task: Task): void {
    const t = this.threads;
    if (t instanceof Set) t.delete(task);
    else if (t === task) this.threads = null;
  }

  /** tgid is the leader's pid. */
  get tgid(): Pid {
    return this.leader.pid;
  }

  /** setPgrp moves the group to another process group (change_pid PIDTYPE_PGID). */
  setPgrp(pgrp: Pid, put: (p: Pid) => void): void {
    if (pgrp === this.pgrp) return;
    const old = this.pgrp;
    pgrp.pgrpUsers++;
    this.pgrp = pgrp;
    if (this.stopped) {
      countStopped(old, -1);
      countStopped(pgrp, 1);
    }
    this.lastFork = null;
    old.pgrpUsers--;
    put(old);
  }

  /** setSession moves the group to another session (change_pid PIDTYPE_SID). */
  setSession(session: Pid, put: (p: Pid) => void): void {
    if (session === this.session) return;
    const old = this.session;
    session.sessionUsers++;
    this.session = session;
    this.lastFork = null;
    old.sessionUsers--;
    put(old);
  }

  /** detach drops the group's process group and session references (at release). */
  detach(put: (p: Pid) => void): void {
    if (this.stopped) countStopped(this.pgrp, -1);
    this.pgrp.pgrpUsers--;
    this.session.sessionUsers--;
    put(this.pgrp);
    put(this.session);
  }
}
