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
import type { ThreadGroup } from './thread-group.js';

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
  group: {
    sessionLeader: boolean;
    unkillable: boolean;
    stopped: boolean;
    stopSignal: number;
    stopReportPending: boolean;
    continueReportPending: boolean;
    groupExitStatus: number | null;
  };
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

/** stateOf is Task.state, read with the task's group as made (null: the group a fork left, which is not stopped). */
function stateOf(t: Task, g: ThreadGroup | null): TaskState {
  if (t.exited) return 'zombie';
  if (g?.stopped) return 'stopped';
  if (t.blockedIn) return 'blocked';
  return 'runnable';
}

/** the flags of a group as ThreadGroup.fromFork makes it from what a fork left */
const FORKED_GROUP_FLAGS: TaskSnapshot['group'] = { sessionLeader: false, unkillable: false, stopped: false, stopSignal: 0, stopReportPending: false, continueReportPending: false, groupExitStatus: null };

export function takeSnapshot(host: HostState): HostSnapshot {
  const tasks = [...host.tasks].sort((a, b) => a.pid.nr - b.pid.nr);
  const pidNs = new Set<PidNamespace>();
  const userNs = new Set<UserNamespace>();
  const addPidNs = (ns: PidNamespace): void => {
    for (const n of ns.chain) {
      pidNs.add(n);
      for (let u: UserNamespace | null = n.userNs; u; u = u.parent) userNs.add(u);
    }
  };
  // address spaces and file tables by first use; one not made yet is the task's own, a new entry
  const mms: MemoryMap[] = [];
  const mmIndex = new Map<MemoryMap, number>();
  const fileTables: FileTable[] = [];
  const fileIndex = new Map<FileTable, number>();
  // a group's table not made yet is one empty table of its own, shared by its threads
  const emptyTables = new Map<ThreadGroup, FileTable>();
  const emptyTableOf = (g: ThreadGroup): FileTable => {
    let table = emptyTables.get(g);
    if (!table) emptyTables.set(g, (table = new FileTable()));
    return table;
  };
  const indexOf = <T>(list: T[], index: Map<T, number>, item: T): number => {
    let i = index.get(item);
    if (i === undefined) index.set(item, (i = list.push(item) - 1));
    return i;
  };
  const taskSnaps = tasks.map((t): TaskSnapshot => {
    addPidNs(t.pid.ns);
    addPidNs(t.pidNsForChildren);
    addPidNs(t.processGroup.ns);
    addPidNs(t.session.ns);
    for (let u: UserNamespace | null = t.creds.userNs; u; u = u.parent) userNs.add(u);
    const g = t.groupIfMade;
    const space = t.addressSpaceOrFork;
    const extra: Record<string, string> = {};
    for (const name of Object.keys(t.extra).sort()) extra[name] = hex(t.extra[name]!);
    return {
      nspids: t.nspids,
      tgid: g ? g.tgid.nr : t.pid.nr,
      ppid: t.parent?.pid.nr ?? 0,
      pgid: t.processGroup.nr,
      sid: t.session.nr,
      state: stateOf(t, g),
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
      memory: space instanceof MemoryMap ? indexOf(mms, mmIndex, space) : mms.push(MemoryMap.fromFork(space)) - 1,
      files: g ? indexOf(fileTables, fileIndex, g.filesIfMade ?? emptyTableOf(g)) : fileTables.push(new FileTable()) - 1,
      pidNsForChildren: t.pidNsForChildren.id,
      clearChildTid: t.clearChildTid,
      children: [...t.children()].map((c) => c.pid.nr).sort((a, b) => a - b),
      group: g
        ? {
            sessionLeader: g.sessionLeader,
            unkillable: g.unkillable,
            stopped: g.stopped,
            stopSignal: g.stopSignal,
            stopReportPending: g.stopReportPending,
            continueReportPending: g.continueReportPending,
            groupExitStatus: g.groupExitStatus,
          }
        : { ...FORKED_GROUP_FLAGS },
    };
  });
  return {
    arch: host.arch.name,
    pidMax: host.pidMax,
    clock: host.clock,
    userNamespaces: [...userNs].sort((a, b) => a.id - b.id).map((u) => ({ id: u.id, parent: u.parent?.id ?? null, owner: u.ownerUid })),
    pidNamespaces: [...pidNs]
      .sort((a, b) => a.id - b.id)
      .map((n) => ({
        id: n.id,
        level: n.level,
        parent: n.parent?.id ?? null,
        userNs: n.userNs.id,
        lastPid: n.lastPid,
        pidMax: n.pidMax,
        reaper: n.childReaper ? n.childReaper.pid.nr : null,
        accepting: n.accepting,
        pids: [...n.pids.keys()],
      })),
    tasks: taskSnaps,
    memory: mms.map((mm) => ({
      users: mm.users,
      vmas: mm.mappings(),
      pages: mm.pageContents().filter(([, data]) => data.some((b) => b !== 0)).map(([i, data]) => [i, hex(data)] as [number, string]),
    })),
    files: fileTables.map((f) => ({
      users: f.users,
      fds: f
        .entries()
        .map(([fd, file]): [number, string, number, number] => [fd, file.kind, file.flags, file.kind === 'ns_last_pid' || file.kind === 'pid_max' ? file.pos : file.kind === 'pidfd' ? file.pid.nr : 0]),
    })),
  };
}
