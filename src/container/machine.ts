/**
 * Machine is a simulated host as the command line keeps it: the model
 * kernel, the containers running on it with their consoles, the workload
 * programs they run, and the scheduler's place in its round.
 */
import { isValidName, NAME_RULE } from './names.js';
import { SIGKILL } from '../abi/signals.js';
import type { ArchName } from '../arch/arch.js';
import { Host } from '../kernel/host.js';
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
    if (this.containers.has(container)) throw new ContainerError(`container ${container} already exists on host ${this.name}`);
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

  /** innermostContainer is the deepest container whose namespaces hold `task`, or undefined. */
  innermostContainer(task: Task): Container | undefined {
    let best: Container | undefined;
    for (const c of this.containers.values()) {
      const ns = c.init.pid.ns;
      if (ns.isAncestorOf(task.pid.ns) && (!best || ns.level > best.init.pid.ns.level)) best = c;
    }
    return best;
  }

  /** tasksOf lists a container's tasks (alive or zombie): those whose pid lives in its namespace or below, in pid order. */
  tasksOf(container: Container): Task[] {
    const ns = container.init.pid.ns;
    return [...this.host.tasks].filter((t) => ns.isAncestorOf(t.pid.ns)).sort((a, b) => a.pid.nr - b.pid.nr);
  }
}
