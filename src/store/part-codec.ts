/**
 * A host's state in parts. The host's containers share one model kernel, so
 * "a file per container" divides that kernel along its pid namespaces:
 * - the core: the root pid and user namespaces and the level-0 tasks (the
 *   host's init), which every container hangs from;
 * - a part per level-1 pid namespace: every task, pid, namespace, address
 *   space, file table and console below it (a container, with any restored
 *   --into it).
 * A part refers to the core's objects (its init's parent, the root
 * namespaces, the host init's process group and session) by index into the
 * core, as -2 - index; -1 is null. Parts never refer to each other. Page
 * bytes are not in the record: a part's frames lie back to back in a
 * separate byte string (its pages file), so they are written and read
 * whole, without encoding. Pure: no I/O.
 */
import type { ArchName, Arch } from '../arch/arch.js';
import type { SyscallName } from '../abi/syscall-names.js';
import { Console } from '../kernel/console.js';
import { UserNamespace, type Credentials } from '../kernel/credentials.js';
import { FileTable, type OpenFile } from '../kernel/files.js';
import { addressSpaceLayout, MemoryMap, type Page } from '../kernel/memory-map.js';
import { Pid } from '../kernel/pid.js';
import { PidNamespace } from '../kernel/pid-namespace.js';
import { pidCapacity } from '../kernel/host.js';
import type { KernelRules } from '../kernel/personality.js';
import { copyExtraState, Task } from '../kernel/task.js';
import { ThreadGroup } from '../kernel/thread-group.js';
import type { Container } from '../container/container.js';
import { archByName } from '../arch/registry.js';
import { Numbering } from './numbering.js';
import { TaskColumnsWriter, unpackTasks, type TaskColumns } from './task-columns.js';
import { packGroups, packMms, packPids, unpackGroups, unpackMms, unpackPids, type GroupColumns, type MmColumns, type MmRecord, type PidColumns, type VmaRecord } from './part-columns.js';

/** CORE is the part id of the root namespace's objects; a part's id is its level-1 pid namespace's id. */
export const CORE = -1;

/** levelOneId names the level-1 pid namespace a namespace lies in (CORE for the root). */
export function levelOneId(ns: PidNamespace): number {
  return ns.level === 0 ? CORE : ns.chain[1]!.id;
}

/**
 * Entangled says that part `id` refers to an object of part `other` (a
 * pidfd passed between containers, say): the two are stored as one part.
 */
export class Entangled extends Error {
  constructor(
    readonly id: number,
    readonly other: number,
  ) {
    super(`part ${id} refers to part ${other}`);
  }
}

/** nondumpable only when set (a setuid that changed the euid: commit_creds) */
type Cred = [uid: number, euid: number, suid: number, userNs: number, effective: number, permitted: number, nondumpable?: boolean];
type FileRec = [fd: number, kind: OpenFile['kind'], flags: number, ref: number];

export interface TaskRecord {
  seq: number;
  pid: number;
  group: number;
  parent: number;
  /** local task indices; in the core, [part, seq] pairs flattened, since a core task's children live in parts */
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
}

export interface PartRecord {
  userNs: Array<[id: number, parent: number, owner: number]>;
  /** pidMax: the namespace's own (on 2.6.32 the host's in every namespace) */
  pidNs: Array<[id: number, parent: number, userNs: number, lastPid: number, accepting: boolean, reaper: number, pidMax: number]>;
  pids: PidColumns;
  consoles: Array<[name: string, text: string]>;
  files: Array<[users: number, fds: FileRec[]]>;
  /** each page frame's length and whether it is MAP_SHARED; the bytes are the pages file, back to back */
  pageLengths: Int32Array;
  /** 1 for MAP_SHARED */
  pageShared: Uint8Array;
  mms: MmColumns;
  /** the FPU states back to back, and each one's length */
  fpus: Uint8Array;
  fpuLengths: Int32Array;
  groups: GroupColumns;
  tasks: TaskColumns;
  containers: Array<[name: string, init: number, console: number]>;
  /** this part's tasks still due in the scheduler's round, in round order */
  round: number[];
}

/** MachineDecodeError says what in a stored host is inconsistent. */
export class MachineDecodeError extends Error {
  override readonly name = 'MachineDecodeError';
}

export interface EncodedPart {
  record: PartRecord;
  /** the pages file: each frame's bytes (views of the frames, not copies) */
  pages: Uint8Array[];
  numbering: Numbering;
}

export interface PartContext {
  id: number;
  /** the part a pid namespace's objects are in */
  partOf(ns: PidNamespace): number;
  /** the part's tasks, in creation order */
  tasks: readonly Task[];
  /** the core's numbering, when this is a part (null when encoding the core) */
  core: Numbering | null;
  seqOf(t: Task): number;
  /** a core task's children as [part, seq] pairs, flattened (only asked when encoding the core) */
  coreChildren?(t: Task): number[];
  containers: readonly Container[];
  round: readonly Task[];
}

/** encodePart records one part; a reference to a namespace, pid or task of another part is Entangled. */
export function encodePart(ctx: PartContext): EncodedPart {
  const { core, id, partOf } = ctx;
  const mine = new Numbering();
  for (const t of ctx.tasks) mine.tasks.of(t);
  const foreign = (ns: PidNamespace): never => {
    throw new Entangled(id, partOf(ns));
  };
  const userRef = (u: UserNamespace): number => {
    if (core?.userNs.has(u)) return -2 - core.userNs.of(u);
    if (!mine.userNs.has(u) && u.parent) userRef(u.parent);
    return mine.userNs.of(u);
  };
  const nsRef = (ns: PidNamespace): number => {
    if (core?.pidNs.has(ns)) return -2 - core.pidNs.of(ns);
    if (partOf(ns) !== id) foreign(ns);
    if (!mine.pidNs.has(ns)) {
      if (ns.parent) nsRef(ns.parent);
      userRef(ns.userNs);
    }
    return mine.pidNs.of(ns);
  };
  const pidRef = (p: Pid): number => {
    if (core?.pids.has(p)) return -2 - core.pids.of(p);
    if (!mine.pids.has(p)) nsRef(p.ns);
    return mine.pids.of(p);
  };
  const taskRef = (t: Task | null): number => {
    if (!t) return -1;
    if (core?.tasks.has(t)) return -2 - core.tasks.of(t);
    if (!mine.tasks.has(t)) foreign(t.pid.ns);
    return mine.tasks.of(t);
  };
  const pageRef = (p: Page): number => (core?.pages.has(p) ? -2 - core.pages.of(p) : mine.pages.of(p));
  const fpuRef = (f: Uint8Array): number => (core?.fpus.has(f) ? -2 - core.fpus.of(f) : mine.fpus.of(f));
  const mmRef = (mm: MemoryMap): number => (core?.mms.has(mm) ? -2 - core.mms.of(mm) : mine.mms.of(mm));
  const filesRef = (f: FileTable): number => (core?.files.has(f) ? -2 - core.files.of(f) : mine.files.of(f));
  const consoleRef = (c: Console): number => (core?.consoles.has(c) ? -2 - core.consoles.of(c) : mine.consoles.of(c));
  const groupRef = (g: ThreadGroup): number => (core?.groups.has(g) ? -2 - core.groups.of(g) : mine.groups.of(g));

  for (const c of ctx.containers) consoleRef(c.console);
  let regBytes = 0;
  for (const t of ctx.tasks) regBytes += t.abi.regs.size;
  const taskColumns = new TaskColumnsWriter(ctx.tasks.length, regBytes);
  // one record refilled for every task: the writer copies it into its columns
  const children: number[] = [];
  const cred: Cred = [0, 0, 0, 0, 0, 0, false];
  const exit: TaskRecord['exit'] = [0, false, 0];
  for (const t of ctx.tasks) {
    nsRef(t.pidNsForChildren);
    const c: Credentials = t.creds;
    [cred[0], cred[1], cred[2], cred[3], cred[4], cred[5], cred[6]] = [c.uid, c.euid, c.suid, userRef(c.userNs), c.effective, c.permitted, c.nondumpable === true];
    [exit[0], exit[1], exit[2]] = [t.exitSignal, t.exited, t.exitStatus];
    children.length = 0;
    if (ctx.coreChildren) children.push(...ctx.coreChildren(t));
    else for (const k of t.children()) children.push(taskRef(k));
    taskColumns.add({
      seq: ctx.seqOf(t),
      pid: pidRef(t.pid),
      group: groupRef(t.group),
      parent: taskRef(t.parent),
      children,
      abi: t.abi.name,
      regs: t.regs,
      fpu: fpuRef(t.fpu),
      extra: Object.keys(t.extra).map((k): [string, Uint8Array] => [k, t.extra[k]!]),
      mm: mmRef(t.mm),
      cred,
      comm: t.comm,
      exit,
      blockedIn: t.blockedIn,
      sleepUntil: t.sleepUntil,
      exePath: t.exePath,
      clearChildTid: t.clearChildTid,
      nsForChildren: nsRef(t.pidNsForChildren),
    });
  }
  const groups = mine.groups.items.map((g) => ({
    leader: taskRef(g.leader),
    pgrp: pidRef(g.pgrp),
    session: pidRef(g.session),
    files: filesRef(g.files),
    threads: g.threadList().map(taskRef),
    flags: [g.unkillable, g.sessionLeader, g.stopped, g.stopSignal, g.stopReportPending, g.continueReportPending] as [boolean, boolean, boolean, number, boolean, boolean],
    exit: g.groupExitStatus,
  }));
  const files = mine.files.items.map((f): [number, FileRec[]] => [
    f.users,
    f.entries().map(([fd, o]): FileRec => [fd, o.kind, o.flags, o.kind === 'ns_last_pid' || o.kind === 'pid_max' ? o.pos : o.kind === 'pidfd' ? pidRef(o.pid) : consoleRef(o.console)]),
  ]);
  /** the length of each of this part's frames, by number */
  const frameLengths: number[] = [];
  const mms = mine.mms.items.map((mm): MmRecord => {
    // [index, frame] pairs flattened: an address space may hold hundreds of thousands of pages
    const pages = new Float64Array(2 * mm.residentPages());
    let k = 0;
    mm.forEachPage((index, page, alone) => {
      pages[k++] = index;
      // a frame this address space alone holds is in no other part, nor met again here
      const ref = alone ? mine.pages.once(page) : pageRef(page);
      if (ref === frameLengths.length) frameLengths.push(mm.pageSize); // met first here
      pages[k++] = ref;
    });
    return [mm.users, mm.mappings().map((v): VmaRecord => [v.start, v.end, v.prot, v.shared, v.name]), pages];
  });
  const record: PartRecord = {
    userNs: mine.userNs.items.map((u) => [u.id, u.parent ? userRef(u.parent) : -1, u.ownerUid]),
    pidNs: mine.pidNs.items.map((n) => [n.id, n.parent ? nsRef(n.parent) : -1, userRef(n.userNs), n.lastPid, n.accepting, taskRef(n.childReaper), n.pidMax]),
    pids: packPids(mine.pids.items.map((p) => [nsRef(p.ns), p.numbers])),
    consoles: mine.consoles.items.map((c) => [c.name, c.text]),
    files,
    pageLengths: new Int32Array(frameLengths),
    pageShared: sharedFlags(mine.pages.items),
    mms: packMms(mms),
    ...packBytes(mine.fpus.items),
    groups: packGroups(groups),
    tasks: taskColumns.finish(),
    containers: ctx.containers.map((c) => [c.name, taskRef(c.init), consoleRef(c.console)]),
    round: ctx.round.map(taskRef),
  };
  return { record, pages: frameRuns(mine.pages.items, frameLengths), numbering: mine };
}

/** sharedFlags is 1 for each MAP_SHARED frame (a loop: TypedArray.from iterates, a result object per frame). */
function sharedFlags(frames: readonly Page[]): Uint8Array {
  const out = new Uint8Array(frames.length);
  for (let i = 0; i < frames.length; i++) out[i] = frames[i]!.shared ? 1 : 0;
  return out;
}

/** frameRuns gives the frames' bytes one after another as views, neighbours that lie back to back in one buffer (frames read from one pages file) joined: no copy, and no view per frame. */
function frameRuns(frames: readonly Page[], lengths: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let buffer: ArrayBufferLike | null = null;
  let start = 0;
  let end = 0;
  for (let i = 0; i < frames.length; i++) {
    const { bytes, at } = frames[i]!;
    const from = bytes.byteOffset + at;
    if (bytes.buffer !== buffer || from !== end) {
      if (buffer) out.push(new Uint8Array(buffer, start, end - start));
      buffer = bytes.buffer;
      start = from;
      end = from;
    }
    end += lengths[i]!;
  }
  if (buffer) out.push(new Uint8Array(buffer, start, end - start));
  return out;
}

/** packBytes lays byte strings out back to back, with their lengths: one value to encode, not one per task. */
function packBytes(list: readonly Uint8Array[]): { fpus: Uint8Array; fpuLengths: Int32Array } {
  const fpuLengths = Int32Array.from(list, (b) => b.length);
  const fpus = new Uint8Array(fpuLengths.reduce((n, l) => n + l, 0));
  let at = 0;
  for (const b of list) {
    fpus.set(b, at);
    at += b.length;
  }
  return { fpus, fpuLengths };
}

/** unpackBytes views what packBytes laid out, one view per byte string. */
function unpackBytes(all: Uint8Array, lengths: Int32Array): Uint8Array[] {
  const out: Uint8Array[] = new Array(lengths.length);
  let at = 0;
  for (let i = 0; i < lengths.length; i++) {
    const n = lengths[i]!;
    if (n < 0 || at + n > all.length) throw new MachineDecodeError('the FPU states run past their bytes');
    out[i] = all.subarray(at, at + n);
    at += n;
  }
  return out;
}

/** DecodedPart is a part's objects, before they are linked into namespaces and a host. */
export interface DecodedPart {
  record: PartRecord;
  /** the record's tasks, unpacked */
  taskRecords: TaskRecord[];
  userNs: UserNamespace[];
  pidNs: PidNamespace[];
  pids: Pid[];
  tasks: Task[];
  groups: ThreadGroup[];
  files: FileTable[];
  consoles: Console[];
  mms: MemoryMap[];
  pages: Page[];
  fpus: Uint8Array[];
}

function at<T>(list: readonly T[], i: number, what: string): T {
  const v = list[i];
  if (v === undefined) throw new MachineDecodeError(`${what} ${i} does not exist`);
  return v;
}

/** HostKernel is what a part's namespaces take from their host: its personality's rules, and the root's pid_max and capacity (the core's root namespace is made with them). */
export interface HostKernel {
  arch: Arch;
  rules: KernelRules;
  pidMax: number;
}

/**
 * decodePart rebuilds a part's objects. `pageBytes` is its pages file; with
 * `adopt` the frames are views of it (it must belong to the caller alone),
 * else copies.
 */
export function decodePart(r: PartRecord, pageBytes: Uint8Array, kernel: HostKernel, core: DecodedPart | null, adopt: boolean): DecodedPart {
  const { arch, rules } = kernel;
  const ref = <T>(kind: Exclude<keyof DecodedPart, 'record' | 'taskRecords'>, list: readonly T[], i: number, what: string): T => {
    if (i >= 0) return at(list, i, what);
    if (i <= -2 && core) return at(core[kind] as unknown as readonly T[], -2 - i, `core ${what}`);
    throw new MachineDecodeError(`${what} reference ${i} does not exist`);
  };
  const userNs: UserNamespace[] = [];
  for (const [id, parent, owner] of r.userNs) {
    const u = new UserNamespace(parent === -1 ? null : ref('userNs', userNs, parent, 'user namespace'), owner);
    u.id = id;
    userNs.push(u);
  }
  const user = (i: number): UserNamespace => ref('userNs', userNs, i, 'user namespace');
  const pidNs: PidNamespace[] = [];
  for (const [id, parent, u, lastPid, accepting, , pidMax] of r.pidNs) {
    const outer = parent === -1 ? null : ref('pidNs', pidNs, parent, 'pid namespace');
    // a namespace's bitmap holds what its pid_max may become: the root's from the host's pid_max, a child's its parent's
    const ns = new PidNamespace(outer, user(u), pidMax, rules, outer ? outer.capacity : pidCapacity(arch, rules, kernel.pidMax));
    if (!Number.isInteger(pidMax) || pidMax < 1 || pidMax > ns.capacity) throw new MachineDecodeError(`pid namespace ${id} has pid_max ${pidMax}, beyond ${ns.capacity}`);
    ns.id = id;
    ns.lastPid = lastPid;
    ns.accepting = accepting;
    pidNs.push(ns);
  }
  const nsAt = (i: number): PidNamespace => ref('pidNs', pidNs, i, 'pid namespace');
  const pids = unpackPids(r.pids).map(([i, numbers]) => {
    const ns = nsAt(i);
    if (numbers.length !== ns.level + 1) throw new MachineDecodeError(`a pid in a level-${ns.level} namespace has ${numbers.length} numbers`);
    return new Pid(ns, numbers);
  });
  const pidAt = (i: number): Pid => ref('pids', pids, i, 'pid');
  const consoles = r.consoles.map(([name, text]) => {
    const c = new Console(name);
    if (text.length > 0) c.write(new TextEncoder().encode(text));
    return c;
  });
  const consoleAt = (i: number): Console => ref('consoles', consoles, i, 'console');
  const files = r.files.map(([users, fds]) => {
    const t = new FileTable();
    for (const [fd, kind, flags, x] of fds) {
      t.set(fd, kind === 'ns_last_pid' || kind === 'pid_max' ? { kind, flags, pos: x } : kind === 'pidfd' ? { kind, flags, pid: pidAt(x) } : { kind, flags, console: consoleAt(x) });
    }
    t.users = users;
    return t;
  });
  if (r.pageShared.length !== r.pageLengths.length) throw new MachineDecodeError(`${r.pageLengths.length} pages but ${r.pageShared.length} shared flags`);
  let total = 0;
  for (let i = 0; i < r.pageLengths.length; i++) total += r.pageLengths[i]!;
  if (total !== pageBytes.length) throw new MachineDecodeError(`the pages file holds ${pageBytes.length} bytes, the record ${total}`);
  const store = adopt ? pageBytes : pageBytes.slice();
  let offset = 0;
  const pages: Page[] = new Array(r.pageLengths.length);
  for (let i = 0; i < pages.length; i++) {
    const length = r.pageLengths[i]!;
    pages[i] = { bytes: store, at: offset, refs: 0, shared: r.pageShared[i] === 1 };
    offset += length;
  }
  const layout = addressSpaceLayout(arch);
  const mms = unpackMms(r.mms).map(([users, vmas, refs]) =>
    MemoryMap.restore(layout, vmas.map(([start, end, prot, shared, name]) => ({ start, end, prot, shared, name })), users, (add) => {
      for (let i = 0; i < refs.length; i += 2) add(refs[i]!, ref('pages', pages, refs[i + 1]!, 'page'));
    }),
  );
  // FPU states are immutable values (task.ts): views of one copy of the column serve as each task's own
  const fpus = unpackBytes(r.fpus.slice(), r.fpuLengths);
  const taskRecords = unpackTasks(r.tasks);
  const tasks = taskRecords.map((tr) => {
    const abi = archByName(tr.abi);
    if (!abi) throw new MachineDecodeError(`unknown task ABI ${tr.abi}`);
    const [uid, euid, suid, u, effective, permitted, nondumpable] = tr.cred;
    const pid = pidAt(tr.pid);
    const t = new Task(pid, abi, tr.regs, ref('fpus', fpus, tr.fpu, 'fpu state'), copyExtraState(tr.extra), ref('mms', mms, tr.mm, 'address space'), { uid, euid, suid, userNs: user(u), effective, permitted, ...(nondumpable ? { nondumpable: true as const } : {}) }, tr.comm);
    pid.task = t;
    [t.exitSignal, t.exited, t.exitStatus] = tr.exit;
    t.blockedIn = tr.blockedIn as SyscallName | null;
    t.sleepUntil = tr.sleepUntil;
    t.exePath = tr.exePath;
    t.clearChildTid = tr.clearChildTid;
    t.pidNsForChildren = nsAt(tr.nsForChildren);
    return t;
  });
  const taskAt = (i: number): Task => ref('tasks', tasks, i, 'task');
  const groups = unpackGroups(r.groups).map((g) => {
    const group = new ThreadGroup(taskAt(g.leader), pidAt(g.pgrp), pidAt(g.session), ref('files', files, g.files, 'file table'));
    for (const t of g.threads) group.addThread(taskAt(t));
    [group.unkillable, group.sessionLeader, group.stopped, group.stopSignal, group.stopReportPending, group.continueReportPending] = g.flags;
    group.groupExitStatus = g.exit;
    return group;
  });
  taskRecords.forEach((tr, i) => {
    const t = tasks[i]!;
    t.group = ref('groups', groups, tr.group, 'thread group');
    t.parent = tr.parent === -1 ? null : taskAt(tr.parent);
    // a core task's children are in parts: linked once every part is decoded
    if (core) for (const c of tr.children) t.addChild(taskAt(c));
  });
  r.pidNs.forEach(([, , , , , reaper], i) => {
    pidNs[i]!.childReaper = reaper === -1 ? null : taskAt(reaper);
  });
  return { record: r, taskRecords, userNs, pidNs, pids, tasks, groups, files, consoles, mms, pages, fpus };
}
