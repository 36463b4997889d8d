/**
 * A Machine as stored: a small host record (the core of part-codec.ts, the
 * clock and id counters, the programs, the root namespace's pids in use
 * and an entry per part) and a record plus a pages file per part. A
 * machine may be loaded with only some of its parts: the others' root-level
 * pids stay reserved in the root bitmap, their entries and their place
 * among the host init's children are kept, and saving writes back the
 * parts that were loaded. Each task carries a sequence number, its place in
 * the host's creation order, so that parts loaded separately merge back
 * into that order (the scheduler's round robin follows it). Pure: no I/O.
 */
import type { ArchName } from '../arch/arch.js';
import { archByName } from '../arch/registry.js';
import type { Container } from '../container/container.js';
import { Machine } from '../container/machine.js';
import { ForkedAddressSpace, type Page } from '../kernel/memory-map.js';
import { Host } from '../kernel/host.js';
import { isKernelName, kernelRules, type KernelName } from '../kernel/personality.js';
import type { Pid } from '../kernel/pid.js';
import type { PidNamespace } from '../kernel/pid-namespace.js';
import type { Task } from '../kernel/task.js';
import { ThreadGroup } from '../kernel/thread-group.js';
import { SeqBook } from './seq-book.js';
import { CORE, decodePart, encodePart, Entangled, levelOneId, MachineDecodeError, PART_FORMAT, plainPart, type CoreFrame, type DecodedPart, type EncodedPart, type PartRecord } from './part-codec.js';
import { concatBytes } from '../codec/bytes.js';

export { MachineDecodeError } from './part-codec.js';

/** the host file's format: 3 holds parts of PART_FORMAT 2 (and names each part's), 2 only parts of format 1; both are read */
export const HOST_FORMAT = 3;
const HOST_FORMATS_READ = [2, 3];

/** isHostFormat reports whether a host file of `format` is read here. */
export function isHostFormat(format: unknown): boolean {
  return HOST_FORMATS_READ.includes(format as number);
}

/** PartEntry is what the host record says of a part, so that listing a host reads no part. */
export interface PartEntry {
  id: number;
  /** the level-1 pid namespaces stored together in it (more than one when they refer to each other) */
  members: number[];
  /** the generation its files were written in: NAME.GEN.part and NAME.GEN.pages */
  gen: number;
  tasks: number;
  containers: Array<[name: string, initPid: number, state: string, tasks: number]>;
  /** one of its processes is stopped in a process group of the core (the host init's): see HostStore's loads */
  stoppedInCore: boolean;
  /** its record's PART_FORMAT; absent: 1 */
  format?: number;
  /**
   * its references to the core's page frames, [frame, count] pairs
   * flattened: loaded without it, the host counts them in those frames'
   * refs and keeps their numbers. Absent (host files written before it):
   * taken as one reference to every core frame.
   */
  coreRefs?: number[];
}

export interface HostRecord {
  format: number;
  name: string;
  arch: ArchName;
  /** the kernel personality */
  kernel: KernelName;
  /** the root pid namespace's pid_max */
  pidMax: number;
  clock: number;
  ids: [nextPidNs: number, nextUserNs: number];
  nextSeq: number;
  gen: number;
  /** the root namespace's numbers in use, by every part: [first, count] pairs flattened */
  rootPids: number[];
  core: PartRecord;
  corePages: Uint8Array;
  /** the core task that is the host's init */
  init: number;
  programs: Array<[path: string, text: string]>;
  parts: PartEntry[];
}

/** Ledger is what a loaded machine needs to be saved back beside the parts it did not load. */
interface Ledger {
  seqs: SeqBook;
  gen: number;
  absent: PartEntry[];
  /** each core task's children as stored ([part, seq] pairs flattened), some perhaps in parts not loaded */
  coreChildren: WeakMap<Task, number[]>;
  /** level-1 namespace id → the part it is stored in, where that is another's */
  joined: Map<number, number>;
}

const ledgers = new WeakMap<Machine, Ledger>();

function ledgerOf(m: Machine): Ledger {
  let l = ledgers.get(m);
  if (!l) {
    l = { seqs: new SeqBook(), gen: 0, absent: [], coreChildren: new WeakMap(), joined: new Map() };
    ledgers.set(m, l);
  }
  return l;
}

/** generationOf is the generation of the files `m` was loaded from (0 for a machine never stored). */
export function generationOf(m: Machine): number {
  return ledgerOf(m).gen;
}

export interface EncodedHost {
  host: HostRecord;
  parts: Array<{ entry: PartEntry; part: EncodedPart }>;
}

/**
 * encodeHost records the core and every loaded part of `m`; the loaded parts
 * get generation `gen`. Containers whose objects refer to each other are
 * joined into one part (once joined, for good).
 */
export function encodeHost(m: Machine, gen: number): EncodedHost {
  const ledger = ledgerOf(m);
  for (;;) {
    try {
      return encodeParts(m, gen, ledger);
    } catch (e) {
      if (!(e instanceof Entangled)) throw e;
      const [keep, gone] = [Math.min(e.id, e.other), Math.max(e.id, e.other)];
      for (const [k, v] of ledger.joined) if (v === gone) ledger.joined.set(k, keep);
      ledger.joined.set(gone, keep);
    }
  }
}

function encodeParts(m: Machine, gen: number, ledger: Ledger): EncodedHost {
  const partOf = (ns: PidNamespace): number => {
    const id = levelOneId(ns);
    return ledger.joined.get(id) ?? id;
  };
  const host = m.host;
  // Tasks in creation order, split by part; new tasks take the next sequence numbers in that order.
  const { tasks: listed, seqs } = ledger.seqs.number(host.tasks, (t) => host.tasks.has(t));
  const byPart = new Map<number, { tasks: Task[]; seqs: number[]; members: Set<number> }>();
  // the sequence numbers of the core tasks' children, which the core records as [part, seq] pairs
  const childSeqs = new Map<Task, number>();
  // most tasks are in the namespace of the task before them: its part is looked up once
  let lastNs: PidNamespace | null = null;
  let part = { tasks: [] as Task[], seqs: [] as number[], members: new Set<number>() };
  for (let i = 0; i < listed.length; i++) {
    const t = listed[i]!;
    const seq = seqs[i]!;
    if (t.pid.ns !== lastNs) {
      lastNs = t.pid.ns;
      const member = levelOneId(lastNs);
      const id = ledger.joined.get(member) ?? member;
      const known = byPart.get(id);
      if (known) part = known;
      else byPart.set(id, (part = { tasks: [], seqs: [], members: new Set() }));
      part.members.add(member);
    }
    part.tasks.push(t);
    part.seqs.push(seq);
    if (t.parent?.pid.ns.level === 0) childSeqs.set(t, seq);
  }
  let allSeqs: Map<Task, number> | null = null;
  const seqOf = (t: Task): number => childSeqs.get(t) ?? (allSeqs ??= ledger.seqs.entries()).get(t)!;
  const containersOf = new Map<number, Container[]>();
  // a container whose init has been reaped has no task left (its namespace died with it): it is gone
  for (const c of m.containers.values()) {
    if (!host.tasks.has(c.init)) continue;
    const id = partOf(c.init.pid.ns);
    containersOf.set(id, [...(containersOf.get(id) ?? []), c]);
  }
  const roundOf = new Map<number, Task[]>();
  for (const t of m.scheduler.pending()) {
    const id = partOf(t.pid.ns);
    const list = roundOf.get(id);
    if (list) list.push(t);
    else roundOf.set(id, [t]);
  }
  const absentIds = new Set(ledger.absent.map((e) => e.id));
  /** coreChildren merges a core task's children in memory with those stored of parts not loaded, keeping the stored order. */
  const coreChildren = (t: Task): number[] => {
    const stored = ledger.coreChildren.get(t) ?? [];
    const place = new Map<number, number>();
    const kept: Array<{ pair: [number, number]; key: number }> = [];
    for (let i = 0; i < stored.length; i += 2) {
      place.set(stored[i + 1]!, i);
      if (absentIds.has(stored[i]!)) kept.push({ pair: [stored[i]!, stored[i + 1]!], key: i });
    }
    let n = 0;
    for (const c of t.children()) {
      const pair: [number, number] = [partOf(c.pid.ns), seqOf(c)];
      kept.push({ pair, key: place.get(pair[1]) ?? stored.length + n++ });
    }
    return kept.sort((a, b) => a.key - b.key).flatMap((k) => k.pair);
  };
  const coreTasks = byPart.get(CORE) ?? { tasks: [], seqs: [] };
  // the frames parts not loaded hold keep their numbers in the core
  const pinned: Array<CoreFrame | undefined> = [];
  for (const [k, held] of m.heldByUnloaded) pinned[k] = held;
  const core = encodePart({ id: CORE, partOf, tasks: coreTasks.tasks, seqs: coreTasks.seqs, core: null, coreChildren, containers: containersOf.get(CORE) ?? [], round: roundOf.get(CORE) ?? [], pinned, shared: framesOfTwoParts(byPart) });
  const parts: EncodedHost['parts'] = [];
  for (const [id, { tasks, seqs: partSeqs, members }] of byPart) {
    if (id === CORE) continue;
    const containers = containersOf.get(id) ?? [];
    const part = encodePart({ id, partOf, tasks, seqs: partSeqs, core: core.numbering, containers, round: roundOf.get(id) ?? [] });
    const stoppedInCore = part.numbering.groups.items.some((g) => g instanceof ThreadGroup && g.stopped && partOf(g.pgrp.ns) === CORE);
    const entry: PartEntry = {
      id,
      members: [...members].sort((a, b) => a - b),
      gen,
      tasks: tasks.length,
      containers: containers.map((c) => [c.name, c.init.pid.nr, c.init.state, countBelow(c.init.pid.ns, tasks)]),
      stoppedInCore,
      format: PART_FORMAT,
      coreRefs: part.coreRefs,
    };
    parts.push({ entry, part });
  }
  const corePages = concatBytes(core.pages);
  const { nextPidNsId, nextUserNsId } = host.idCounters;
  const record: HostRecord = {
    format: HOST_FORMAT,
    name: m.name,
    arch: host.arch.name,
    kernel: host.kernel,
    pidMax: host.pidMax,
    clock: host.clock,
    ids: [nextPidNsId, nextUserNsId],
    nextSeq: ledger.seqs.next,
    gen,
    // to its capacity, not pid_max: a pid_max lowered after pids above it were handed out keeps them
    rootPids: host.rootPidNs.bitmap.takenRuns(),
    core: plainPart(core.record),
    corePages,
    init: core.numbering.tasks.of(host.init),
    programs: [...m.sources.entries()],
    parts: [...ledger.absent, ...parts.map((p) => p.entry)].sort((a, b) => a.id - b.id),
  };
  ledger.gen = gen;
  return { host: record, parts };
}

/**
 * framesOfTwoParts finds the page frames that tasks of two parts hold (none
 * with fewer than two parts besides the core): the core stores them, so
 * that they stay one frame. Only frames the host init held can be such (it
 * alone makes children in several containers), so they are few; a frame an
 * address space holds alone is not looked at.
 */
function framesOfTwoParts(byPart: ReadonlyMap<number, { tasks: Task[] }>): CoreFrame[] {
  if ([...byPart.keys()].filter((id) => id !== CORE).length < 2) return [];
  const firstPart = new Map<Page, number>();
  const shared = new Map<Page, number>();
  for (const [id, { tasks }] of byPart) {
    if (id === CORE) continue;
    const seen = new Set<object>();
    const note = (page: Page, length: number): void => {
      const at = firstPart.get(page);
      if (at === undefined) firstPart.set(page, id);
      else if (at !== id) shared.set(page, length);
    };
    let last: object | null = null;
    for (const t of tasks) {
      const mm = t.addressSpaceOrFork;
      // most tasks hold what the task before them holds (a restorer's children, threads)
      if (mm === last || seen.has(mm)) continue;
      last = mm;
      seen.add(mm);
      if (mm instanceof ForkedAddressSpace) mm.table.pages.forEach((page) => note(page, mm.layout.pageSize));
      else
        mm.forEachPage((_, page, alone) => {
          if (!alone) note(page, mm.pageSize);
        });
    }
  }
  return [...shared].map(([frame, length]) => ({ frame, length }));
}

/** countBelow counts the tasks that live in `ns` or below it. */
function countBelow(ns: PidNamespace, tasks: readonly Task[]): number {
  let n = 0;
  let [last, below] = [null as PidNamespace | null, false];
  for (const t of tasks) {
    if (t.pid.ns !== last) [last, below] = [t.pid.ns, ns.isAncestorOf(t.pid.ns)];
    if (below) n++;
  }
  return n;
}

/** LoadedPart is a part's record and its pages file, as read. */
export interface LoadedPart {
  record: PartRecord;
  pages: Uint8Array;
}

/**
 * decodeHost rebuilds a machine from its host record and the parts given
 * (the others stay absent). With `adopt` the page frames are views of the
 * pages files read, which must belong to the caller alone.
 */
export function decodeHost(r: HostRecord, loaded: ReadonlyMap<number, LoadedPart>, adopt: boolean): Machine {
  if (!isHostFormat(r.format)) throw new MachineDecodeError(`host format ${r.format} is not one of ${HOST_FORMATS_READ.join(', ')}`);
  const arch = archByName(r.arch);
  if (!arch) throw new MachineDecodeError(`unknown architecture ${r.arch}`);
  if (!isKernelName(r.kernel)) throw new MachineDecodeError(`unknown kernel personality ${JSON.stringify(r.kernel)}`);
  const kernel = { arch, rules: kernelRules(r.kernel), pidMax: r.pidMax };
  const core = decodePart(r.core, r.corePages, kernel, null, adopt);
  const root = core.pidNs.find((n) => n.level === 0);
  if (!root) throw new MachineDecodeError('no root pid namespace');
  for (let i = 0; i < r.rootPids.length; i += 2) {
    const [first, count] = [r.rootPids[i]!, r.rootPids[i + 1]!];
    if (first < 0 || count < 0 || first + count > root.capacity) throw new MachineDecodeError(`root pids ${first}+${count} are outside the root namespace's ${root.capacity}`);
    root.bitmap.setRun(first, count);
  }
  const parts = new Map<number, DecodedPart>();
  const absent = [];
  for (const e of r.parts) {
    const p = loaded.get(e.id);
    if ((e.format ?? 1) > PART_FORMAT) throw new MachineDecodeError(`part ${e.id} is of format ${e.format}, newer than ${PART_FORMAT}`);
    if (p) parts.set(e.id, decodePart(p.record, p.pages, kernel, core, adopt));
    else absent.push(e);
  }
  const decoded = [core, ...parts.values()];
  // Numbers are allocated exactly for the pids something uses (a pidfd alone keeps none); the root's are reserved above.
  for (const d of decoded) registerAll(d.pids);
  const coreChildren = new WeakMap<Task, number[]>();
  // a part's tasks are in sequence order: a child is found by bisection
  const childOf = (part: number, seq: number): Task | undefined => {
    const d = part === CORE ? core : parts.get(part);
    if (!d) return undefined;
    let [lo, hi] = [0, d.tasks.length];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (d.taskColumns.seq(mid) < seq) lo = mid + 1;
      else hi = mid;
    }
    if (lo < d.tasks.length && d.taskColumns.seq(lo) === seq) return d.tasks[lo];
    for (let i = 0; i < d.tasks.length; i++) if (d.taskColumns.seq(i) === seq) return d.tasks[i]; // a part not in order
    return undefined;
  };
  core.tasks.forEach((t, i) => {
    const children = Array.from(core.taskColumns.children(i));
    coreChildren.set(t, children);
    for (let k = 1; k < children.length; k += 2) {
      const child = childOf(children[k - 1]!, children[k]!);
      if (child) t.addChild(child);
    }
  });
  const order = inSeqOrder(decoded.map(() => null), decoded);
  const host = Host.restore(arch, r.pidMax, {
    rootUserNs: root.userNs,
    rootPidNs: root,
    init: at(core.tasks, r.init),
    tasks: order.tasks,
    clock: r.clock,
    nextPidNsId: r.ids[0],
    nextUserNsId: r.ids[1],
  });
  const m = new Machine(r.name, host);
  for (const [path, text] of r.programs) m.addProgram(path, text);
  for (const d of decoded) {
    for (const [name, init, console] of d.record.containers) m.containers.set(name, { name, init: at(d.tasks, init), console: at(d.consoles, console) });
  }
  for (const e of absent) for (const [name] of e.containers) m.unloaded.add(name);
  holdFrames(m, absent, core, r.core.pageLengths);
  m.scheduler.resumeRound(inSeqOrder(decoded.map((d) => d.record.round), decoded).tasks);
  const joined = new Map<number, number>();
  for (const e of r.parts) for (const member of e.members) if (member !== e.id) joined.set(member, e.id);
  ledgers.set(m, { seqs: new SeqBook(order.tasks, order.seqs, r.nextSeq), gen: r.gen, absent, coreChildren, joined });
  return m;
}

/**
 * holdFrames counts the references the parts not loaded hold to the core's
 * frames in those frames' refs (a loaded task sharing one copies it before
 * writing, as it would beside them) and keeps the frames, by number, for the
 * save. A part whose entry does not say is taken to hold every core frame once.
 */
function holdFrames(m: Machine, absent: readonly PartEntry[], core: DecodedPart, lengths: Int32Array): void {
  for (const e of absent) {
    const refs = e.coreRefs ?? core.pages.flatMap((_, k) => [k, 1]);
    for (let i = 0; i < refs.length; i += 2) {
      const [k, n] = [refs[i]!, refs[i + 1]!];
      const frame = core.pages[k];
      if (frame === undefined || !(n > 0)) throw new MachineDecodeError(`part ${e.id} holds core frame ${k} ${n} times`);
      frame.refs += n;
      const held = m.heldByUnloaded.get(k);
      if (held) held.refs += n;
      else m.heldByUnloaded.set(k, { frame, length: lengths[k]!, refs: n });
    }
  }
}

/**
 * inSeqOrder lists the tasks `indices` picks of each decoded part (null:
 * all of them), merged
 * in their sequence numbers' order (the host's creation order). Each
 * part's are mostly in that order already: they are only sorted when the
 * lists as joined are not.
 */
function inSeqOrder(indices: ReadonlyArray<ArrayLike<number> | null>, decoded: readonly DecodedPart[]): { tasks: Task[]; seqs: number[] } {
  const tasks: Task[] = [];
  const seqs: number[] = [];
  let sorted = true;
  let last = -Infinity;
  for (let p = 0; p < decoded.length; p++) {
    const d = decoded[p]!;
    const list = indices[p];
    const n = list ? list.length : d.tasks.length;
    for (let k = 0; k < n; k++) {
      const i = list ? list[k]! : k;
      const seq = d.taskColumns.seq(i);
      if (seq < last) sorted = false;
      last = seq;
      tasks.push(at(d.tasks, i));
      seqs.push(seq);
    }
  }
  if (sorted) return { tasks, seqs };
  const order = tasks.map((_, k) => k).sort((a, b) => seqs[a]! - seqs[b]!);
  return { tasks: order.map((k) => tasks[k]!), seqs: order.map((k) => seqs[k]!) };
}

/**
 * inheritLedger makes `copy`, a copy of the loaded machine `from` made
 * without this codec (Machine.copy, by a restore that works on a copy),
 * savable in its place: the parts `from` left unloaded stay in the host
 * file (Machine.copy kept their names and root-level pids), and each task
 * keeps its place in the creation order (tasks are matched by their
 * root-level pid). A copy made by decodeMachine has its own ledger already
 * and is left alone.
 */
export function inheritLedger(from: Machine, copy: Machine): void {
  if (copy === from || ledgers.has(copy)) return;
  const l = ledgerOf(from);
  const byNr = (m: Machine): Map<number, Task> => new Map([...m.host.tasks].map((t) => [t.pid.nr, t]));
  const before = byNr(from);
  const seqOf = l.seqs.entries();
  const [tasks, seqs]: [Task[], number[]] = [[], []];
  const coreChildren = new WeakMap<Task, number[]>();
  for (const t of copy.host.tasks) {
    const old = before.get(t.pid.nr);
    const seq = old && seqOf.get(old);
    if (seq !== undefined) {
      tasks.push(t);
      seqs.push(seq);
    }
    const children = old && l.coreChildren.get(old);
    if (children) coreChildren.set(t, children);
  }
  for (const e of l.absent) for (const [name] of e.containers) copy.unloaded.add(name);
  // a copy of the same frames (Machine.copy carries its own)
  if (copy.heldByUnloaded.size === 0) for (const [k, held] of from.heldByUnloaded) copy.heldByUnloaded.set(k, held);
  ledgers.set(copy, { ...l, seqs: new SeqBook(tasks, seqs, l.seqs.next), coreChildren, absent: [...l.absent], joined: new Map(l.joined) });
}

function at<T>(list: readonly T[], i: number): T {
  const v = list[i];
  if (v === undefined) throw new MachineDecodeError(`index ${i} does not exist`);
  return v;
}

/**
 * registerAll enters the numbers of the pids something uses in their
 * namespaces; the root's numbers must be reserved already, and no number
 * taken twice. A plain loop: a load runs it once over 100,000s of pids.
 */
function registerAll(pids: readonly Pid[]): void {
  for (let i = 0; i < pids.length; i++) {
    const pid = pids[i]!;
    if (!pid.inUse) continue;
    const chain = pid.ns.chain;
    for (let level = 0; level < chain.length; level++) {
      const ns = chain[level]!;
      const nr = pid.nrAt(level);
      if (level === 0 ? !ns.bitmap.test(nr) || ns.pids.get(nr) !== undefined : !ns.bitmap.set(nr)) {
        throw new MachineDecodeError(`pid ${nr} at level ${level} is ${level === 0 && !ns.bitmap.test(nr) ? 'not among the root namespace\'s pids in use' : 'used twice'}`);
      }
      ns.pids.set(nr, pid);
    }
  }
}

/** MachineRecord is a whole loaded machine as plain data (its page bytes copied): what a deep copy goes through. */
export interface MachineRecord {
  host: HostRecord;
  parts: Array<[id: number, record: PartRecord, pages: Uint8Array]>;
}

/** encodeMachine records `m` as plain data, the page bytes copied; parts not loaded stay absent. */
export function encodeMachine(m: Machine): MachineRecord {
  const { host, parts } = encodeHost(m, ledgerOf(m).gen);
  return { host, parts: parts.map(({ entry, part }) => [entry.id, plainPart(part.record), concatBytes(part.pages)]) };
}

/** decodeMachine rebuilds what encodeMachine recorded: the same snapshot, consoles and continuation, and the same parts absent. */
export function decodeMachine(r: MachineRecord): Machine {
  if (!r || typeof r !== 'object' || !r.host || !Array.isArray(r.parts)) throw new MachineDecodeError('not a machine record');
  // encodeMachine copied the page bytes (or they were decoded from bytes the caller owns): the frames may be views of them
  return decodeHost(r.host, new Map(r.parts.map(([id, record, pages]) => [id, { record, pages }])), true);
}
