/**
 * encodeMachine and decodeMachine turn a Machine into plain data (numbers,
 * strings, byte arrays, arrays and maps of those) and back, exactly: the
 * decoded machine has the same snapshot, the same consoles and continues the
 * same way. Objects shared in memory are stored once and referred to by
 * index: page frames shared copy-on-write, FPU states, file tables, consoles
 * and pids. Pure: no I/O (the store writes the result as CBOR).
 */
import type { ArchName } from '../arch/arch.js';
import { archByName } from '../arch/registry.js';
import { Console } from '../kernel/console.js';
import { UserNamespace, type Credentials } from '../kernel/credentials.js';
import { FileTable, type OpenFile } from '../kernel/files.js';
import { Host, pidCapacity } from '../kernel/host.js';
import type { MemoryMap, Page } from '../kernel/memory-map.js';
import { Pid } from '../kernel/pid.js';
import { PidNamespace } from '../kernel/pid-namespace.js';
import { isKernelName, kernelRules, LEGACY_KERNEL, type KernelName } from '../kernel/personality.js';
import { copyExtraState, Task } from '../kernel/task.js';
import { ThreadGroup } from '../kernel/thread-group.js';
import type { SyscallName } from '../abi/syscall-names.js';
import { Machine } from '../container/machine.js';
import { Indexer } from '../codec/indexer.js';
import { decodeAddressSpace, encodeAddressSpace, pageFrames, pageRecords, type AddressSpaceRecord, type PageRecord } from '../codec/address-space-record.js';

export const MACHINE_FORMAT = 1;

type Cred = [uid: number, euid: number, suid: number, userNs: number, effective: number, permitted: number, nondumpable?: boolean];
type FileRec = [fd: number, kind: OpenFile['kind'], flags: number, ref: number];

export interface MachineRecord {
  format: number;
  name: string;
  arch: ArchName;
  /** the kernel personality; absent in host files written before personalities, which are 2.6.32 hosts */
  kernel?: KernelName;
  pidMax: number;
  clock: number;
  ids: [nextPidNs: number, nextUserNs: number];
  userNs: Array<[id: number, parent: number, owner: number]>;
  /** pidMax: the namespace's own (mainline); absent in host files written before personalities, where it is the host's */
  pidNs: Array<[id: number, parent: number, userNs: number, lastPid: number, accepting: boolean, reaper: number, pidMax?: number]>;
  pids: Array<[ns: number, numbers: number[]]>;
  consoles: Array<[name: string, text: string]>;
  files: Array<[users: number, fds: FileRec[]]>;
  pages: PageRecord[];
  mms: AddressSpaceRecord[];
  fpus: Uint8Array[];
  groups: Array<{ leader: number; pgrp: number; session: number; files: number; threads: number[]; flags: [boolean, boolean, boolean, number, boolean, boolean]; exit: number | null }>;
  tasks: Array<{
    pid: number;
    group: number;
    parent: number;
    children: number[];
    abi: ArchName;
    regs: Uint8Array;
    fpu: number;
    extra: Array<[string, Uint8Array]>;
    mm: number;
    cred: Cred;
    comm: string;
    exit: [signal: number, exited: boolean, status: number];
    blockedIn: string | null;
    sleepUntil: number | null;
    exePath: string | null;
    clearChildTid: number;
    nsForChildren: number;
  }>;
  init: number;
  containers: Array<[name: string, init: number, console: number]>;
  programs: Array<[path: string, text: string]>;
  round: number[];
}

export function encodeMachine(m: Machine): MachineRecord {
  const host = m.host;
  const tasks = [...host.tasks];
  const taskIndex = new Map(tasks.map((t, i) => [t, i]));
  const ti = (t: Task | null): number => (t ? taskIndex.get(t) ?? -1 : -1);
  const userNs = new Indexer<UserNamespace>();
  const pidNs = new Indexer<PidNamespace>();
  const pids = new Indexer<Pid>();
  const consoles = new Indexer<Console>();
  const files = new Indexer<FileTable>();
  const pages = new Indexer<Page>();
  const mms = new Indexer<MemoryMap>();
  const fpus = new Indexer<Uint8Array>();
  const groups = new Indexer<ThreadGroup>();
  const addUser = (u: UserNamespace): number => {
    if (u.parent) addUser(u.parent);
    return userNs.of(u);
  };
  const addPidNs = (ns: PidNamespace): number => {
    if (ns.parent) addPidNs(ns.parent);
    addUser(ns.userNs);
    return pidNs.of(ns);
  };
  const addPid = (p: Pid): number => {
    addPidNs(p.ns);
    return pids.of(p);
  };
  for (const c of m.containers.values()) consoles.of(c.console);
  const taskRecs = tasks.map((t) => {
    addPidNs(t.pidNsForChildren);
    const c: Credentials = t.creds;
    return {
      pid: addPid(t.pid),
      group: groups.of(t.group),
      parent: ti(t.parent),
      children: [...t.children()].map((k) => ti(k)),
      abi: t.abi.name,
      regs: t.regs.slice(),
      fpu: fpus.of(t.fpu),
      extra: Object.keys(t.extra).map((k): [string, Uint8Array] => [k, t.extra[k]!.slice()]),
      mm: mms.of(t.mm),
      cred: (c.nondumpable ? [c.uid, c.euid, c.suid, addUser(c.userNs), c.effective, c.permitted, true] : [c.uid, c.euid, c.suid, addUser(c.userNs), c.effective, c.permitted]) as Cred,
      comm: t.comm,
      exit: [t.exitSignal, t.exited, t.exitStatus] as [number, boolean, number],
      blockedIn: t.blockedIn,
      sleepUntil: t.sleepUntil,
      exePath: t.exePath,
      clearChildTid: t.clearChildTid,
      nsForChildren: pidNs.of(t.pidNsForChildren),
    };
  });
  const groupRecs = groups.items.map((g) => ({
    leader: ti(g.leader),
    pgrp: addPid(g.pgrp),
    session: addPid(g.session),
    files: files.of(g.files),
    threads: g.threadList().map((t) => ti(t)),
    flags: [g.unkillable, g.sessionLeader, g.stopped, g.stopSignal, g.stopReportPending, g.continueReportPending] as [boolean, boolean, boolean, number, boolean, boolean],
    exit: g.groupExitStatus,
  }));
  const fileRecs = files.items.map((f): [number, FileRec[]] => [
    f.users,
    f.entries().map(([fd, o]): FileRec => [fd, o.kind, o.flags, o.kind === 'ns_last_pid' || o.kind === 'pid_max' ? o.pos : o.kind === 'pidfd' ? addPid(o.pid) : consoles.of(o.console)]),
  ]);
  const mmRecs = mms.items.map((mm) => encodeAddressSpace(mm, (page) => pages.of(page)));
  const { nextPidNsId, nextUserNsId } = host.idCounters;
  return {
    format: MACHINE_FORMAT,
    name: m.name,
    arch: host.arch.name,
    kernel: host.kernel,
    pidMax: host.pidMax,
    clock: host.clock,
    ids: [nextPidNsId, nextUserNsId],
    userNs: userNs.items.map((u) => [u.id, u.parent ? userNs.of(u.parent) : -1, u.ownerUid]),
    pidNs: pidNs.items.map((n) => [n.id, n.parent ? pidNs.of(n.parent) : -1, userNs.of(n.userNs), n.lastPid, n.accepting, ti(n.childReaper), n.pidMax]),
    pids: pids.items.map((p) => [pidNs.of(p.ns), p.numbers]),
    consoles: consoles.items.map((c) => [c.name, c.text]),
    files: fileRecs,
    pages: pageRecords(pages.items),
    mms: mmRecs,
    fpus: fpus.items.map((f) => f.slice()),
    groups: groupRecs,
    tasks: taskRecs,
    init: ti(host.init),
    // a container whose init has been reaped has no task left (its namespace died with it): it is gone
    containers: [...m.containers.values()].filter((c) => m.host.tasks.has(c.init)).map((c) => [c.name, ti(c.init), consoles.of(c.console)]),
    programs: [...m.sources.entries()],
    round: m.scheduler.pending().filter((t) => taskIndex.has(t)).map((t) => ti(t)),
  };
}

/** MachineDecodeError says what in a machine record is inconsistent. */
export class MachineDecodeError extends Error {
  override readonly name = 'MachineDecodeError';
}

function at<T>(list: readonly T[], i: number, what: string): T {
  const v = list[i];
  if (v === undefined) throw new MachineDecodeError(`${what} ${i} does not exist`);
  return v;
}

export function decodeMachine(r: MachineRecord): Machine {
  if (r.format !== MACHINE_FORMAT) throw new MachineDecodeError(`host file format ${r.format} is not ${MACHINE_FORMAT}`);
  const arch = archByName(r.arch);
  if (!arch) throw new MachineDecodeError(`unknown architecture ${r.arch}`);
  const kernel = r.kernel ?? LEGACY_KERNEL;
  if (!isKernelName(kernel)) throw new MachineDecodeError(`unknown kernel personality ${JSON.stringify(kernel)}`);
  const rules = kernelRules(kernel);
  const userNs: UserNamespace[] = [];
  for (const [id, parent, owner] of r.userNs) {
    const u = new UserNamespace(parent < 0 ? null : at(userNs, parent, 'user namespace'), owner);
    u.id = id;
    userNs.push(u);
  }
  const pidNs: PidNamespace[] = [];
  for (const [id, parent, user, lastPid, accepting, , pidMax] of r.pidNs) {
    const outer = parent < 0 ? null : at(pidNs, parent, 'pid namespace');
    const ns = new PidNamespace(outer, at(userNs, user, 'user namespace'), pidMax ?? r.pidMax, rules, outer ? outer.capacity : pidCapacity(arch, rules, r.pidMax));
    ns.id = id;
    ns.lastPid = lastPid;
    ns.accepting = accepting;
    pidNs.push(ns);
  }
  const pids = r.pids.map(([nsIndex, numbers]) => {
    const ns = at(pidNs, nsIndex, 'pid namespace');
    if (numbers.length !== ns.level + 1) throw new MachineDecodeError(`a pid in a level-${ns.level} namespace has ${numbers.length} numbers`);
    return new Pid(ns, numbers);
  });
  const consoles = r.consoles.map(([name, text]) => {
    const c = new Console(name);
    if (text.length > 0) c.write(new TextEncoder().encode(text));
    return c;
  });
  const files = r.files.map(([users, fds]) => {
    const t = new FileTable();
    for (const [fd, kind, flags, ref] of fds) {
      const file: OpenFile =
        kind === 'ns_last_pid' || kind === 'pid_max'
          ? { kind, flags, pos: ref }
          : kind === 'pidfd'
            ? { kind, flags, pid: at(pids, ref, 'pid') }
            : { kind, flags, console: at(consoles, ref, 'console') };
      t.set(fd, file);
    }
    t.users = users;
    return t;
  });
  const pages = pageFrames(r.pages);
  const mms = r.mms.map((rec) => decodeAddressSpace(arch, rec, (p) => at(pages, p, 'page')));
  const fpus = r.fpus.map((f) => f.slice());
  const tasks = r.tasks.map((tr) => {
    const abi = archByName(tr.abi);
    if (!abi) throw new MachineDecodeError(`unknown task ABI ${tr.abi}`);
    const [uid, euid, suid, user, effective, permitted, nondumpable] = tr.cred;
    const extra = copyExtraState(tr.extra);
    const pid = at(pids, tr.pid, 'pid');
    const t = new Task(pid, abi, tr.regs, at(fpus, tr.fpu, 'fpu state'), extra, at(mms, tr.mm, 'address space'), { uid, euid, suid, userNs: at(userNs, user, 'user namespace'), effective, permitted, ...(nondumpable ? { nondumpable: true as const } : {}) }, tr.comm);
    pid.task = t;
    [t.exitSignal, t.exited, t.exitStatus] = tr.exit;
    t.blockedIn = tr.blockedIn as SyscallName | null;
    t.sleepUntil = tr.sleepUntil;
    t.exePath = tr.exePath;
    t.clearChildTid = tr.clearChildTid;
    t.pidNsForChildren = at(pidNs, tr.nsForChildren, 'pid namespace');
    return t;
  });
  const groups = r.groups.map((g) => {
    const group = new ThreadGroup(at(tasks, g.leader, 'task'), at(pids, g.pgrp, 'pid'), at(pids, g.session, 'pid'), at(files, g.files, 'file table'));
    for (const t of g.threads) group.addThread(at(tasks, t, 'task'));
    [group.unkillable, group.sessionLeader, group.stopped, group.stopSignal, group.stopReportPending, group.continueReportPending] = g.flags;
    group.groupExitStatus = g.exit;
    return group;
  });
  r.tasks.forEach((tr, i) => {
    const t = tasks[i]!;
    t.group = at(groups, tr.group, 'thread group');
    t.parent = tr.parent < 0 ? null : at(tasks, tr.parent, 'task');
    for (const c of tr.children) t.addChild(at(tasks, c, 'task'));
  });
  // Numbers are allocated exactly for the pids something uses (a pidfd alone keeps none).
  for (const pid of pids) {
    if (!pid.inUse) continue;
    pid.numbers.forEach((nr, level) => {
      const ns = pid.ns.chain[level]!;
      if (!ns.bitmap.set(nr)) throw new MachineDecodeError(`pid ${nr} is used twice at level ${level}`);
      ns.pids.set(nr, pid);
    });
  }
  r.pidNs.forEach(([, , , , , reaper], i) => {
    pidNs[i]!.childReaper = reaper < 0 ? null : at(tasks, reaper, 'task');
  });
  const root = pidNs.find((n) => n.level === 0);
  if (!root) throw new MachineDecodeError('no root pid namespace');
  const host = Host.restore(arch, r.pidMax, {
    rootUserNs: root.userNs,
    rootPidNs: root,
    init: at(tasks, r.init, 'task'),
    tasks,
    clock: r.clock,
    nextPidNsId: r.ids[0],
    nextUserNsId: r.ids[1],
  });
  const m = new Machine(r.name, host);
  for (const [path, text] of r.programs) m.addProgram(path, text);
  for (const [name, init, console] of r.containers) m.containers.set(name, { name, init: at(tasks, init, 'task'), console: at(consoles, console, 'console') });
  m.scheduler.resumeRound(r.round.map((i) => at(tasks, i, 'task')));
  return m;
}
