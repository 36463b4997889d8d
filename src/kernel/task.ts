/**
 * Task is one thread: its struct pid, its thread group, its parent and
 * children, credentials, address space, and register state kept as the
 * bytes of its ABI's register sets.
 */
import { SIGCHLD } from '../abi/signals.js';
import type { Arch } from '../arch/arch.js';
import type { SyscallName } from '../abi/syscall-names.js';
import type { Credentials } from './credentials.js';
import { ForkedAddressSpace, MemoryMap } from './memory-map.js';
import type { Pid } from './pid.js';
import type { PidNamespace } from './pid-namespace.js';
import { ForkedGroup, ThreadGroup } from './thread-group.js';
import { registerSlabs } from './slabs.js';

/** TaskState as ps shows it: R runnable, S blocked in a syscall, T stopped, Z zombie. */
export type TaskState = 'runnable' | 'blocked' | 'stopped' | 'zombie';

/** the extra state of the ABIs that have none (x86_64, ppc, ppc64): shared, never written */
export const NO_EXTRA: Record<string, Uint8Array> = Object.freeze({});

/** copyExtraState makes a task's extra state from copies of `entries`: the shared empty record when there are none. */
export function copyExtraState(entries: Iterable<readonly [string, Uint8Array]>): Record<string, Uint8Array> {
  let extra = NO_EXTRA;
  for (const [name, bytes] of entries) {
    if (extra === NO_EXTRA) extra = {};
    extra[name] = bytes.slice();
  }
  return extra;
}

/**
 * TaskRare is what most tasks of a large restored tree never have: an exit
 * signal other than SIGCHLD, an exit, children, a blocked call, a timer, an
 * exit status, a clear-tid address, a program, a pid namespace for children
 * of its own, the views a running task's registers are read through. It is
 * kept out of Task and made on first write, because a host holds 100,000s
 * of tasks and the garbage collector copies every surviving byte of each
 * twice.
 */
export class TaskRare {
  /** a process's is almost always SIGCHLD: only other values make a TaskRare */
  exitSignal = SIGCHLD;
  exited = false;
  firstChild: Task | null = null;
  lastChild: Task | null = null;
  childTotal = 0;
  exitStatus = 0;
  blockedIn: SyscallName | null = null;
  sleepUntil: number | null = null;
  clearChildTid = 0;
  exePath: string | null = null;
  /** set by unshare(CLONE_NEWPID) or setns; null while it is the task's own */
  nsForChildren: PidNamespace | null = null;
  /** an exited task's not-dumpable flag: its address space's when it let go of it (exit_mm's user_dumpable) */
  exitNondumpable = false;
  view: DataView | null = null;
  regView: Uint8Array | null = null;
}

/**
 * threadGroupEmpty is the kernel's thread_group_empty: the task leads its
 * group and no other thread lives (kernel/fork.c, include/linux/sched/signal.h,
 * v6.12). A thread whose leader is a zombie is not alone: unshare and setns
 * refuse what needs a single-threaded caller (EINVAL).
 */
export function threadGroupEmpty(task: Task): boolean {
  const g = task.group;
  return g.leader === task && g.threadCount <= 1;
}

/** wrongRegisterSize throws storeRegs's RangeError, out of the constructor every fork runs (see pid.ts tooFewNumbers). */
function wrongRegisterSize(abi: Arch, given: number): never {
  throw new RangeError(`${abi.name} register sets are ${abi.regs.size} bytes, not ${given}`);
}

export class Task {
  /** the thread group, or until first use after a fork, what the fork left (thread-group.ts) */
  private groupState: ThreadGroup | ForkedGroup | null = null;
  parent: Task | null = null;
  /**
   * The children list (children whose real_parent is this task, thread group
   * leaders only) is intrusive, as the kernel's children/sibling list_heads:
   * a restorer's 100,000 children cost no table to grow. Its head is in
   * `rare`; these link this task into its parent's list.
   */
  private prevSibling: Task | null = null;
  private nextSibling: Task | null = null;
  /** the task whose children list holds this one */
  private childOf: Task | null = null;
  /** links of the host's task list (TaskList) */
  prevTask: Task | null = null;
  nextTask: Task | null = null;
  /** what few tasks have (TaskRare); null until one is written */
  private rare: TaskRare | null = null;

  /** the address space, or until first use after a fork, the copy-on-write share of the parent's the fork left (memory-map.ts) */
  private space: MemoryMap | ForkedAddressSpace;

  /** the register bytes: `regAt` onward in a slab shared with other tasks (slabs.ts), `abi.regs.size` long */
  private regSlab: Uint8Array;
  private regAt: number;

  constructor(
    readonly pid: Pid,
    public abi: Arch,
    /** the register sets in the ABI's layout; copied, so the caller may reuse them */
    regs: Uint8Array,
    /** FPU state in the ABI's layout; an immutable value: replace it, never write into it */
    public fpu: Uint8Array,
    /** per-ABI state beyond the registers; tasks with none share one frozen empty record */
    public extra: Record<string, Uint8Array>,
    /** the address space, or what fork left (made into an address space on first use) */
    space: MemoryMap | ForkedAddressSpace,
    public creds: Credentials,
    public comm: string,
    /**
     * given, `regs` is not copied: it is a block of register sets (a stored
     * host's column, the caller's alone from now on) and this task's lie in
     * it from `regAt` on, used in place as a slab
     */
    regAt?: number,
  ) {
    this.space = space;
    if (regAt === undefined) {
      this.regSlab = registerSlabs.withRoom(regs.length);
      this.regAt = registerSlabs.claim(regs.length);
      this.storeRegs(regs);
    } else {
      if (regAt < 0 || regAt + abi.regs.size > regs.length) wrongRegisterSize(abi, regs.length - regAt);
      this.regSlab = regs;
      this.regAt = regAt;
    }
  }

  /**
   * regRuns lists the register bytes of `tasks`, in order, as views of where
   * they lie: a run of tasks whose sets lie back to back in one slab (tasks
   * made one after another) is one view. A serializer writes them as they
   * are, without copying 100,000s of register sets into a column first.
   */
  static regRuns(tasks: readonly Task[]): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < tasks.length; ) {
      const first = tasks[i]!;
      const slab = first.regSlab;
      const from = first.regAt;
      let end = from + first.abi.regs.size;
      for (i++; i < tasks.length; i++) {
        const t = tasks[i]!;
        if (t.regSlab !== slab || t.regAt !== end) break;
        end += t.abi.regs.size;
      }
      out.push(end - from === slab.length ? slab : slab.subarray(from, end));
    }
    return out;
  }

  /** addressSpaceOrFork is the address space, or what a fork left if it was never used: read without making it (a serializer stores either as it is). */
  get addressSpaceOrFork(): MemoryMap | ForkedAddressSpace {
    return this.space;
  }

  /** groupOrFork is the thread group, or what a fork left if it was never looked at: read without making it. */
  get groupOrFork(): ThreadGroup | ForkedGroup {
    const g = this.groupState;
    if (g === null) throw new Error('a task is given its thread group when it is made');
    return g;
  }

  /** group is the task's thread group (its process). */
  get group(): ThreadGroup {
    // Short, so that the JIT inlines it everywhere within its budget; the fork case is out of line.
    const g = this.groupState;
    return g instanceof ThreadGroup ? g : this.groupFromFork();
  }

  /** groupFromFork makes the group a fork left into this task's own, led by it. */
  private groupFromFork(): ThreadGroup {
    const g = this.groupState;
    if (!(g instanceof ForkedGroup)) throw new Error('a task is given its thread group when it is made');
    return (this.groupState = ThreadGroup.fromFork(this, g));
  }

  /** group is set when the task is made: a group, or what a fork left (made into this task's group, led by it, on first use). */
  set group(group: ThreadGroup | ForkedGroup) {
    this.groupState = group;
  }

  /** processGroup is the process group of the task's thread group, read without making what a fork left into a group of its own. */
  get processGroup(): Pid {
    return (this.groupState as ThreadGroup | ForkedGroup).pgrp;
  }

  /** session is the session of the task's thread group, read as processGroup is. */
  get session(): Pid {
    return (this.groupState as ThreadGroup | ForkedGroup).session;
  }

  /** groupIfMade is the thread group when it has been made, else null: a fork's group not yet looked at has the task as its one thread. */
  get groupIfMade(): ThreadGroup | null {
    const g = this.groupState;
    return g instanceof ThreadGroup ? g : null;
  }

  /** mm is the task's address space. */
  get mm(): MemoryMap {
    // Short for the JIT's inlining budget, as `group`.
    const space = this.space;
    return space instanceof MemoryMap ? space : this.spaceFromFork();
  }

  /** uses reports whether the task's address space is `mm`, without making what a fork left into one. */
  uses(mm: MemoryMap): boolean {
    return this.space === mm;
  }

  /** spaceFromFork makes the copy a fork left into this task's own address space. */
  private spaceFromFork(): MemoryMap {
    const space = this.space;
    return space instanceof ForkedAddressSpace ? (this.space = MemoryMap.fromFork(space)) : space;
  }

  set mm(mm: MemoryMap) {
    this.space = mm;
  }

  /**
   * replaceSpace gives the task `mm` and lets go of its old address space, as
   * exec_mmap's mmput: the last user releases it, and a copy a fork left
   * untouched only gives back its share of the parent's table, without ever
   * being made into an address space. For a task that still uses its
   * space; one already released is left alone.
   */
  replaceSpace(mm: MemoryMap): void {
    const old = this.space;
    if (old instanceof ForkedAddressSpace) old.releaseShare();
    else if (old.users > 0 && --old.users === 0) old.release();
    this.space = mm;
  }

  /** rareState is the task's TaskRare as it is, null while every field of it has its default: a serializer reads 100,000s of tasks' fields with no call per field. */
  get rareState(): Readonly<TaskRare> | null {
    return this.rare;
  }

  /**
   * nondumpable: whether the task is not dumpable (what ptrace_may_access asks, docs/semantics.md
   * §12): a live task's address space's flag, whoever set it; an exited task's as its address space
   * had it at its exit, which a later change leaves alone.
   */
  get nondumpable(): boolean {
    return this.exited ? this.rare!.exitNondumpable : this.space.nondumpable;
  }

  /**
   * recordNotDumpable makes the task not dumpable as a record of it says (an image, a host file, a
   * copy, or exit_mm keeping the flag): a live task's address space is; an exited task keeps the flag
   * for itself. A copy a fork left is marked as it is: the tasks sharing one were forked together,
   * from one address space, so their records agree.
   */
  recordNotDumpable(): void {
    if (this.exited) this.more.exitNondumpable = true;
    else this.space.nondumpable = true;
  }

  /** more is the task's TaskRare, made on first use. */
  private get more(): TaskRare {
    return (this.rare ??= new TaskRare());
  }

  /** exePath is the program file this task runs (as /proc/PID/exe), or null for a task driven from outside. */
  get exePath(): string | null {
    return this.rare ? this.rare.exePath : null;
  }

  set exePath(path: string | null) {
    if (path !== null || this.rare) this.more.exePath = path;
  }

  /** pidNsForChildren is the pid namespace this task's children are created in (changed by unshare(CLONE_NEWPID) and setns). */
  get pidNsForChildren(): PidNamespace {
    return this.rare?.nsForChildren ?? this.pid.ns;
  }

  set pidNsForChildren(ns: PidNamespace) {
    if (ns !== this.pid.ns || this.rare) this.more.nsForChildren = ns;
  }

  /** regs is a view of the register bytes: writing through it changes the task's registers. */
  get regs(): Uint8Array {
    const more = this.more;
    return (more.regView ??= this.regSlab.subarray(this.regAt, this.regAt + this.abi.regs.size));
  }

  /** registerBytes is a view of the register bytes, as regs, but not kept: reading many tasks' registers once makes no TaskRare for each. */
  registerBytes(): Uint8Array {
    return this.regSlab.subarray(this.regAt, this.regAt + this.abi.regs.size);
  }

  /** dv reads and writes the registers in the ABI's byte order. */
  get dv(): DataView {
    const more = this.more;
    return (more.view ??= new DataView(this.regSlab.buffer, this.regSlab.byteOffset + this.regAt, this.abi.regs.size));
  }

  /** exitSignal is the signal sent to the parent on exit; -1 for threads (they are reaped at once). */
  get exitSignal(): number {
    return this.rare ? this.rare.exitSignal : SIGCHLD;
  }

  set exitSignal(sig: number) {
    if (sig !== SIGCHLD || this.rare) this.more.exitSignal = sig;
  }

  /** exited is set once do_exit has run (PF_EXITING / exit_state). */
  get exited(): boolean {
    return this.rare !== null && this.rare.exited;
  }

  set exited(done: boolean) {
    if (done || this.rare) this.more.exited = done;
  }

  /** exitStatus is this task's own exit status in wait4's encoding. */
  get exitStatus(): number {
    return this.rare ? this.rare.exitStatus : 0;
  }

  set exitStatus(status: number) {
    if (status !== 0 || this.rare) this.more.exitStatus = status;
  }

  /** blockedIn is the syscall this task is blocked in, with its registers in restart form. */
  get blockedIn(): SyscallName | null {
    return this.rare ? this.rare.blockedIn : null;
  }

  set blockedIn(name: SyscallName | null) {
    if (name !== null || this.rare) this.more.blockedIn = name;
  }

  /** sleepUntil is the clock tick a nanosleep ends at, kept across restarts (the kernel's restart_block). */
  get sleepUntil(): number | null {
    return this.rare ? this.rare.sleepUntil : null;
  }

  set sleepUntil(tick: number | null) {
    if (tick !== null || this.rare) this.more.sleepUntil = tick;
  }

  /** clearChildTid is the CLONE_CHILD_CLEARTID address, cleared on exit; 0 for none. */
  get clearChildTid(): number {
    return this.rare ? this.rare.clearChildTid : 0;
  }

  set clearChildTid(addr: number) {
    if (addr !== 0 || this.rare) this.more.clearChildTid = addr;
  }

  /** takeState gives the task another ABI's register state, as an exec of a compat binary or a restore does. */
  takeState(abi: Arch, regs: Uint8Array, fpu: Uint8Array, extra: Record<string, Uint8Array>): void {
    if (regs.length !== this.abi.regs.size) {
      this.regSlab = registerSlabs.withRoom(regs.length);
      this.regAt = registerSlabs.claim(regs.length);
    }
    this.abi = abi;
    this.storeRegs(regs);
    if (this.rare) this.rare.view = this.rare.regView = null;
    this.fpu = fpu;
    this.extra = extra;
  }

  private storeRegs(regs: Uint8Array): void {
    if (regs.length !== this.abi.regs.size) wrongRegisterSize(this.abi, regs.length);
    this.regSlab.set(regs, this.regAt);
  }

  /** children walks the tasks whose real parent this task is, oldest first (the order wait4(-1) looks at them); copy it before changing the list. */
  *children(): IterableIterator<Task> {
    for (let c = this.rare?.firstChild ?? null; c; c = c.nextSibling) yield c;
  }

  /** eachChild calls `visit` with each child, oldest first, as children() walks them: a plain loop, for a serializer walking a restorer's 100,000 children. */
  eachChild(visit: (child: Task) => void): void {
    for (let c = this.rare?.firstChild ?? null; c; c = c.nextSibling) visit(c);
  }

  /** childCount is how many children are on the list. */
  get childCount(): number {
    return this.rare ? this.rare.childTotal : 0;
  }

  /** addChild puts `child` last on this task's children list, taking it off any other first. */
  addChild(child: Task): void {
    if (child.childOf === this) return;
    child.childOf?.removeChild(child);
    const list = this.more;
    child.childOf = this;
    child.prevSibling = list.lastChild;
    child.nextSibling = null;
    if (list.lastChild) list.lastChild.nextSibling = child;
    else list.firstChild = child;
    list.lastChild = child;
    list.childTotal++;
  }

  /** removeChild takes `child` off this task's children list; a task not on it is left alone. */
  removeChild(child: Task): void {
    if (child.childOf !== this) return;
    const list = this.more;
    const { prevSibling: prev, nextSibling: next } = child;
    if (prev) prev.nextSibling = next;
    else list.firstChild = next;
    if (next) next.prevSibling = prev;
    else list.lastChild = prev;
    child.prevSibling = child.nextSibling = child.childOf = null;
    list.childTotal--;
  }

  /** orderChildren puts the children in the given order (a restore: the order wait4(-1) finds them in); others stay after them. */
  orderChildren(order: readonly Task[]): void {
    const current = [...this.children()];
    const mine = new Set(current);
    for (const c of current) this.removeChild(c);
    for (const c of order) if (mine.has(c)) this.addChild(c);
    for (const c of current) this.addChild(c);
  }

  /** activeNs is the pid namespace the task itself lives in (task_active_pid_ns). */
  get activeNs(): PidNamespace {
    return this.pid.ns;
  }

  /** nspids lists the task's number at every level, root namespace first (the NSpid line of /proc/PID/status). */
  get nspids(): number[] {
    return this.pid.numbers;
  }

  /** tgid is the root namespace's number of the thread group. */
  get tgid(): number {
    return this.group.tgid.nr;
  }

  /** pgid is the root namespace's number of the process group. */
  get pgid(): number {
    return this.group.pgrp.nr;
  }

  /** sid is the root namespace's number of the session. */
  get sid(): number {
    return this.group.session.nr;
  }

  /** isLeader reports whether this task leads its thread group. */
  get isLeader(): boolean {
    return this.group.leader === this;
  }

  /** state derives the ps state: zombie, then stopped, then blocked, else runnable. Read without making a fork's group (which is not stopped). */
  get state(): TaskState {
    if (this.exited) return 'zombie';
    if (this.groupIfMade?.stopped) return 'stopped';
    if (this.blockedIn) return 'blocked';
    return 'runnable';
  }
}
