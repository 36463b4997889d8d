/**
 * Machine is a simulated host as the command line keeps it: the model
 * kernel, the containers running on it with their consoles, the workload
 * programs they run, and the scheduler's place in its round.
 */
import { isValidName, NAME_RULE } from './names.js';
import { SIGKILL } from '../abi/signals.js';
import type { ArchName } from '../arch/arch.js';
import { Host } from '../kernel/host.js';
import { copyHost } from '../kernel/host-copy.js';
import type { PidNamespace } from '../kernel/pid-namespace.js';
import type { KernelName } from '../kernel/personality.js';
import type { Page } from '../kernel/memory-map.js';
import type { Task } from '../kernel/task.js';
import { compileWorkload, type Compiled } from '../program/compile.js';
import { parseWorkload } from '../program/parse.js';
import { Scheduler } from '../program/scheduler.js';
import { ContainerError, startContainer, type Container } from './container.js';
import { libcOf } from '../program/libc.js';

/** FrameHeldUnloaded is a page frame containers not loaded hold: its length and how many references they hold to it. */
export interface FrameHeldUnloaded {
  frame: Page;
  length: number;
  refs: number;
}

export class Machine {
  readonly containers = new Map<string, Container>();
  /** program path → its source text, the file-backed text mapping's contents */
  readonly sources = new Map<string, string>();
  readonly programs = new Map<string, Compiled>();
  /** names of this host's containers whose state was not loaded (a command loads only the containers it touches) */
  readonly unloaded = new Set<string>();
  /**
   * The page frames those containers hold of the host's stored frames, by
   * their number there: each frame's refs counts their references too, so
   * that a loaded task sharing one copies it before writing.
   */
  readonly heldByUnloaded = new Map<number, FrameHeldUnloaded>();
  readonly scheduler: Scheduler;

  constructor(
    readonly name: string,
    readonly host: Host,
  ) {
    this.scheduler = new Scheduler(host, this.programs);
  }

  /** create makes a machine with a new host; `kernel` is its personality (mainline unless given). */
  static create(name: string, arch: ArchName | string, pidMax?: number, kernel?: KernelName): Machine {
    return new Machine(name, Host.create({ arch, ...(pidMax === undefined ? {} : { pidMax }), ...(kernel === undefined ? {} : { kernel }) }));
  }

  /** copy makes an independent machine in this one's state: a restore works on a copy and keeps it only when it succeeds. */
  copy(): Machine {
    const { host, taskOf, consoleOf, pageOf } = copyHost(this.host);
    const m = new Machine(this.name, host);
    for (const [path, text] of this.sources) m.addProgram(path, text);
    // a container whose init has been reaped has no task left (its namespace died with it): it is gone
    for (const [name, c] of this.containers) if (this.host.tasks.has(c.init)) m.containers.set(name, { name, init: taskOf(c.init), console: consoleOf(c.console) });
    m.scheduler.resumeRound(this.scheduler.pending().filter((t) => this.host.tasks.has(t)).map(taskOf));
    // Containers not loaded stay: their names, and the host-level pids they hold (taken in the root
    // bitmap with no pid of this machine behind them, which copyHost does not see).
    for (const name of this.unloaded) m.unloaded.add(name);
    if (this.unloaded.size > 0) {
      const [was, now] = [this.host.rootPidNs, m.host.rootPidNs];
      for (let nr = 1; nr < was.capacity; nr++) if (was.bitmap.test(nr) && was.pids.get(nr) === undefined) now.bitmap.set(nr);
    }
    // and the frames they hold: a copied frame counts their references as the original did (one no task here holds is never written)
    for (const [k, held] of this.heldByUnloaded) {
      const frame = pageOf(held.frame);
      if (frame) frame.refs += held.refs;
      m.heldByUnloaded.set(k, { ...held, frame: frame ?? held.frame });
    }
    return m;
  }

  /** addProgram parses and compiles a workload (ParseError on bad input) and keeps its text. */
  addProgram(path: string, text: string): Compiled {
    const compiled = compileWorkload(parseWorkload(path, text), path);
    this.sources.set(path, text);
    this.programs.set(path, compiled);
    return compiled;
  }

  /** run starts a container running `path`'s main program. */
  run(container: string, path: string, text: string): Container {
    if (!isValidName(container)) throw new ContainerError(`bad container name ${JSON.stringify(container)}: ${NAME_RULE}`, 'CKPT_BAD_NAME');
    if (this.containers.has(container) || this.unloaded.has(container)) throw new ContainerError(`container ${container} already exists on host ${this.name}`, 'CKPT_CONTAINER_EXISTS');
    const ctr = startContainer(this.host, container, this.addProgram(path, text));
    this.containers.set(container, ctr);
    return ctr;
  }

  /**
   * remove ends a container: its init is killed if still running and reaped when the host's init is
   * its parent (one restored inside another container is its init's to reap, as the kernel would
   * have it), and the container is forgotten with those restored inside it.
   */
  remove(container: Container): void {
    const libc = libcOf(this.host, this.host.init);
    if (container.init.state !== 'zombie') libc.kill(container.init.pid.nr, SIGKILL);
    if (container.init.parent === this.host.init) libc.wait4(container.init.pid.nr, 0, 0, 0);
    const ns = container.init.pid.ns;
    for (const [name, c] of this.containers) if (ns.isAncestorOf(c.init.pid.ns)) this.containers.delete(name);
  }

  /**
   * ownTasks lists, for each container, the tasks whose innermost container
   * it is (a container restored --into another sits inside it), in pid order:
   * one pass over the host's tasks, each looked up from its own namespace
   * outward, not every container asked about every task.
   */
  ownTasks(): Map<Container, Task[]> {
    const byNs = new Map<PidNamespace, Container>();
    const out = new Map<Container, Task[]>();
    for (const c of this.containers.values()) {
      if (!byNs.has(c.init.pid.ns)) byNs.set(c.init.pid.ns, c);
      out.set(c, []);
    }
    for (const t of this.host.tasks) {
      const chain = t.pid.ns.chain;
      for (let level = chain.length - 1; level >= 0; level--) {
        const c = byNs.get(chain[level]!);
        if (c) {
          out.get(c)!.push(t);
          break;
        }
      }
    }
    for (const tasks of out.values()) tasks.sort((a, b) => a.pid.nr - b.pid.nr);
    return out;
  }

  /** tasksOf lists a container's tasks (alive or zombie): those whose pid lives in its namespace or below, in pid order. */
  tasksOf(container: Container): Task[] {
    const ns = container.init.pid.ns;
    return [...this.host.tasks].filter((t) => ns.isAncestorOf(t.pid.ns)).sort((a, b) => a.pid.nr - b.pid.nr);
  }
}
