/**
 * takeSnapshot renders a host's whole state as plain data in a canonical
 * order, so that two hosts are in the same state exactly when their
 * snapshots are deeply equal. Namespaces are those still reachable from a
 * task; address spaces and file tables appear once and are referred to by
 * index, so sharing (CLONE_VM, CLONE_FILES) is part of the state.
 *
 * It only reads: what a fork left unmade (a ForkedGroup, a
 * ForkedAddressSpace, a group's file table not yet opened) is described as
 * the object it becomes on first use, of the task's own, without making it
 * (a restorer's 100,000 children would each get a group and an address
 * space, and a later save would store those).
 */
import type { ArchName } from '../arch/arch.js';
import type { UserNamespace } from './credentials.js';
import { FileTable } from './files.js';
import type { HostState } from './host-state.js';
import { MemoryMap } from './memory-map.js';
import type { PidNamespace } from './pid-namespace.js';
import type { Task, TaskState } from './task.js';
import { ThreadGroup, type GroupFlags } from './thread-group.js';

export interface TaskSnapshot {
  nspids: number[];
  tgid: number;
  ppid: number;
  pgid: number;
  sid: number;
  state: TaskState;
  exitStatus: number;
  exitSignal: number;
  blockedIn: string | null;
  sleepUntil: number | null;
  exePath: string | null;
  comm: string;
  abi: ArchName;
  creds: { uid: number; euid: number; suid: number; userNs: number; effective: number; permitted: number; dumpable: boolean };
  regs: string;
  fpu: string;
  extra: Record<string, string>;
  memory: number;
  files: number;
  pidNsForChildren: number;
  clearChildTid: number;
  children: number[];
  group: GroupFlags;
}

export interface HostSnapshot {
  arch: ArchName;
  pidMax: number;
  clock: number;
  userNamespaces: Array<{ id: number; parent: number | null; owner: number }>;
  pidNamespaces: Array<{ id: number; level: number; parent: number | null; userNs: number; lastPid: number; pidMax: number; reaper: number | null; accepting: boolean; pids: number[] }>;
  tasks: TaskSnapshot[];
  memory: Array<{ users: number; vmas: Array<{ start: number; end: number; prot: number; name: string }>; pages: Array<[number, string]> }>;
  files: Array<{ users: number; fds: Array<[number, string, number, number]> }>;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** hex renders bytes as lowercase hexadecimal. */
export function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += HEX[b];
  return s;
}

/** Reached: the namespaces reached from the tasks so far. */
class Reached {
  readonly pidNs = new Set<PidNamespace>();
  readonly userNs = new Set<UserNamespace>();

  /** pid adds `ns`, its ancestors, and their owners' user namespaces */
  pid(ns: PidNamespace): void {
    for (const n of ns.chain) {
      this.pidNs.add(n);
      this.user(n.userNs);
    }
  }

  /** user adds `ns` and its ancestors */
  user(ns: UserNamespace): void {
    for (let u: UserNamespace | null = ns; u; u = u.parent) this.userNs.add(u);
  }
}

/**
 * Shared: address spaces and file tables by first use; one not made yet is the task's own, a new
 * entry, and a group's table not made yet one empty table of its own, shared by its threads.
 */
class Shared {
  readonly mms: MemoryMap[] = [];
  readonly fileTables: FileTable[] = [];
  private readonly mmIndex = new Map<MemoryMap, number>();
  private readonly fileIndex = new Map<FileTable, number>();
  private readonly emptyTables = new Map<ThreadGroup, FileTable>();

  /** memoryOf is the index of `t`'s address space */
  memoryOf(t: Task): number {
    const space = t.addressSpaceOrFork;
    return space instanceof MemoryMap ? indexOf(this.mms, this.mmIndex, space) : this.mms.push(MemoryMap.fromFork(space)) - 1;
  }

  /** filesOf is the index of the file table of `t`'s group (`g`, null when not made) */
  filesOf(g: ThreadGroup | null): number {
    if (!g) return this.fileTables.push(new FileTable()) - 1;
    return indexOf(this.fileTables, this.fileIndex, g.filesIfMade ?? this.emptyTableOf(g));
  }

  private emptyTableOf(g: ThreadGroup): FileTable {
    let table = this.emptyTables.get(g);
    if (!table) this.emptyTables.set(g, (table = new FileTable()));
    return table;
  }
}

/** indexOf is `item`'s index in `list`, appended on first sight */
function indexOf<T>(list: T[], index: Map<T, number>, item: T): number {
  let i = index.get(item);
  if (i === undefined) index.set(item, (i = list.push(item) - 1));
  return i;
}

export function takeSnapshot(host: HostState): HostSnapshot {
  const reached = new Reached();
  const shared = new Shared();
  const tasks = [...host.tasks].sort((a, b) => a.pid.nr - b.pid.nr).map((t) => taskSnapshot(t, reached, shared));
  return {
    arch: host.arch.name,
    pidMax: host.pidMax,
    clock: host.clock,
    userNamespaces: [...reached.userNs].sort((a, b) => a.id - b.id).map((u) => ({ id: u.id, parent: u.parent?.id ?? null, owner: u.ownerUid })),
    pidNamespaces: [...reached.pidNs].sort((a, b) => a.id - b.id).map(pidNamespaceSnapshot),
    tasks,
    memory: shared.mms.map(memorySnapshot),
    files: shared.fileTables.map(fileTableSnapshot),
  };
}

/** taskSnapshot describes one task, noting the namespaces it reaches and the address space and file table it uses */
function taskSnapshot(t: Task, reached: Reached, shared: Shared): TaskSnapshot {
  reached.pid(t.pid.ns);
  reached.pid(t.pidNsForChildren);
  reached.pid(t.processGroup.ns);
  reached.pid(t.session.ns);
  reached.user(t.creds.userNs);
  const g = t.groupIfMade;
  const extra: Record<string, string> = {};
  for (const name of Object.keys(t.extra).sort()) extra[name] = hex(t.extra[name]!);
  return {
    nspids: t.nspids,
    tgid: g ? g.tgid.nr : t.pid.nr,
    ppid: t.parent?.pid.nr ?? 0,
    pgid: t.processGroup.nr,
    sid: t.session.nr,
    state: t.state,
    exitStatus: t.exitStatus,
    exitSignal: t.exitSignal,
    blockedIn: t.blockedIn,
    sleepUntil: t.sleepUntil,
    exePath: t.exePath,
    comm: t.comm,
    abi: t.abi.name,
    creds: { uid: t.creds.uid, euid: t.creds.euid, suid: t.creds.suid, userNs: t.creds.userNs.id, effective: t.creds.effective, permitted: t.creds.permitted, dumpable: !t.nondumpable },
    regs: hex(t.registerBytes()),
    fpu: hex(t.fpu),
    extra,
    memory: shared.memoryOf(t),
    files: shared.filesOf(g),
    pidNsForChildren: t.pidNsForChildren.id,
    clearChildTid: t.clearChildTid,
    children: [...t.children()].map((c) => c.pid.nr).sort((a, b) => a - b),
    group: g ? g.flags : ThreadGroup.forkedFlags(),
  };
}

function pidNamespaceSnapshot(n: PidNamespace): HostSnapshot['pidNamespaces'][number] {
  return {
    id: n.id,
    level: n.level,
    parent: n.parent?.id ?? null,
    userNs: n.userNs.id,
    lastPid: n.lastPid,
    pidMax: n.pidMax,
    reaper: n.childReaper ? n.childReaper.pid.nr : null,
    accepting: n.accepting,
    pids: [...n.pids.keys()],
  };
}

function memorySnapshot(mm: MemoryMap): HostSnapshot['memory'][number] {
  return {
    users: mm.users,
    vmas: mm.mappings(),
    pages: mm.pageContents().filter(([, data]) => data.some((b) => b !== 0)).map(([i, data]) => [i, hex(data)] as [number, string]),
  };
}

function fileTableSnapshot(f: FileTable): HostSnapshot['files'][number] {
  return {
    users: f.users,
    fds: f.entries().map(([fd, file]): [number, string, number, number] => [fd, file.kind, file.flags, file.kind === 'ns_last_pid' || file.kind === 'pid_max' ? file.pos : file.kind === 'pidfd' ? file.pid.nr : 0]),
  };
}
