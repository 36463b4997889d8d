/**
 * Host is a modelled Linux machine of one architecture: a root user
 * namespace, a root pid namespace whose init (pid 1) is privileged, and the
 * tasks that descend from it. It is pure and deterministic: no I/O, no clock
 * but its own, no randomness.
 */
import type { Arch, ArchName } from '../arch/arch.js';
import { archByName, archNames } from '../arch/registry.js';
import { ALL_CAPS } from '../abi/capabilities.js';
import { PID_MAX_DEFAULT, PID_MAX_LIMIT, PID_MAX_MIN } from '../abi/limits.js';
import { MAP_FIXED, PROT_EXEC, PROT_READ, PROT_WRITE } from '../abi/mman.js';
import { UserNamespace } from './credentials.js';
import { FileTable } from './files.js';
import type { HostState } from './host-state.js';
import { addressSpaceLayout, MemoryMap } from './memory-map.js';
import { allocPidEclone } from './pid-allocator.js';
import { PidNamespace } from './pid-namespace.js';
import { DEFAULT_KERNEL, isKernelName, KERNEL_NAMES, kernelRules, type KernelName, type KernelRules } from './personality.js';
import { enterKernel } from './syscall.js';
import { copyExtraState, Task } from './task.js';
import { TaskList } from './task-list.js';
import { ThreadGroup } from './thread-group.js';
import { takeSnapshot, type HostSnapshot } from './snapshot.js';
import { deliver, FROM_KERNEL } from './signals.js';

/** STACK_SIZE: the stack mapping every new address space starts with. */
export const STACK_SIZE = 128 * 1024;
/** STACK_HEADROOM: how far below the stack top a task's stack pointer starts. */
const STACK_HEADROOM = 4096;

/** RestoredHost is what Host.restore needs: the root namespaces, the init, every task, the clock and id counters. */
export interface RestoredHost {
  rootUserNs: UserNamespace;
  rootPidNs: PidNamespace;
  init: Task;
  tasks: readonly Task[];
  clock: number;
  nextPidNsId: number;
  nextUserNsId: number;
}

export interface HostOptions {
  arch: ArchName | string;
  /** kernel.pid_max; 301..4,194,304 on 64-bit arches, 301..32768 on 32-bit ones (PID_MAX_LIMIT) */
  pidMax?: number;
  /** the kernel personality (personality.ts): 'mainline' (the default) or '2.6.32' */
  kernel?: KernelName | string;
}

/** pidMaxLimit is PID_MAX_LIMIT for an arch: 4,194,304 with 64-bit longs, PID_MAX_DEFAULT otherwise. */
export function pidMaxLimit(arch: Arch): number {
  return arch.wordSize === 8 ? PID_MAX_LIMIT : PID_MAX_DEFAULT;
}

/** pidCapacity is how far a host's pid namespaces may number: PID_MAX_LIMIT where pid_max can change (mainline), else the host's pid_max. */
export function pidCapacity(arch: Arch, rules: KernelRules, pidMax: number): number {
  return rules.perNsPidMax ? pidMaxLimit(arch) : pidMax;
}

export class Host implements HostState {
  readonly tasks = new TaskList();
  clock = 0;
  wakeups = 0;
  readonly rootUserNs: UserNamespace;
  readonly rootPidNs: PidNamespace;
  readonly init: Task;
  private nextPidNsId = 0;
  private nextUserNsId = 0;

  /** the personality's rules, the same object every pid namespace of the host holds */
  readonly rules: KernelRules;

  private constructor(
    readonly arch: Arch,
    pidMax: number,
    kernel: KernelName,
    restored?: RestoredHost,
  ) {
    this.rules = kernelRules(kernel);
    if (restored) {
      if (restored.rootPidNs.rules !== this.rules) throw new RangeError(`a ${kernel} host cannot be rebuilt from ${restored.rootPidNs.rules.name} namespaces`);
      this.rootUserNs = restored.rootUserNs;
      this.rootPidNs = restored.rootPidNs;
      this.init = restored.init;
      for (let i = 0; i < restored.tasks.length; i++) this.tasks.add(restored.tasks[i]!);
      this.clock = restored.clock;
      this.nextPidNsId = restored.nextPidNsId;
      this.nextUserNsId = restored.nextUserNsId;
      return;
    }
    this.rootUserNs = new UserNamespace(null, 0);
    this.commitUserNs(this.rootUserNs);
    this.rootPidNs = new PidNamespace(null, this.rootUserNs, pidMax, this.rules, pidCapacity(arch, this.rules, pidMax));
    this.commitPidNs(this.rootPidNs);
    this.init = this.createInit();
  }

  /** restore rebuilds a host from decoded parts (src/store/machine-codec.ts); tasks in their original creation order. */
  static restore(arch: Arch, pidMax: number, parts: RestoredHost): Host {
    return new Host(arch, pidMax, parts.rootPidNs.rules.name, parts);
  }

  /** pidMax is the root pid namespace's pid_max (kernel.pid_max; on mainline each namespace has its own). */
  get pidMax(): number {
    return this.rootPidNs.pidMax;
  }

  /** kernel is the host's personality. */
  get kernel(): KernelName {
    return this.rules.name;
  }

  /** idCounters are the next namespace ids, saved so a restored host names new namespaces as the original would. */
  get idCounters(): { nextPidNsId: number; nextUserNsId: number } {
    return { nextPidNsId: this.nextPidNsId, nextUserNsId: this.nextUserNsId };
  }

  /** create builds a host of the given arch and personality with its init; throws RangeError for an unknown arch or personality or a pid_max out of range. */
  static create(options: HostOptions): Host {
    const arch = archByName(options.arch);
    if (!arch) throw new RangeError(`unknown architecture ${JSON.stringify(options.arch)}: expected one of ${archNames().join(', ')}`);
    const pidMax = options.pidMax ?? PID_MAX_DEFAULT;
    const limit = pidMaxLimit(arch);
    if (!Number.isInteger(pidMax) || pidMax < PID_MAX_MIN || pidMax > limit) {
      throw new RangeError(`pid_max ${pidMax} is outside ${PID_MAX_MIN}..${limit} for ${arch.name}`);
    }
    const kernel = options.kernel ?? DEFAULT_KERNEL;
    if (!isKernelName(kernel)) throw new RangeError(`unknown kernel personality ${JSON.stringify(kernel)}: expected one of ${KERNEL_NAMES.join(', ')}`);
    return new Host(arch, pidMax, kernel);
  }

  signalFromKernel(group: ThreadGroup, sig: number): void {
    deliver(this, FROM_KERNEL, group, sig);
  }

  commitPidNs(ns: PidNamespace): void {
    if (ns.id < 0) ns.id = this.nextPidNsId++;
  }

  commitUserNs(ns: UserNamespace): void {
    if (ns.id < 0) ns.id = this.nextUserNsId++;
  }

  /** newAddressSpace makes the address space a task starts with: a text page and a stack. */
  newAddressSpace(abi: Arch): MemoryMap {
    const mm = new MemoryMap(addressSpaceLayout(abi));
    mm.map(abi.textBase, abi.pageSize, PROT_READ | PROT_EXEC, MAP_FIXED, '[text]');
    mm.map(abi.stackTop - STACK_SIZE, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_FIXED, '[stack]');
    return mm;
  }

  private createInit(): Task {
    const arch = this.arch;
    const pid = allocPidEclone(this.rootPidNs, null);
    const extra = copyExtraState(Object.entries(arch.extraState).map(([name, size]) => [name, new Uint8Array(size)] as const));
    const init = new Task(
      pid,
      arch,
      arch.initialRegs(arch.textBase, arch.stackTop - STACK_HEADROOM),
      arch.initialFpu(),
      extra,
      this.newAddressSpace(arch),
      { uid: 0, euid: 0, suid: 0, userNs: this.rootUserNs, effective: ALL_CAPS, permitted: ALL_CAPS },
      'init',
    );
    pid.task = init;
    init.exitSignal = 0; // it has no parent to signal
    init.group = new ThreadGroup(init, pid, pid, new FileTable());
    init.group.sessionLeader = true;
    init.group.unkillable = true;
    init.group.addThread(init);
    this.rootPidNs.childReaper = init;
    this.tasks.add(init);
    return init;
  }

  /** syscall enters the kernel from `task`'s current registers, exactly as its trap instruction would. */
  syscall(task: Task): void {
    if (!this.tasks.has(task) || task.exited) throw new RangeError(`task ${task.pid.nr} has exited and cannot make syscalls`);
    enterKernel(this, task);
  }

  /** snapshot returns a plain value that deep-equals another host's exactly when both are in the same state. */
  snapshot(): HostSnapshot {
    return takeSnapshot(this);
  }
}
