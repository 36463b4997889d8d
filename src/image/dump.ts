/**
 * dumpContainer captures a container of a machine as a ContainerImage,
 * changing nothing. Pure: the image is plain data (the archive I/O is
 * elsewhere).
 */
import { LEGACY_KERNEL } from '../kernel/personality.js';
import type { Container } from '../container/container.js';
import type { Machine } from '../container/machine.js';
import type { UserNamespace } from '../kernel/credentials.js';
import type { FileTable } from '../kernel/files.js';
import type { MemoryMap, Page } from '../kernel/memory-map.js';
import type { Pid } from '../kernel/pid.js';
import type { PidNamespace } from '../kernel/pid-namespace.js';
import type { Task } from '../kernel/task.js';
import type { ContainerImage, FileRecord, ImageTask } from './container-image.js';
import { Indexer } from '../codec/indexer.js';
import { encodeAddressSpace } from '../codec/address-space-record.js';
import { copiedPages, framePages } from '../codec/image-pages.js';

/** DumpError says why a container cannot be checkpointed. */
export class DumpError extends Error {
  override readonly name = 'DumpError';
  readonly code = 'CKPT_DUMP_REFUSED';
}

/** refuseDump throws a DumpError: usable where an expression is wanted (`?? refuseDump(...)`). */
export function refuseDump(message: string): never {
  throw new DumpError(message);
}

export interface DumpOptions {
  /** told as tasks are recorded */
  onProgress?: (done: number, total: number) => void;
  /**
   * The image's pages are the machine's page frames themselves, not copies: for a caller that
   * encodes the image before the machine runs again (ckpt dump), saving a copy of all memory.
   */
  shareFrames?: boolean;
}

/** dumpContainer captures `container`. */
export function dumpContainer(m: Machine, container: Container, opts: DumpOptions = {}): ContainerImage {
  const { onProgress } = opts;
  const root = container.init.pid.ns;
  const base = root.level;
  // Creation order, as the host keeps its tasks.
  const tasks = [...m.host.tasks].filter((t) => root.isAncestorOf(t.pid.ns));
  const taskIndex = new Map(tasks.map((t, i) => [t, i]));
  const ti = (t: Task | null): number => (t ? taskIndex.get(t) ?? -1 : -1);
  const pidNs = new Indexer<PidNamespace>();
  const userNs = new Indexer<UserNamespace>();
  const pages = new Indexer<Page>();
  const mms = new Indexer<MemoryMap>();
  const fpus = new Indexer<Uint8Array>();
  const files = new Indexer<FileTable>();
  // The user namespaces above the container's own (the host's, and an enclosing container's) are outside the image.
  const outside = new Set<UserNamespace>([m.host.rootUserNs]);
  for (let u = container.init.creds.userNs.parent; u; u = u.parent) outside.add(u);
  const addUser = (u: UserNamespace): number => {
    if (outside.has(u)) return -1;
    if (u.parent) addUser(u.parent);
    return userNs.of(u);
  };
  const addNs = (ns: PidNamespace): number => {
    if (!root.isAncestorOf(ns)) throw new DumpError(`a task refers to pid namespace level ${ns.level}, outside container ${container.name}`);
    if (ns !== root && ns.parent) addNs(ns.parent);
    addUser(ns.userNs);
    return pidNs.of(ns);
  };
  addNs(root);
  const inside = (p: Pid): number[] | null => (root.isAncestorOf(p.ns) && p.nrIn(root) !== 0 ? p.numbers.slice(base) : null);
  const records = tasks.map((t, n): ImageTask => {
    onProgress?.(n + 1, tasks.length);
    const g = t.group;
    for (const [fd, f] of g.files.entries()) {
      if (f.kind === 'pidfd' && f.pid.task && !taskIndex.has(f.pid.task)) throw new DumpError(`task ${t.pid.nr} has fd ${fd}, a pidfd for pid ${f.pid.nr} outside container ${container.name}, which cannot be checkpointed`);
    }
    const c = t.creds;
    const numbers = t.pid.numbers;
    return {
      ns: addNs(t.pid.ns),
      numbers: numbers.slice(base),
      outer: numbers.slice(0, base),
      leader: ti(g.leader),
      parent: ti(t.parent),
      children: [...t.children()].map((k) => ti(k)),
      pgid: inside(g.pgrp),
      sid: inside(g.session),
      abi: t.abi.name,
      regs: t.regs.slice(),
      fpu: fpus.of(t.fpu),
      extra: Object.keys(t.extra).map((k): [string, Uint8Array] => [k, t.extra[k]!.slice()]),
      mm: mms.of(t.mm),
      files: files.of(g.files),
      cred: t.nondumpable ? [c.uid, c.euid, c.suid, addUser(c.userNs), c.effective, c.permitted, true] : [c.uid, c.euid, c.suid, addUser(c.userNs), c.effective, c.permitted],
      comm: t.comm,
      exitSignal: t.exitSignal,
      exited: t.exited,
      exitStatus: t.exitStatus,
      blockedIn: t.blockedIn,
      sleepLeft: t.sleepUntil === null ? null : t.sleepUntil - m.host.clock,
      exePath: t.exePath,
      clearChildTid: t.clearChildTid,
      nsForChildren: addNs(t.pidNsForChildren),
      group: {
        unkillable: g.unkillable,
        sessionLeader: g.sessionLeader,
        stopped: g.stopped,
        stopSignal: g.stopSignal,
        stopReportPending: g.stopReportPending,
        continueReportPending: g.continueReportPending,
        groupExitStatus: g.groupExitStatus,
      },
    };
  });
  const programs = [...new Set(tasks.map((t) => t.exePath).filter((p): p is string => p !== null))].map((p): [string, string] => {
    const text = m.sources.get(p);
    if (text === undefined) throw new DumpError(`program ${p} is not known to host ${m.name}`);
    return [p, text];
  });
  const mmRecs = mms.items.map((mm) => encodeAddressSpace(mm, (page, alone) => (alone ? pages.once(page) : pages.of(page))));
  return {
    name: container.name,
    arch: m.host.arch.name,
    // a 2.6.32 host's image leaves the personality out: the bytes of images written before personalities
    ...(m.host.kernel === LEGACY_KERNEL ? {} : { kernel: m.host.kernel }),
    pidMax: m.host.pidMax,
    base,
    userNs: userNs.items.map((u) => [u.parent && !outside.has(u.parent) ? userNs.of(u.parent) : -1, u.ownerUid]),
    // pid_max only where /proc/sys/kernel/pid_max changed it from what a new namespace starts with (never on 2.6.32)
    pidNs: pidNs.items.map((n): ContainerImage['pidNs'][number] => {
      const parent = n === root ? -1 : pidNs.of(n.parent!);
      const user = userNs.has(n.userNs) ? userNs.of(n.userNs) : -1;
      return n.parent && n.pidMax !== n.parent.childPidMax() ? [parent, user, n.lastPid, n.accepting, n.pidMax] : [parent, user, n.lastPid, n.accepting];
    }),
    tasks: records,
    init: ti(container.init),
    pages: opts.shareFrames ? framePages(m.host.arch.pageSize, pages.items) : copiedPages(m.host.arch.pageSize, pages.items),
    mms: mmRecs,
    fpus: fpus.items.map((f) => f.slice()),
    files: files.items.map((f) => [
      f.users,
      f.entries().map(([fd, o]): FileRecord => (o.kind === 'console' ? [fd, o.kind, o.flags] : o.kind === 'ns_last_pid' || o.kind === 'pid_max' ? [fd, o.kind, o.flags, o.pos] : [fd, o.kind, o.flags, ti(o.pid.task)])),
    ]),
    console: container.console.text,
    programs,
    round: m.scheduler.pending().filter((t) => taskIndex.has(t)).map((t) => ti(t)),
  };
}
