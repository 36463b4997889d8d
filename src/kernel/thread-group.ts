/**
 * ThreadGroup is a process: the tasks sharing one tgid (the leader's pid),
 * with the process-wide state of signal_struct: process group and session
 * (attached to the group, as PIDTYPE_PGID/SID hang off the leader), stop and
 * continue state for wait4, the group exit code, and the open-file table.
 */
import type { Pid } from './pid.js';
import type { Task } from './task.js';
import { FileTable } from './files.js';

export class ThreadGroup {
  /** the live threads: one kept as is, a Set only from the second on (most groups never have one) */
  private only: Task | null = null;
  private all: Set<Task> | null = null;
  /** SIGNAL_UNKILLABLE: set on a pid namespace's init */
  unkillable = false;
  /** signal->leader: this process created its session with setsid */
  sessionLeader = false;
  stopped = false;
  /** the signal that stopped the group, reported by WUNTRACED */
  stopSignal = 0;
  /** a stop or continue not yet reported to a WUNTRACED / WCONTINUED waiter */
  stopReportPending = false;
  continueReportPending = false;
  /** SIGNAL_GROUP_EXIT: the wait status the whole group exits with */
  groupExitStatus: number | null = null;
  /** the open-file table; null stands for an empty one of the group's own, made on first use */
  private fileTable: FileTable | null;

  constructor(
    public leader: Task,
    public pgrp: Pid,
    public session: Pid,
    /** the group's table, or null for a new empty one (a fork of a process with no open files) */
    files: FileTable | null,
  ) {
    this.fileTable = files;
    pgrp.pgrpUsers++;
    session.sessionUsers++;
  }

  /**
   * files is the group's open-file table. A fork copies its parent's table,
   * and most processes of a model host open none: the copy of an empty table
   * is left unmade until something looks at it, which then gets an empty
   * table of the group's own, exactly what the copy would have been.
   */
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

  /** threadCount: how many live threads, leader included until it exits. */
  get threadCount(): number {
    return this.all ? this.all.size : this.only ? 1 : 0;
  }

  /** threadList lists the live threads. */
  threadList(): Task[] {
    return this.all ? [...this.all] : this.only ? [this.only] : [];
  }

  hasThread(t: Task): boolean {
    return this.all ? this.all.has(t) : this.only === t;
  }

  /** addThread joins a thread to the group (copy_process); the Set is made with the second one. */
  addThread(t: Task): void {
    if (this.all) this.all.add(t);
    else if (this.only) {
      this.all = new Set([this.only, t]);
      this.only = null;
    } else this.only = t;
  }

  /** deleteThread removes a thread that has exited. */
  deleteThread(t: Task): void {
    if (this.all) this.all.delete(t);
    else if (this.only === t) this.only = null;
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
    old.pgrpUsers--;
    put(old);
  }

  /** setSession moves the group to another session (change_pid PIDTYPE_SID). */
  setSession(session: Pid, put: (p: Pid) => void): void {
    if (session === this.session) return;
    const old = this.session;
    session.sessionUsers++;
    this.session = session;
    old.sessionUsers--;
    put(old);
  }

  /** detach drops the group's process group and session references (at release). */
  detach(put: (p: Pid) => void): void {
    this.pgrp.pgrpUsers--;
    this.session.sessionUsers--;
    put(this.pgrp);
    put(this.session);
  }
}
