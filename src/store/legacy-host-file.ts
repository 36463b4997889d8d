/**
 * decodeLegacyMachine reads a host file of the single-file layout (format
 * 1: the whole machine in one CBOR record, page bytes inline), as every ckpt
 * before the layout of parts wrote it (with or without the kernel
 * personality), so that the store can rewrite it in parts on first use.
 */
import type { ArchName } from '../arch/arch.js';
import { archByName } from '../arch/registry.js';
import { Console } from '../kernel/console.js';
import { UserNamespace } from '../kernel/credentials.js';
import { FileTable, type OpenFile } from '../kernel/files.js';
import { Host, pidCapacity } from '../kernel/host.js';
import { Pid } from '../kernel/pid.js';
import { PidNamespace } from '../kernel/pid-namespace.js';
import { isKernelName, kernelRules, LEGACY_KERNEL, type KernelName } from '../kernel/personality.js';
import { copyExtraState, Task } from '../kernel/task.js';
import { ThreadGroup } from '../kernel/thread-group.js';
import type { SyscallName } from '../abi/syscall-names.js';
import { Machine } from '../container/machine.js';
import { decodeAddressSpace, type AddressSpaceRecord, type PageRecord } from '../codec/address-space-record.js';
import { addBytes, noPages, pageFrames } from '../codec/image-pages.js';
import { MachineDecodeError } from './part-codec.js';

export const LEGACY_FORMAT = 1;

type Cred = [uid: number, euid: number, suid: number, userNs: number, effective: number, permitted: number, nondumpable?: boolean];
type FileRec = [fd: number, kind: OpenFile['kind'], flags: number, ref: number];

export interface LegacyRecord {
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

function at<T>(list: readonly T[], i: number, what: string): T {
  const v = list[i];
  if (v === undefined) throw new MachineDecodeError(`${what} ${i} does not exist`);
  return v;
}

export function decodeLegacyMachine(r: LegacyRecord): Machine {
  if (r.format !== LEGACY_FORMAT) throw new MachineDecodeError(`host file format ${r.format} is not ${LEGACY_FORMAT}`);
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
  // the frames' bytes are copied: the record's arrays belong to the decoder
  const list = noPages(arch.pageSize);
  for (const [data, shared] of r.pages) addBytes(list, data, shared);
  const pages = pageFrames(list);
  const mms = r.mms.map((rec) => decodeAddressSpace(arch, rec, (p) => at(pages, p, 'page')));
  const fpus = r.fpus.map((f) => f.slice());
  const tasks = r.tasks.map((tr) => {
    const abi = archByName(tr.abi);
    if (!abi) throw new MachineDecodeError(`unknown task ABI ${tr.abi}`);
    const [uid, euid, suid, user, effective, permitted, nondumpable] = tr.cred;
    const extra = copyExtraState(tr.extra);
    const pid = at(pids, tr.pid, 'pid');
    const t = new Task(pid, abi, tr.regs, at(fpus, tr.fpu, 'fpu state'), extra, at(mms, tr.mm, 'address space'), { uid, euid, suid, userNs: at(userNs, user, 'user namespace'), effective, permitted }, tr.comm);
    pid.task = t;
    [t.exitSignal, t.exited, t.exitStatus] = tr.exit;
    if (nondumpable) t.recordNotDumpable();
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
