/**
 * Machine is a simulated host as the command line keeps it: the model
 * kernel, the containers running on it with their consoles, the workload
 * programs they run, and the scheduler's place in its round.
 */
import { isValidName, NAME_RULE } from './names.js';
import { SIGKILL } from '../abi/signals.js';
import type { ArchName } from '../arch/arch.js';
import { Host } from '../kernel/host.js';
import type { PidNamespace } from '../kernel/pid-namespace.js';
import type { Task } from '../kernel/task.js';
import { compileWorkload, type Compiled } from '../program/compile.js';
import { parseWorkload } from '../program/parse.js';
import { Scheduler } from '../program/scheduler.js';
import { ContainerError, startContainer, type Container } from './container.js';

export class Machine {
  readonly containers = new Map<string, Container>();
  /** program path → its source text, the file-backed text mapping's contents */
  readonly sources = new Map<string, string>();
  readonly programs = new Map<string, Compiled>();
  /** names of this host's containers whose state was not loaded (a command loads only the containers it touches) */
  readonly unloaded = new Set<string>();
  readonly scheduler: Scheduler;

  constructor(
    readonly name: string,
    readonly host: Host,
  ) {
    this.scheduler = new Scheduler(host, this.programs);
  }

  static create(name: string, arch: ArchName | string, pidMax?: number): Machine {
    return new Machine(name, Host.create({ arch, ...(pidMax === undefined ? {} : { pidMax }) }));
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
    if (!isValidName(container)) throw new ContainerError(`bad container name ${JSON.stringify(container)}: ${NAME_RULE}`);
    if (this.containers.has(container) || this.unloaded.has(container)) throw new ContainerError(`container ${container} already exists on host ${this.name}`);
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
    const libc = this.host.libc(this.host.init);
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
