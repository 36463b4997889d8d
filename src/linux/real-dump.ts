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
 * The tree's check is real-dump-topology.ts, the memory real-dump-memory.ts.
 * The caller must not send the agents commands while dumpReal runs.
 */
import type { Container } from '../container/container.js';
import type { Machine } from '../container/machine.js';
import { dumpContainer, refuseDump } from '../image/dump.js';
import type { ContainerImage } from '../image/container-image.js';
import type { MemoryMap, Vma } from '../kernel/memory-map.js';
import type { Task } from '../kernel/task.js';
import { freeze, type FreezeMethod } from './freeze.js';
import { readMemory } from './real-dump-memory.js';
import { checkTopology, readProcesses } from './real-dump-topology.js';

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
  const tids = tasks.map((t, i) => mirror.tids.get(t) ?? refuseDump(`${name(i)} has no real process in the mirror's table`));
  const before = readProcesses(image, tids, name);
  const nameOfPid = (pid: number): string => {
    const i = tids.indexOf(pid);
    return i >= 0 ? name(i) : `process ${pid}`;
  };
  const frozen = await freeze(before, { method: opts.freezer ?? 'auto', nameOf: nameOfPid });
  try {
    const after = readProcesses(image, tids, name);
    // SIGSTOP hides whether the workload had stopped a process: that is read from before the freeze
    const seen = new Map((frozen.method === 'sigstop' ? before : after).map((p) => [p.pid, p]));
    const tasksOut = checkTopology(image, tids, after, name, (pid) => seen.get(pid));
    const memory = readMemory(mirror, tasks, image, tids, name, opts.onProgress);
    const out: ContainerImage = { ...image, tasks: tasksOut, pages: memory.pages, mms: memory.mms };
    if (opts.leaveRunning) await frozen.thaw();
    return { image: out, freezer: frozen.method, cgroup: frozen.cgroup, thaw: frozen.thaw };
  } catch (e) {
    await frozen.thaw();
    throw e;
  }
}

