/**
 * copyHost makes an independent host in exactly the state of another: the
 * same snapshot, and it continues the same way. Shared objects stay shared
 * in the copy (page frames copy-on-write, address spaces, file tables, FPU
 * states, pids), so sharing is part of what is copied. A restore works on
 * such a copy and keeps it only when every step succeeded.
 */
import { Console } from './console.js';
import { UserNamespace } from './credentials.js';
import { FileTable, type OpenFile } from './files.js';
import { Host } from './host.js';
import { MemoryMap, type Page } from './memory-map.js';
import { Pid } from './pid.js';
import { PidNamespace } from './pid-namespace.js';
import { copyExtraState, Task } from './task.js';
import { ThreadGroup } from './thread-group.js';

/** HostCopy is the copy and how to find, in it, the counterpart of one of the original's tasks, consoles or page frames (undefined for a frame no task holds). */
export interface HostCopy {
  host: Host;
  taskOf(t: Task): Task;
  consoleOf(c: Console): Console;
  pageOf(p: Page): Page | undefined;
}

/** Memo copies each distinct object once: the second time it is met, its copy is returned; `made` maps originals to copies. */
interface Memo<T, U> {
  (item: T): U;
  readonly made: ReadonlyMap<T, U>;
}

function memo<T, U>(copy: (item: T) => U): Memo<T, U> {
  const made = new Map<T, U>();
  const of = (item: T): U => {
    let c = made.get(item);
    if (c === undefined) made.set(item, (c = copy(item)));
    return c;
  };
  return Object.assign(of, { made });
}

export function copyHost(host: Host): HostCopy {
  const userNs = memo((u: UserNamespace): UserNamespace => {
    const c = new UserNamespace(u.parent ? userNs(u.parent) : null, u.ownerUid);
    c.id = u.id;
    return c;
  });
  const pidNs = memo((n: PidNamespace): PidNamespace => {
    const c = new PidNamespace(n.parent ? pidNs(n.parent) : null, userNs(n.userNs), n.pidMax, n.rules, n.capacity);
    c.id = n.id;
    c.lastPid = n.lastPid;
    c.accepting = n.accepting;
    return c;
  });
  const pidOf = memo((p: Pid): Pid => new Pid(pidNs(p.ns), [...p.numbers]));
  const consoleOf = memo((c: Console): Console => {
    const copy = new Console(c.name);
    if (c.text.length > 0) copy.write(new TextEncoder().encode(c.text));
    return copy;
  });
  const files = memo((f: FileTable): FileTable => {
    const copy = new FileTable();
    for (const [fd, o] of f.entries()) {
      const file: OpenFile = o.kind === 'pidfd' ? { ...o, pid: pidOf(o.pid) } : o.kind === 'console' ? { ...o, console: consoleOf(o.console) } : { ...o };
      copy.set(fd, file);
    }
    copy.users = f.users;
    return copy;
  });
  // a frame shared by several address spaces is copied once: they all share the copy
  const pages = new Map<Page, Page>();
  const page = (p: Page, size: number): Page => {
    let c = pages.get(p);
    if (c === undefined) pages.set(p, (c = { bytes: p.bytes.slice(p.at, p.at + size), at: 0, refs: 0, shared: p.shared }));
    return c;
  };
  const space = memo((mm: MemoryMap): MemoryMap => MemoryMap.restore(mm.layout, mm.mappings(), mm.users, (add) => mm.forEachPage((index, p) => add(index, page(p, mm.pageSize)))));
  const fpu = memo((f: Uint8Array): Uint8Array => f.slice());

  const originals = [...host.tasks];
  const copies = new Map<Task, Task>();
  for (const t of originals) {
    const pid = pidOf(t.pid);
    const c = new Task(pid, t.abi, t.regs, fpu(t.fpu), copyExtraState(Object.entries(t.extra)), space(t.mm), { ...t.creds, userNs: userNs(t.creds.userNs) }, t.comm);
    pid.task = c;
    c.exitSignal = t.exitSignal;
    c.exited = t.exited;
    if (t.nondumpable) c.recordNotDumpable();
    c.exitStatus = t.exitStatus;
    c.blockedIn = t.blockedIn;
    c.sleepUntil = t.sleepUntil;
    c.exePath = t.exePath;
    c.clearChildTid = t.clearChildTid;
    c.pidNsForChildren = pidNs(t.pidNsForChildren);
    copies.set(t, c);
  }
  const taskOf = (t: Task): Task => {
    const c = copies.get(t);
    if (!c) throw new RangeError(`task ${t.pid.nr} is not a task of the host being copied`);
    return c;
  };
  const group = memo((g: ThreadGroup): ThreadGroup => {
    const c = new ThreadGroup(taskOf(g.leader), pidOf(g.pgrp), pidOf(g.session), files(g.files));
    for (const t of g.threadList()) c.addThread(taskOf(t));
    c.unkillable = g.unkillable;
    c.sessionLeader = g.sessionLeader;
    c.stopped = g.stopped;
    c.stopSignal = g.stopSignal;
    c.stopReportPending = g.stopReportPending;
    c.continueReportPending = g.continueReportPending;
    c.groupExitStatus = g.groupExitStatus;
    return c;
  });
  for (const t of originals) {
    const c = taskOf(t);
    c.group = group(t.group);
    c.parent = t.parent ? taskOf(t.parent) : null;
    for (const k of t.children()) c.addChild(taskOf(k));
  }
  // Numbers are allocated exactly for the pids something uses (a pidfd alone keeps none).
  for (const pid of pidOf.made.values()) {
    if (!pid.inUse) continue;
    pid.numbers.forEach((nr, level) => {
      const ns = pid.ns.chain[level]!;
      ns.bitmap.set(nr);
      ns.pids.set(nr, pid);
    });
  }
  // A namespace whose init has been reaped keeps no reaper that is still a task.
  for (const [ns, c] of pidNs.made) c.childReaper = ns.childReaper ? copies.get(ns.childReaper) ?? null : null;
  const { nextPidNsId, nextUserNsId } = host.idCounters;
  const copy = Host.restore(host.arch, host.pidMax, {
    rootUserNs: userNs(host.rootUserNs),
    rootPidNs: pidNs(host.rootPidNs),
    init: taskOf(host.init),
    tasks: originals.map(taskOf),
    clock: host.clock,
    nextPidNsId,
    nextUserNsId,
  });
  return { host: copy, taskOf, consoleOf, pageOf: (p) => pages.get(p) };
}
