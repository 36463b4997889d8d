/**
 * The dump of a container whose tasks are real processes (`--host linux`).
 * The model keeps a mirror of the container (a Machine with its tasks,
 * registers, the interpreter's state and which mappings the workload made);
 * the kernel holds the processes and their memory. dumpReal freezes the
 * container (freeze.ts), reads its tree from /proc and checks it against
 * the mirror, reads the workload's mappings from the processes, and gives
 * the same ContainerImage the model's dump gives:
 *
 * - topology (every pid level, thread groups, parents and children in the
 *   kernel's order, process groups and sessions at every level /proc
 *   shows, zombies and their wait status, stopped processes, which pid
 *   namespace each task lives in and sends its children to) is what /proc
 *   shows, and must be what the mirror holds: any difference stops the dump
 *   with a DumpError naming the task; `outer` (the levels above the
 *   container) are the machine's own pids;
 * - memory is read from the processes, for exactly the mirror's mappings
 *   (never the helper's own code, stack or heap: a mirror mapping must lie
 *   in anonymous memory of the same protection in the real process). A page
 *   is in the image when the mirror's page table has it (the workload wrote
 *   it) or the real page is not all zeros; pages the mirror shares between
 *   address spaces stay one record where the real bytes agree;
 * - registers, FPU state, credentials, descriptors, console, programs,
 *   last_pid, the scheduler's round and what each task is blocked in are the
 *   mirror's (the interpreter keeps them; the real processes are agents
 *   blocked on their channels).
 *
 * The caller must not send the agents commands while dumpReal runs.
 */
import type { Container } from '../container/container.js';
import type { Machine } from '../container/machine.js';
import { Indexer } from '../codec/indexer.js';
import type { PageRecord, VmaRecord } from '../codec/address-space-record.js';
import { DumpError, dumpContainer } from '../image/dump.js';
import type { ContainerImage, ImageTask } from '../image/container-image.js';
import type { MemoryMap, Vma } from '../kernel/memory-map.js';
import type { Task } from '../kernel/task.js';
import { freeze, type FreezeMethod } from './freeze.js';
import { readProcess, type MapsEntry, type ProcProcess, type ProcThread } from './proc.js';
import { ProcessMemory, readPages } from './real-memory.js';

/** RealMirror is a container on `--host linux`: the model's mirror of it and where each of its tasks runs. */
export interface RealMirror {
  machine: Machine;
  container: Container;
  /** each task of the container in the mirror (zombies included) and its real thread id, as this process's /proc numbers it */
  tids: ReadonlyMap<Task, number>;
  /** where mirror mapping `vma` of `mm` starts in the real process (default: at the same address) */
  realAddress?: (mm: MemoryMap, vma: Vma) => number;
}

export interface RealDumpOptions {
  /** let the container run on afterwards (else it stays frozen for the caller to remove) */
  leaveRunning?: boolean;
  /** 'auto' (default): the container's own cgroup v2 freezer if it has a cgroup of its own, else SIGSTOP */
  freezer?: 'auto' | 'sigstop';
  onProgress?: (done: number, total: number) => void;
}

/** RealDump is the image and how the container was frozen; thaw lets it run again (idempotent; done already with leaveRunning). */
export interface RealDump {
  image: ContainerImage;
  freezer: FreezeMethod;
  /** the cgroup directory frozen, with the cgroup freezer */
  cgroup: string | null;
  thaw(): Promise<void>;
}

/** the tasks of the container in the mirror, in the model dump's order (the host's creation order) */
function containerTasks(m: Machine, c: Container): Task[] {
  const root = c.init.pid.ns;
  return [...m.host.tasks].filter((t) => root.isAncestorOf(t.pid.ns));
}

/** dumpReal checkpoints a real container against its mirror. */
export async function dumpReal(mirror: RealMirror, opts: RealDumpOptions = {}): Promise<RealDump> {
  const { machine: m, container: c } = mirror;
  const tasks = containerTasks(m, c);
  // The mirror's own dump first: its records, and its refusals, come before anything real is touched.
  const image = dumpContainer(m, c, { shareFrames: true });
  const name = (i: number): string => `task ${image.tasks[i]!.numbers.join('/')} of container ${c.name}`;
  const tids = tasks.map((t, i) => mirror.tids.get(t) ?? refuse(`${name(i)} has no real process in the mirror's table`));
  const before = readProcesses(image, tids, name);
  const byPid = new Map(before.map((p) => [p.pid, p]));
  const nameOfPid = (pid: number): string => {
    const i = tids.indexOf(pid);
    return i >= 0 ? name(i) : `process ${pid}`;
  };
  const frozen = await freeze([...byPid.values()], { method: opts.freezer ?? 'auto', nameOf: nameOfPid });
  try {
    const after = readProcesses(image, tids, name);
    const tasksOut = checkTopology(image, tids, after, name, (pid) => (frozen.method === 'sigstop' ? before.find((p) => p.pid === pid) : after.find((p) => p.pid === pid)));
    const memory = readMemory(mirror, tasks, image, tids, name, opts.onProgress);
    const out: ContainerImage = { ...image, tasks: tasksOut, pages: memory.pages, mms: memory.mms };
    if (opts.leaveRunning) await frozen.thaw();
    return { image: out, freezer: frozen.method, cgroup: frozen.cgroup, thaw: frozen.thaw };
  } catch (e) {
    await frozen.thaw();
    throw e;
  }
}

function refuse(message: string): never {
  throw new DumpError(message);
}

/** readProcesses reads every process of the container from /proc (one entry per thread group, by its leader's tid). */
function readProcesses(image: ContainerImage, tids: readonly number[], name: (i: number) => string): ProcProcess[] {
  const out: ProcProcess[] = [];
  image.tasks.forEach((t, i) => {
    if (t.leader !== i) return;
    const p = readProcess(tids[i]!);
    if (!p) refuse(`${name(i)} (pid ${tids[i]} on this machine) is gone: was it killed from outside?`);
    out.push(p);
  });
  return out;
}

/**
 * checkTopology holds /proc's view of each task against the mirror's
 * record and returns the records with the machine's own outer pids.
 * `stateOf` gives the process as read before the freeze when SIGSTOP froze
 * it (its stop hides whether the workload had stopped it).
 */
function checkTopology(image: ContainerImage, tids: readonly number[], procs: readonly ProcProcess[], name: (i: number) => string, stateOf: (pid: number) => ProcProcess | undefined): ImageTask[] {
  const index = new Map(tids.map((tid, i) => [tid, i]));
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const base = image.base;
  const nsInode = new Map<number, number>();
  const inodeNs = new Map<number, number>();
  /** sameNs checks that image namespace `ns` and real namespace `inode` always go together */
  const sameNs = (i: number, ns: number, inode: number, what: string): void => {
    if (inode === 0) return; // a zombie's links cannot be read
    const known = nsInode.get(ns);
    const other = inodeNs.get(inode);
    if ((known !== undefined && known !== inode) || (other !== undefined && other !== ns)) refuse(`${name(i)}: its ${what} (pid namespace ${inode} on this machine) is not the one the mirror has`);
    nsInode.set(ns, inode);
    inodeNs.set(inode, ns);
  };
  /** each process's real parent: the task whose thread lists it as a child */
  const parentOf = new Map<number, number>();
  for (const p of procs) {
    for (const th of p.threads) {
      const at = index.get(th.tid);
      if (at === undefined) refuse(`thread ${th.tid} of ${name(index.get(p.pid)!)} is not in the mirror: was it made from outside?`);
      for (const child of th.children) {
        if (!index.has(child)) refuse(`process ${child} on this machine is a child of ${name(at)} but not in the mirror: was it made from outside?`);
        parentOf.set(child, at);
      }
    }
  }
  return image.tasks.map((t, i): ImageTask => {
    const tid = tids[i]!;
    const leaderTid = tids[t.leader]!;
    const p = byPid.get(leaderTid)!;
    const th: ProcThread | undefined = p.threads.find((x) => x.tid === tid);
    const who = `${name(i)} (pid ${tid} on this machine)`;
    const isLeader = t.leader === i;
    if (!th) {
      // a thread that has exited is released at once; a leader stays as a zombie
      if (!(t.exited && !isLeader)) refuse(`${who} is gone: was it killed from outside?`);
      return t;
    }
    if (th.state === 't' || th.state === 'X') refuse(`${who} is in state ${th.state} (${th.state === 't' ? 'traced by a debugger' : 'dead'}), not as the mirror has it`);
    if ((th.state === 'Z') !== t.exited) refuse(`${who} is ${th.state === 'Z' ? 'a zombie' : 'alive'} on this machine but ${t.exited ? 'has exited' : 'alive'} in the mirror: was it killed from outside?`);
    const levels = th.nspid.slice(base);
    if (th.nspid.length !== base + t.numbers.length || levels.join('/') !== t.numbers.join('/')) refuse(`${who} has pids ${th.nspid.join('/')} on this machine, not ${t.numbers.join('/')} at the container's levels as the mirror has it`);
    const leaderIndex = index.get(p.pid);
    if (leaderIndex !== t.leader) refuse(`${who} belongs to process ${p.pid} on this machine, not to ${name(t.leader)} as the mirror has it`);
    // a thread's parent is its process's (CLONE_THREAD shares real_parent)
    const parent = parentOf.get(p.pid) ?? -1;
    if (isLeader && parent !== t.parent) refuse(`${who} has ${parent < 0 ? 'a parent outside the container' : name(parent)} as its parent on this machine, not ${t.parent < 0 ? 'one outside the container' : name(t.parent)} as the mirror has it`);
    const children = th.children.map((c) => index.get(c)!);
    if (children.join(',') !== t.children.join(',')) refuse(`${who} has children ${children.map(name).join(', ') || '(none)'} on this machine, not ${t.children.map(name).join(', ') || '(none)'} as the mirror has it`);
    sameNs(i, t.ns, p.pidNs, 'pid namespace');
    sameNs(i, t.nsForChildren, th.pidNsForChildren, 'pid namespace for children');
    if (isLeader) {
      for (const [what, real, mine] of [['process group', p.nspgid, t.pgid], ['session', p.nssid, t.sid]] as const) {
        const shown = real.slice(base);
        const expected = shown.map((_, k) => mine?.[k] ?? 0);
        if (shown.join('/') !== expected.join('/')) refuse(`${who} is in ${what} ${shown.join('/')} at the container's levels on this machine, not ${mine?.join('/') ?? '(outside the container)'} as the mirror has it`);
      }
      const status = t.group.groupExitStatus ?? t.exitStatus;
      if (p.state === 'Z' && p.threads.every((x) => x.state === 'Z') && p.exitCode !== status) refuse(`${who} is a zombie with wait status ${p.exitCode} on this machine, not ${status} as the mirror has it`);
      const seen = stateOf(p.pid) ?? p;
      const live = seen.threads.filter((x) => x.state !== 'Z');
      const stopped = live.length > 0 && live.every((x) => x.state === 'T');
      if (live.length > 0 && stopped !== t.group.stopped) refuse(`${who} is ${stopped ? 'stopped' : 'not stopped'} on this machine but ${t.group.stopped ? 'stopped' : 'not stopped'} in the mirror`);
    }
    return { ...t, outer: th.nspid.slice(0, base) };
  });
}

/** anonymous: a mapping of anonymous memory (private, or MAP_SHARED, which the kernel backs with /dev/zero) */
function anonymous(e: MapsEntry): boolean {
  return e.path === '' || (e.perms[3] === 's' && e.path === '/dev/zero (deleted)');
}

/** permsOf spells a mirror mapping's protection and sharing as /proc/PID/maps does */
function permsOf(prot: number, shared: boolean): string {
  return `${prot & 1 ? 'r' : '-'}${prot & 2 ? 'w' : '-'}${prot & 4 ? 'x' : '-'}${shared ? 's' : 'p'}`;
}

/** checkMapping: [start, end) lies wholly in anonymous real mappings of the mirror mapping's protection */
function checkMapping(maps: readonly MapsEntry[], start: number, end: number, perms: string): string | null {
  let at = start;
  for (const e of maps) {
    if (e.end <= at || e.start > at) continue;
    if (!anonymous(e)) return `0x${at.toString(16)} is in ${e.path} on this machine, not in the workload's anonymous memory`;
    if (e.perms !== perms) return `0x${at.toString(16)} is mapped ${e.perms} on this machine, not ${perms}`;
    at = e.end;
    if (at >= end) return null;
  }
  return `0x${at.toString(16)} is not mapped on this machine`;
}

/**
 * readMemory reads every mirror address space from a live process using it
 * and rebuilds the image's page list: in the order the model's dump lists
 * pages (address space by address space, page by page), a mirror page
 * shared by several address spaces stays one record while the real bytes
 * agree.
 */
function readMemory(mirror: RealMirror, tasks: readonly Task[], image: ContainerImage, tids: readonly number[], name: (i: number) => string, onProgress?: (done: number, total: number) => void): { pages: PageRecord[]; mms: ContainerImage['mms'] } {
  const mmObjects = new Indexer<MemoryMap>();
  const readers = new Map<number, number>(); // mm index -> a live task using it
  tasks.forEach((t, i) => {
    const k = mmObjects.of(t.mm);
    if (k !== image.tasks[i]!.mm) throw new Error('the mirror changed while it was dumped');
    if (!image.tasks[i]!.exited && !readers.has(k)) readers.set(k, i);
  });
  const pageSize = tasks[0]!.mm.pageSize;
  const pages: PageRecord[] = [];
  const copies = new Map<number, number[]>(); // mirror page -> records made for it
  const zero = new Uint8Array(pageSize);
  const mms = image.mms.map(([users, vmas, refs], k): ContainerImage['mms'][number] => {
    onProgress?.(k + 1, image.mms.length);
    if (vmas.length === 0) return [users, vmas, []];
    const reader = readers.get(k);
    if (reader === undefined) refuse(`an address space of container ${mirror.container.name} has mappings in the mirror but no live process holds it on this machine`);
    const tid = tids[reader]!;
    const leader = tids[image.tasks[reader]!.leader]!;
    const who = `${name(reader)} (pid ${tid} on this machine)`;
    let mem: ProcessMemory;
    try {
      mem = new ProcessMemory(`/proc/${leader}/task/${tid}`, pageSize);
    } catch (e) {
      refuse(`the memory of ${who} cannot be opened: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    try {
      const mm = mmObjects.items[k]!;
      const maps = mem.maps();
      const mirrorPages = new Map(refs.map(([index, page]) => [index, page]));
      const out: Array<[number, number]> = [];
      for (const [start, end, prot, shared, vmaName] of vmas as VmaRecord[]) {
        const real = mirror.realAddress?.(mm, { start, end, prot, shared, name: vmaName }) ?? start;
        const problem = checkMapping(maps, real, real + (end - start), permsOf(prot, shared));
        if (problem) refuse(`the mapping ${vmaName} (0x${start.toString(16)}-0x${end.toString(16)}) of ${who} cannot be read: ${problem}`);
        const first = start / pageSize;
        const count = (end - start) / pageSize;
        const wanted = new Set<number>();
        for (let n = 0; n < count; n++) if (mirrorPages.has(first + n)) wanted.add(n);
        let got: Map<number, Uint8Array>;
        try {
          got = readPages(mem, real, count, wanted);
        } catch (e) {
          refuse(`the mapping ${vmaName} (0x${start.toString(16)}-0x${end.toString(16)}) of ${who} cannot be read: ${e instanceof Error ? e.message : String(e)}`);
        }
        for (const [n, bytes] of [...got].sort((a, b) => a[0] - b[0])) {
          const mirrorPage = mirrorPages.get(first + n);
          if (mirrorPage === undefined) {
            if (Buffer.compare(bytes, zero) !== 0) out.push([first + n, pages.push([bytes, shared]) - 1]);
            continue;
          }
          const made = copies.get(mirrorPage) ?? [];
          const same = made.find((r) => Buffer.compare(pages[r]![0], bytes) === 0);
          if (same !== undefined) out.push([first + n, same]);
          else {
            const r = pages.push([bytes, image.pages[mirrorPage]![1]]) - 1;
            copies.set(mirrorPage, [...made, r]);
            out.push([first + n, r]);
          }
        }
      }
      out.sort((a, b) => a[0] - b[0]);
      return [users, vmas, out];
    } finally {
      mem.close();
    }
  });
  return { pages, mms };
}
