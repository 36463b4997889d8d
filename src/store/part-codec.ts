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
 * core, as -2 - index; -1 is null. Parts never refer to each other: a page
 * frame two parts hold is the core's (a frame the host init shared with the
 * containers it started, still held by some after it copied its own). Page
 * bytes are not in the record: a part's frames lie back to back in a
 * separate byte string (its pages file), so they are written and read
 * whole, without encoding. Pure: no I/O.
 */
import type { Arch } from '../arch/arch.js';
import { Console } from '../kernel/console.js';
import { UserNamespace } from '../kernel/credentials.js';
import { FileTable, type OpenFile } from '../kernel/files.js';
import { addressSpaceLayout, ForkedAddressSpace, MemoryMap, type Page } from '../kernel/memory-map.js';
import { Pid } from '../kernel/pid.js';
import { PidNamespace } from '../kernel/pid-namespace.js';
import { pidCapacity } from '../kernel/host.js';
import type { KernelRules } from '../kernel/personality.js';
import type { Task } from '../kernel/task.js';
import { ForkedGroup, ThreadGroup } from '../kernel/thread-group.js';
import type { Container } from '../container/container.js';
import { archByName } from '../arch/registry.js';
import { Numbering } from './numbering.js';
import { ByteRuns } from './column-file.js';
import { ByteRunJoiner } from '../codec/bytes.js';
import { decodeTasks, encodeTasks, ownCopy, refTo, TaskColumnsReader, type Lists, type TaskColumns } from './task-columns.js';
import { packGroups, packMms, unpackGroups, unpackMms, type GroupColumns, type GroupRecord, type MmColumns, type MmRecord, type PidColumns, type VmaRecord } from './part-columns.js';

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

type FileRec = [fd: number, kind: OpenFile['kind'], flags: number, ref: number];

const NO_BYTES = new Uint8Array(0);

/**
 * The part format: 2 stores what a fork left of an address space or a
 * thread group never used as it is (MmColumns.forked, a group of leader
 * -1), where 1 made each into a task's own before storing it. A part of
 * format 1 is read as it is: it holds none.
 */
export const PART_FORMAT = 2;

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
  /** a part's references to the core's frames, [frame, count] pairs flattened: loaded without the part, the core counts them in its frames' refs */
  coreRefs: number[];
}

/** CoreFrame is a frame the core numbers before its own: one parts not being encoded hold (by this number), or one two parts hold. */
export interface CoreFrame {
  frame: Page;
  length: number;
}

export interface PartContext {
  id: number;
  /** the part a pid namespace's objects are in */
  partOf(ns: PidNamespace): number;
  /** the part's tasks, in creation order */
  tasks: readonly Task[];
  /** each one's sequence number */
  seqs: readonly number[];
  /** the core's numbering, when this is a part (null when encoding the core) */
  core: Numbering | null;
  /** a core task's children as [part, seq] pairs, flattened (only asked when encoding the core) */
  coreChildren?(t: Task): number[];
  containers: readonly Container[];
  round: readonly Task[];
  /** for the core: the frames that keep their numbers (parts not loaded refer to them so), by number; a gap is a frame no longer held */
  pinned?: ReadonlyArray<CoreFrame | undefined>;
  /** for the core: the frames two parts hold, numbered after its own */
  shared?: readonly CoreFrame[];
}

/**
 * PartRefs numbers what one part refers to. Each reference looks in this part's numbering first (most
 * are to its own objects), then in the core's (-2 - index); one to a namespace, pid or task of
 * another part is Entangled.
 */
class PartRefs {
  readonly mine = new Numbering();
  /** this part's references to the core's frames: how many, by frame */
  readonly coreRefs = new Map<number, number>();
  private readonly core: Numbering | null;
  private readonly id: number;
  private readonly partOf: (ns: PidNamespace) => number;

  constructor(ctx: PartContext) {
    this.core = ctx.core;
    this.id = ctx.id;
    this.partOf = ctx.partOf;
    // a host's task list holds each task once
    for (let i = 0; i < ctx.tasks.length; i++) this.mine.tasks.add(ctx.tasks[i]!);
  }

  private foreign(ns: PidNamespace): never {
    throw new Entangled(this.id, this.partOf(ns));
  }

  readonly user = (u: UserNamespace): number => {
    const i = this.mine.userNs.get(u);
    if (i !== undefined) return i;
    if (this.core?.userNs.has(u)) return -2 - this.core.userNs.of(u);
    if (u.parent) this.user(u.parent);
    return this.mine.userNs.of(u);
  };

  readonly ns = (ns: PidNamespace): number => {
    const i = this.mine.pidNs.get(ns);
    if (i !== undefined) return i;
    if (this.core?.pidNs.has(ns)) return -2 - this.core.pidNs.of(ns);
    if (this.partOf(ns) !== this.id) this.foreign(ns);
    if (ns.parent) this.ns(ns.parent);
    this.user(ns.userNs);
    return this.mine.pidNs.of(ns);
  };

  /** a pid's namespace: most pids are in the namespace of the one before */
  readonly pidNs = lastOne(this.ns);

  readonly pid = (p: Pid): number => {
    const i = this.mine.pids.get(p);
    if (i !== undefined) return i;
    if (this.core?.pids.has(p)) return -2 - this.core.pids.of(p);
    this.pidNs(p.ns);
    return this.mine.pids.add(p);
  };

  readonly task = (t: Task | null): number => {
    if (!t) return -1;
    const i = this.mine.tasks.get(t);
    if (i !== undefined) return i;
    if (this.core?.tasks.has(t)) return -2 - this.core.tasks.of(t);
    return this.foreign(t.pid.ns);
  };

  readonly page = (p: Page): number => {
    const k = this.core?.pages.get(p);
    if (k === undefined) return this.mine.pages.of(p);
    this.coreRefs.set(k, (this.coreRefs.get(k) ?? 0) + 1);
    return -2 - k;
  };

  readonly fpu = (f: Uint8Array): number => this.mine.fpus.get(f) ?? (this.core?.fpus.has(f) ? -2 - this.core.fpus.of(f) : this.mine.fpus.of(f));
  // what a fork left is a part's own: the tasks holding it are its users, and they must all be loaded with it
  readonly mm = (mm: MemoryMap | ForkedAddressSpace): number => this.mine.mms.get(mm) ?? (mm instanceof MemoryMap && this.core?.mms.has(mm) ? -2 - this.core.mms.of(mm) : this.mine.mms.of(mm));
  readonly files = (f: FileTable): number => (this.core?.files.has(f) ? -2 - this.core.files.of(f) : this.mine.files.of(f));
  readonly console = (c: Console): number => (this.core?.consoles.has(c) ? -2 - this.core.consoles.of(c) : this.mine.consoles.of(c));
  readonly group = (g: ThreadGroup | ForkedGroup): number => this.mine.groups.get(g) ?? (g instanceof ThreadGroup && this.core?.groups.has(g) ? -2 - this.core.groups.of(g) : this.mine.groups.of(g));
}

/** encodePart records one part; a reference to a namespace, pid or task of another part is Entangled. */
export function encodePart(ctx: PartContext): EncodedPart {
  const refs = new PartRefs(ctx);
  const { mine } = refs;
  for (const c of ctx.containers) refs.console(c.console);
  const tasks = encodeTasks(ctx.tasks, ctx.seqs, taskRefs(refs, ctx.coreChildren));
  const groups = mine.groups.items.map((g) => groupRecord(g, refs));
  const files = mine.files.items.map((f): [number, FileRec[]] => [
    f.users,
    f.entries().map(([fd, o]): FileRec => [fd, o.kind, o.flags, o.kind === 'ns_last_pid' || o.kind === 'pid_max' ? o.pos : o.kind === 'pidfd' ? refs.pid(o.pid) : refs.console(o.console)]),
  ]);
  /** the length of each of this part's frames, by number */
  const frameLengths = pinnedFrames(mine, ctx.pinned ?? []);
  const mms = mine.mms.items.map((mm) => mmRecord(mm, refs, frameLengths));
  for (const { frame, length } of ctx.shared ?? []) {
    if (mine.pages.has(frame)) continue;
    mine.pages.of(frame);
    frameLengths.push(length);
  }
  const record: PartRecord = {
    userNs: mine.userNs.items.map((u) => [u.id, u.parent ? refs.user(u.parent) : -1, u.ownerUid]),
    pidNs: mine.pidNs.items.map((n) => [n.id, n.parent ? refs.ns(n.parent) : -1, refs.user(n.userNs), n.lastPid, n.accepting, refs.task(n.childReaper), n.pidMax]),
    pids: encodePids(mine.pids.items, refs.pidNs),
    consoles: mine.consoles.items.map((c) => [c.name, c.text]),
    files,
    pageLengths: new Int32Array(frameLengths),
    pageShared: sharedFlags(mine.pages.items),
    mms: packMms(mms),
    ...packBytes(mine.fpus.items),
    groups: packGroups(groups),
    tasks,
    containers: ctx.containers.map((c) => [c.name, refs.task(c.init), refs.console(c.console)]),
    round: ctx.round.map(refs.task),
  };
  const coreRefs = [...refs.coreRefs].sort((a, b) => a[0] - b[0]).flat();
  return { record, pages: frameRuns(mine.pages.items, frameLengths), numbering: mine, coreRefs };
}

/** taskRefs: how encodeTasks refers to what a task uses. A part's tasks mostly share their parent, address space, group, FPU state and namespaces: the last of each is looked up once. */
function taskRefs(refs: PartRefs, coreChildren: PartContext['coreChildren']): Parameters<typeof encodeTasks>[2] {
  return {
    pid: refs.pid,
    group: lastOne(refs.group),
    task: lastOne(refs.task),
    fpu: lastOne(refs.fpu),
    space: lastOne(refs.mm),
    userNs: lastOne(refs.user),
    pidNs: lastOne(refs.ns),
    children: coreChildren
      ? (t, out) => {
          for (const x of coreChildren(t)) out.push(x);
        }
      : (t, out) => {
          if (t.childCount > 0) t.eachChild((k) => out.push(refs.task(k)));
        },
  };
}

/** groupRecord: a thread group, or what a fork left (a group of the fork's own process group and session, no thread, no table yet) */
function groupRecord(g: ThreadGroup | ForkedGroup, refs: PartRefs): GroupRecord {
  if (!(g instanceof ThreadGroup)) return { leader: -1, pgrp: refs.pid(g.pgrp), session: refs.pid(g.session), files: -1, threads: [], flags: [false, false, false, 0, false, false], exit: null };
  return {
    leader: refs.task(g.leader),
    pgrp: refs.pid(g.pgrp),
    session: refs.pid(g.session),
    files: refs.files(g.files),
    threads: g.threadList().map(refs.task),
    flags: [g.unkillable, g.sessionLeader, g.stopped, g.stopSignal, g.stopReportPending, g.continueReportPending],
    exit: g.groupExitStatus,
  };
}

/** pinnedFrames numbers the core's frames that keep their numbers first, and gives their lengths */
function pinnedFrames(mine: Numbering, pinned: ReadonlyArray<CoreFrame | undefined>): number[] {
  const frameLengths: number[] = [];
  for (let k = 0; k < pinned.length; k++) {
    // a gap keeps the numbers after it: an empty frame nothing refers to
    mine.pages.of(pinned[k]?.frame ?? { bytes: NO_BYTES, at: 0, refs: 0, shared: false });
    frameLengths.push(pinned[k]?.length ?? 0);
  }
  return frameLengths;
}

/** mmRecord: an address space's mappings and pages, each frame met first here numbered (its length added to `frameLengths`) */
function mmRecord(mm: MemoryMap | ForkedAddressSpace, refs: PartRefs, frameLengths: number[]): MmRecord {
  const vmas = (mm instanceof MemoryMap ? mm.mappings() : mm.vmas).map((v): VmaRecord => [v.start, v.end, v.prot, v.shared, v.name]);
  if (mm instanceof MemoryMap) {
    // [index, frame] pairs flattened: an address space may hold hundreds of thousands of pages
    const pages = new Float64Array(2 * mm.residentPages());
    let k = 0;
    mm.forEachPage((index, page, alone) => {
      pages[k++] = index;
      // a frame this address space alone holds is in no other part, nor met again here
      const ref = alone ? refs.mine.pages.once(page) : refs.page(page);
      if (ref === frameLengths.length) frameLengths.push(mm.pageSize); // met first here
      pages[k++] = ref;
    });
    return [mm.users, vmas, pages, false];
  }
  // what a fork left unmade: its table is shared with the address space it was forked from, so no frame is alone
  const entries = [...mm.table.pages.entries()].sort((a, b) => a[0] - b[0]);
  const pages = new Float64Array(2 * entries.length);
  entries.forEach(([index, page], i) => {
    const ref = refs.page(page);
    if (ref === frameLengths.length) frameLengths.push(mm.layout.pageSize);
    pages[2 * i] = index;
    pages[2 * i + 1] = ref;
  });
  return [0, vmas, pages, true];
}

/** sharedFlags is 1 for each MAP_SHARED frame (a loop: TypedArray.from iterates, a result object per frame). */
function sharedFlags(frames: readonly Page[]): Uint8Array {
  const out = new Uint8Array(frames.length);
  for (let i = 0; i < frames.length; i++) out[i] = frames[i]!.shared ? 1 : 0;
  return out;
}

/** frameRuns gives the frames' bytes one after another as views, neighbours that lie back to back in one buffer (frames read from one pages file) joined. */
function frameRuns(frames: readonly Page[], lengths: readonly number[]): Uint8Array[] {
  const runs = new ByteRunJoiner();
  for (let i = 0; i < frames.length; i++) runs.add(frames[i]!.bytes, frames[i]!.at, lengths[i]!);
  return runs.joined();
}

/** plainPart is a part's record as plain data, for CBOR: its register column joined into one byte string (a column file writes the runs as they lie). */
export function plainPart(r: PartRecord): PartRecord {
  return r.tasks.regs instanceof ByteRuns ? { ...r, tasks: { ...r.tasks, regs: r.tasks.regs.joined() } } : r;
}

/** lastOne remembers a reference function's last answer: called for the same object again, it answers without looking it up. */
function lastOne<T, R>(ref: (x: T) => R): (x: T) => R {
  let last: T | undefined;
  let answer: R | undefined;
  return (x) => {
    if (x !== last || answer === undefined) {
      answer = ref(x);
      last = x;
    }
    return answer;
  };
}

/** encodePids lays pids out as columns, read straight from each pid. */
function encodePids(pids: readonly Pid[], nsRef: (ns: PidNamespace) => number): PidColumns {
  const ns = new Int32Array(pids.length);
  const counts = new Int32Array(pids.length);
  let total = 0;
  for (let i = 0; i < pids.length; i++) total += pids[i]!.ns.level + 1;
  const numbers = new Int32Array(total);
  let at = 0;
  for (let i = 0; i < pids.length; i++) {
    const p = pids[i]!;
    ns[i] = nsRef(p.ns);
    const n = p.copyNumbers(numbers, at);
    counts[i] = n;
    at += n;
  }
  return { ns, counts, numbers };
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
  /** the record's task columns, for what links tasks across parts (sequence numbers, a core task's children) */
  taskColumns: TaskColumnsReader;
  userNs: UserNamespace[];
  pidNs: PidNamespace[];
  pids: Pid[];
  tasks: Task[];
  groups: Array<ThreadGroup | ForkedGroup>;
  files: FileTable[];
  consoles: Console[];
  mms: Array<MemoryMap | ForkedAddressSpace>;
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
 * decodePart rebuilds a part's objects, of either format. `pageBytes` is
 * its pages file; with `adopt` the frames are views of it (it must belong
 * to the caller alone), else copies.
 */
export function decodePart(r: PartRecord, pageBytes: Uint8Array, kernel: HostKernel, core: DecodedPart | null, adopt: boolean): DecodedPart {
  const { arch, rules } = kernel;
  const ref = <T>(kind: Exclude<keyof DecodedPart, 'record' | 'taskColumns'>, list: readonly T[], i: number, what: string): T => {
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
  const nsLists: Lists<PidNamespace> = { mine: pidNs, core: core?.pidNs ?? null };
  const pids = decodePids(r.pids, nsLists, adopt);
  const pidLists: Lists<Pid> = { mine: pids, core: core?.pids ?? null };
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
  const mms = unpackMms(r.mms).map(([users, vmaRecords, refs, forked]): MemoryMap | ForkedAddressSpace => {
    const vmas = vmaRecords.map(([start, end, prot, shared, name]) => ({ start, end, prot, shared, name }));
    if (!forked)
      return MemoryMap.restore(layout, vmas, users, (add) => {
        for (let i = 0; i < refs.length; i += 2) add(refs[i]!, ref('pages', pages, refs[i + 1]!, 'page'));
      });
    // a table of its own, shared by the tasks holding this copy: each holds one share (counted as they are made)
    const table = { pages: new Map<number, Page>(), sharers: 0 };
    for (let i = 0; i < refs.length; i += 2) {
      const page = ref('pages', pages, refs[i + 1]!, 'page');
      page.refs++;
      table.pages.set(refs[i]!, page);
    }
    return new ForkedAddressSpace(layout, vmas, table);
  });
  // FPU states are immutable values (task.ts): views of one copy of the column serve as each task's own
  const fpus = unpackBytes(r.fpus.slice(), r.fpuLengths);
  const columns = new TaskColumnsReader(r.tasks);
  let tasks: Task[];
  try {
    tasks = decodeTasks(
      r.tasks,
      {
        pids: pidLists,
        fpus: { mine: fpus, core: core?.fpus ?? null },
        spaces: { mine: mms, core: core?.mms ?? null },
        userNs: { mine: userNs, core: core?.userNs ?? null },
        pidNs: nsLists,
        abi: archByName,
      },
      adopt,
    );
  } catch (e) {
    throw e instanceof RangeError ? new MachineDecodeError(e.message) : e;
  }
  const taskAt = (i: number): Task => ref('tasks', tasks, i, 'task');
  const groups = unpackGroups(r.groups).map((g): ThreadGroup | ForkedGroup => {
    if (g.leader === -1) return new ForkedGroup(pidAt(g.pgrp), pidAt(g.session));
    const group = new ThreadGroup(taskAt(g.leader), pidAt(g.pgrp), pidAt(g.session), ref('files', files, g.files, 'file table'));
    for (const t of g.threads) group.addThread(taskAt(t));
    [group.unkillable, group.sessionLeader, group.stopped, group.stopSignal, group.stopReportPending, group.continueReportPending] = g.flags;
    group.groupExitStatus = g.exit;
    return group;
  });
  try {
    linkTasks(tasks, columns, { mine: tasks, core: core?.tasks ?? null }, { mine: groups, core: core?.groups ?? null }, core !== null);
  } catch (e) {
    throw e instanceof RangeError ? new MachineDecodeError(e.message) : e;
  }
  r.pidNs.forEach(([, , , , , reaper], i) => {
    pidNs[i]!.childReaper = reaper === -1 ? null : taskAt(reaper);
  });
  return { record: r, taskColumns: columns, userNs, pidNs, pids, tasks, groups, files, consoles, mms, pages, fpus };
}

/**
 * linkTasks gives each task its thread group and parent, and (but in the
 * core, whose children are in parts: linked once every part is decoded) its
 * children; plain loops over the columns, as decodeTasks.
 */
function linkTasks(tasks: readonly Task[], columns: TaskColumnsReader, taskLists: Lists<Task>, groupLists: Lists<ThreadGroup | ForkedGroup>, withChildren: boolean): void {
  let [groupRef, group] = [NaN, null as ThreadGroup | ForkedGroup | null];
  let [parentRef, parent] = [NaN, null as Task | null];
  for (let i = 0; i < tasks.length; i++) {
    const t = tasks[i]!;
    const g = columns.group(i);
    if (g !== groupRef) [groupRef, group] = [g, refTo(groupLists, g, 'thread group')];
    if (group instanceof ForkedGroup) {
      // each fork counted its child as a user of the process group and session
      group.pgrp.pgrpUsers++;
      group.session.sessionUsers++;
    }
    t.group = group!;
    const p = columns.parent(i);
    if (p !== parentRef) [parentRef, parent] = [p, p === -1 ? null : refTo(taskLists, p, 'task')];
    t.parent = parent;
    if (withChildren && columns.childCount(i) > 0) {
      const children = columns.children(i);
      for (let k = 0; k < children.length; k++) t.addChild(refTo(taskLists, children[k]!, 'task'));
    }
  }
}

/** decodePids makes the pids the columns hold; their numbers are used in place in the column (ownCopy). */
function decodePids(c: PidColumns, nsLists: Lists<PidNamespace>, adopt: boolean): Pid[] {
  if (c.ns.length !== c.counts.length) throw new MachineDecodeError('pid columns disagree');
  const numbers = ownCopy(c.numbers, adopt);
  const pids: Pid[] = new Array(c.ns.length);
  let offset = 0;
  let [nsRef, ns] = [NaN, null as PidNamespace | null];
  for (let i = 0; i < pids.length; i++) {
    if (c.ns[i] !== nsRef) {
      nsRef = c.ns[i]!;
      try {
        ns = refTo(nsLists, nsRef, 'pid namespace');
      } catch (e) {
        throw e instanceof RangeError ? new MachineDecodeError(e.message) : e;
      }
    }
    const n = c.counts[i]!;
    if (n !== ns!.level + 1) throw new MachineDecodeError(`a pid in a level-${ns!.level} namespace has ${n} numbers`);
    if (offset + n > numbers.length) throw new MachineDecodeError('the pid numbers run past their column');
    pids[i] = new Pid(ns!, numbers, offset);
    offset += n;
  }
  return pids;
}
