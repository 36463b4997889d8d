/**
 * The twin: a container on `--host linux` runs its workload in the model's
 * interpreter (the same scheduler, the same logical clock), over a *mirror*
 * (a model Machine whose tasks stand for real processes), and every syscall
 * that changes the kernel is carried out first by the task's real process
 * (its helper agent), then by the mirror, which must come to the same
 * answer. A clone in the mirror gets the real child's pid at the machine's
 * level (the mirror's level 0 cursor is put just below it, since the model
 * knows none of the machine's other processes); at the container's levels
 * the model allocates by its own rules, and the pids must agree. When they,
 * or a return value or errno, do not, the model is wrong: TwinDivergence
 * names the call and both answers.
 *
 * Calls that change nothing (getpid, getppid, getpgid, write to the
 * console, nanosleep, ...) are the mirror's alone. See docs/real-backend.md.
 */
import { CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_PARENT_SETTID, CLONE_PIDFD, CLONE_SETTLS, CLONE_VFORK, CSIGNAL } from '../abi/clone-flags.js';
import { CLONE3_ARGS } from '../abi/clone-args.js';
import { errnoName } from '../abi/errno.js';
import type { SyscallName } from '../abi/syscall-names.js';
import { MAP_FIXED } from '../abi/mman.js';
import { WNOHANG } from '../abi/wait.js';
import { abiRegisters } from '../arch/reg-access.js';
import type { Container } from '../container/container.js';
import type { Machine } from '../container/machine.js';
import { closeSync, openSync, writeSync } from 'node:fs';
import type { MemoryMap, Vma } from '../kernel/memory-map.js';
import { syscallEntry } from '../kernel/syscall-table.js';
import type { Task } from '../kernel/task.js';
import { copyFromUser, getUserInts, u64At, viewOf } from '../kernel/uaccess.js';
import type { InterpreterHost } from '../program/interpreter.js';
import { Scheduler } from '../program/scheduler.js';
import { regionOf, type AgentTable, type Region } from './agents.js';
import { parseReply, type Reply } from './real-executor.js';

/** the twin's refusals and disagreements carry a code of the command line's table */
export class TwinError extends Error {
  override readonly name = 'TwinError';
  constructor(
    readonly code: 'CKPT_TWIN_DIVERGED' | 'CKPT_UNSUPPORTED' | 'CKPT_CONTAINER_FAILED' | 'CKPT_NO_REAL_KERNEL' | 'CKPT_DUMP_REFUSED',
    message: string,
  ) {
    super(message);
  }
}

/** HelperLine is how the twin speaks to the helper: one command line in, its reply line out, synchronously. */
export interface HelperLine {
  command(line: string): string;
  /** command lines carried out as one batch, one reply line each (SyncHelper.batch); without it, one by one */
  batch?(lines: readonly string[]): string[];
  /** a batch sent now, its replies read later by what it returns (SyncHelper.begin) */
  begin?(lines: readonly string[]): () => string[];
  /** the helper's pid on this machine, when it is a real one */
  readonly pid?: number | undefined;
}

/** the syscalls whose effect is the kernel's state: the real process makes them first */
const CHANGING = new Set<SyscallName>(['fork', 'clone', 'clone3', 'eclone', 'exit', 'exit_group', 'wait4', 'setsid', 'setpgid', 'setuid', 'unshare', 'setns', 'pidfd_open', 'kill']);

const MAP_PRIVATE_ANONYMOUS = 0x22;
const MAP_SHARED_ANONYMOUS = 0x21;

/** clone flags the helper cannot pass on: they name memory of the caller (a TLS, tid words) or a pidfd slot */
const MEMORY_FLAGS = CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CLONE_PIDFD | CLONE_VFORK;

function show(r: Reply): string {
  if (r.kind === 'r') return r.errno ? `-1 ${r.errno}` : String(r.ret);
  return r.kind === 'err' ? `an error (${r.message})` : r.kind;
}

/** uncovered lists the stretches of `regions` that no mapping of `vmas` covers, as [start, end) of the mirror's addresses. */
function uncovered(regions: readonly Region[], vmas: readonly Vma[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const r of regions) {
    let at = r.start;
    for (const v of vmas) {
      if (v.end <= at || v.start >= r.end) continue;
      if (v.start > at) out.push([at, v.start]);
      at = Math.max(at, v.end);
    }
    if (at < r.end) out.push([at, r.end]);
  }
  return out;
}

export class Twin {
  /** agents this command's helper follows */
  private readonly attached = new Set<number>();
  readonly host: InterpreterHost;

  constructor(
    readonly machine: Machine,
    readonly agents: AgentTable,
    readonly helper: HelperLine,
  ) {
    const model = machine.host;
    const syscall = (task: Task): void => this.syscall(task);
    // the model host itself, but for its trap: the interpreter enters through this one
    this.host = new Proxy(model, { get: (target, key) => (key === 'syscall' ? syscall : Reflect.get(target, key)) }) as InterpreterHost;
  }

  /** followed notes agents this command's helper made itself (a restore's), which it follows without an attach. */
  followed(ids: Iterable<number>): void {
    for (const id of ids) this.attached.add(id);
  }

  /** agentOf is the agent id of a task's real process. */
  agentOf(task: Task): number {
    const e = this.agents.byPid.get(task.nspids[0]!);
    if (!e) throw new TwinError('CKPT_TWIN_DIVERGED', `task ${this.name(task)} has no real process`);
    if (!this.attached.has(e.id)) {
      const r = this.helper.command(`attach ${e.id}`);
      if (!r.startsWith('ok')) throw new TwinError('CKPT_TWIN_DIVERGED', `the real process of task ${this.name(task)} (pid ${task.nspids[0]} on the machine) cannot be reached: ${r.replace(/^err /, '')}; was it killed from outside ckpt?`);
      this.attached.add(e.id);
    }
    return e.id;
  }

  private name(task: Task): string {
    return task.nspids.slice(1).join('/') || String(task.nspids[0]);
  }

  /** startContainer makes the container's init: a real process in a new user and pid namespace, then its mirror. */
  startContainer(name: string, path: string, text: string, uidMap: (pid: number) => void): Container {
    const id = this.agents.freeId();
    const r = parseReply(this.helper.command(`init ${id} ${0x10000000} 0 1`));
    if (r.kind !== 'r' || r.errno) throw new TwinError('CKPT_CONTAINER_FAILED', `cannot start container ${name}: clone3(CLONE_NEWUSER|CLONE_NEWPID) ${r.kind === 'r' ? `failed with ${r.errno}` : show(r)}`);
    const nspid = (r.fields.get('nspid') ?? '').split(',').map(Number);
    this.attached.add(id);
    this.agents.add(nspid[0]!, id);
    uidMap(nspid[0]!);
    this.machine.host.rootPidNs.lastPid = nspid[0]! - 1;
    const c = this.machine.run(name, path, text);
    if (c.init.nspids.join(',') !== nspid.join(',')) throw new TwinError('CKPT_TWIN_DIVERGED', `container ${name}'s init: the real kernel made pids ${nspid.join('/')}, the model ${c.init.nspids.join('/')}`);
    // its mappings made real before it runs, as each later mmap is: a process stopped by then could not make them
    this.syncMemory([c.init]);
    return c;
  }

  /** run steps the scheduler (only `only`'s tasks) with every kernel-changing call made real first; returns the steps run. */
  run(steps: number, only: (t: Task) => boolean): number {
    const scheduler = new Scheduler(this.host, this.machine.programs);
    scheduler.resumeRound(this.machine.scheduler.pending());
    try {
      return scheduler.run(steps, only, (s) => {
        if (s.result === 'faulted') throw new TwinError('CKPT_UNSUPPORTED', `task ${this.name(s.task)} faulted (a bad address or a division by zero): a fault's signal is not made real on --host linux yet`);
      });
    } finally {
      this.machine.scheduler.resumeRound(scheduler.pending());
    }
  }

  /**
   * syncMemory makes the real processes hold the mirror's memory, for every live process among
   * `tasks`: each mirror mapping lies in a real mapping of the same protection (one the process
   * made itself where the kernel chose, remembered in the agent table as a region; or, after a
   * restore, the image's own at its address), every page the mirror has is written there through
   * /proc/PID/mem, and what no mapping of the mirror covers any more is unmapped.
   */
  syncMemory(tasks: readonly Task[]): void {
    const done = new Set<number>();
    for (const t of tasks) {
      const tgid = t.group.tgid.nr;
      if (t.exited || done.has(tgid)) continue;
      const leader = t.group.leader;
      const writer = !leader.exited ? leader : t;
      done.add(tgid);
      const regions = this.agents.maps.get(tgid) ?? [];
      this.agents.maps.set(tgid, regions);
      const pageSize = t.mm.pageSize;
      const pages = t.mm.pageContents();
      const vmas = t.mm.mappings();
      const fd = openSync(`/proc/${tgid}/task/${writer.nspids[0]}/mem`, 'r+');
      try {
        for (const vma of vmas) {
          const region = regionOf(regions, vma.start, vma.end);
          let real: number;
          if (region) real = region.real + (vma.start - region.start);
          else {
            const r = parseReply(this.helper.command(`op ${this.agentOf(writer)} mmap ${vma.end - vma.start} ${vma.prot} ${vma.shared ? MAP_SHARED_ANONYMOUS : MAP_PRIVATE_ANONYMOUS}`));
            if (r.kind !== 'r' || r.errno) throw new TwinError('CKPT_TWIN_DIVERGED', `the mapping ${vma.name} of task ${this.name(t)} cannot be made in its real process: ${show(r)}`);
            real = r.ret;
            regions.push({ start: vma.start, end: vma.end, real });
          }
          for (const [index, bytes] of pages) {
            const addr = index * pageSize;
            if (addr >= vma.start && addr < vma.end) writeSync(fd, bytes, 0, bytes.length, real + (addr - vma.start));
          }
        }
      } finally {
        closeSync(fd);
      }
      for (const [start, end] of uncovered(regions, vmas)) this.unmapReal(writer, start, end - start);
    }
  }

  /**
   * unmapReal unmaps, in the real process of `task`, what its regions hold of the mirror's
   * [addr, addr + len): a munmap (or a MAP_FIXED mmap over old mappings) made real, so that a later
   * mapping at those addresses starts from zeros, as in the mirror.
   */
  private unmapReal(task: Task, addr: number, len: number): void {
    const tgid = task.group.tgid.nr;
    const regions = this.agents.maps.get(tgid);
    if (!regions) return;
    const end = addr + len;
    const kept: Region[] = [];
    for (const r of regions) {
      const lo = Math.max(r.start, addr);
      const hi = Math.min(r.end, end);
      if (lo >= hi) {
        kept.push(r);
        continue;
      }
      const reply = parseReply(this.helper.command(`op ${this.agentOf(task)} munmap ${r.real + (lo - r.start)} ${hi - lo}`));
      if (reply.kind !== 'r' || reply.errno) throw new TwinError('CKPT_TWIN_DIVERGED', `task ${this.name(task)}: unmapping 0x${lo.toString(16)}-0x${hi.toString(16)} in its real process failed: ${show(reply)}`);
      if (r.start < lo) kept.push({ start: r.start, end: lo, real: r.real });
      if (hi < r.end) kept.push({ start: hi, end: r.end, real: r.real + (hi - r.start) });
    }
    this.agents.maps.set(tgid, kept);
  }

  /** realAddress says where a mirror mapping of `mm` lies in its real process (for the real dump). */
  realAddress(tasks: readonly Task[]): (mm: MemoryMap, vma: Vma) => number {
    const owner = new Map<MemoryMap, number>();
    for (const t of tasks) if (!owner.has(t.mm)) owner.set(t.mm, t.group.tgid.nr);
    return (mm, vma) => {
      const r = regionOf(this.agents.maps.get(owner.get(mm) ?? -1), vma.start, vma.end);
      return r ? r.real + (vma.start - r.start) : vma.start;
    };
  }

  /** syscall is the mirror's trap: real first for what changes the kernel, then the model, then the two compared. */
  private syscall(task: Task): void {
    const model = this.machine.host;
    const abi = task.abi;
    const regs = abiRegisters(abi);
    const entry = syscallEntry(abi, regs.nr.get(task.dv));
    if (entry && (entry.name === 'munmap' || entry.name === 'mmap')) return this.memoryCall(task, entry.name);
    if (!entry || !CHANGING.has(entry.name)) return model.syscall(task);
    const arg = (i: number): number => regs.args[i]!.get(task.dv);
    const int = (i: number): number => regs.args[i]!.low32(task.dv) | 0;
    const call = `${entry.name}(${[0, 1, 2, 3].slice(0, 4).map(int).join(', ')})`;
    const where = `task ${this.name(task)} (pid ${task.nspids[0]} on the machine)`;
    const diverged: (real: string, mirror: string) => never = (real, mirror) => {
      throw new TwinError('CKPT_TWIN_DIVERGED', `${where}: ${entry.name}: the real kernel answered ${real}, the model ${mirror}: the model is wrong here`);
    };
    const modelAnswer = (): string => {
      if (task.exited || !model.tasks.has(task)) return 'the call ended the caller';
      if (task.blockedIn) return `blocked in ${task.blockedIn}`;
      const { ret, errno } = abi.readReturn(task.dv);
      return errno ? `-1 ${errnoName(errno) ?? errno}` : String(ret);
    };
    const agent = this.agentOf(task);
    const op = (request: string): Reply => parseReply(this.helper.command(`op ${agent} ${request}`));
    switch (entry.name) {
      case 'eclone':
        throw new TwinError('CKPT_UNSUPPORTED', `${where} called eclone, which Linux never merged: on --host linux use clone3 with set_tid`);
      case 'fork':
      case 'clone':
      case 'clone3': {
        let flags = 0;
        let exitSignal = 17;
        let setTid: number[] = [];
        if (entry.name === 'clone') {
          const raw = arg(0);
          flags = raw & ~CSIGNAL;
          exitSignal = raw & CSIGNAL;
        } else if (entry.name === 'clone3') {
          let head: DataView;
          try {
            head = viewOf(copyFromUser(task, arg(0), Math.min(Math.max(arg(1), 0), 64)));
            flags = u64At(head, CLONE3_ARGS.flags, abi.littleEndian);
            exitSignal = u64At(head, CLONE3_ARGS.exit_signal, abi.littleEndian);
            const n = u64At(head, CLONE3_ARGS.set_tid_size, abi.littleEndian);
            if (n > 0 && n <= 32) setTid = getUserInts(task, u64At(head, CLONE3_ARGS.set_tid, abi.littleEndian), n);
          } catch {
            return model.syscall(task); // its arguments cannot be read: the model's EFAULT or EINVAL, nothing made
          }
        }
        if (flags & MEMORY_FLAGS) throw new TwinError('CKPT_UNSUPPORTED', `${where}: ${call} passes flags 0x${(flags & MEMORY_FLAGS).toString(16)} (a TLS, tid words, a pidfd or vfork), which --host linux does not carry out yet`);
        const newId = this.agents.freeId();
        const r = op(`clone3 ${newId} ${flags >>> 0} ${exitSignal} ${setTid.length} ${setTid.join(' ')}`.trim());
        if (r.kind !== 'r') diverged(show(r), 'a clone');
        const real = r.errno ? null : (r.fields.get('nspid') ?? '').split(',').map(Number);
        if (real) {
          this.attached.add(newId);
          this.agents.add(real[0]!, newId);
          model.rootPidNs.lastPid = real[0]! - 1;
        }
        const newest = model.tasks.last;
        model.syscall(task);
        const child = model.tasks.last !== newest ? model.tasks.last : null;
        if (!real) {
          if (child) diverged(`-1 ${r.errno}`, `a child with pids ${child.nspids.join('/')}`);
          if (modelAnswer() !== `-1 ${r.errno}`) diverged(`-1 ${r.errno}`, modelAnswer());
          return;
        }
        if (!child) diverged(`a child with pids ${real.join('/')}`, modelAnswer());
        if (child.nspids.join(',') !== real.join(',')) diverged(`a child with pids ${real.join('/')}`, `pids ${child.nspids.join('/')}`);
        // a new process has its parent's mappings where its parent has them
        const parentMaps = this.agents.maps.get(task.group.tgid.nr);
        if (child.group !== task.group && parentMaps) this.agents.maps.set(child.nspids[0]!, [...parentMaps]);
        return;
      }
      case 'exit':
      case 'exit_group': {
        const r = op(`${entry.name} ${int(0)}`);
        if (r.kind !== 'dead' && r.kind !== 'stuck') diverged(show(r), 'an exit');
        model.syscall(task);
        return;
      }
      case 'wait4': {
        const options = int(2);
        const r = op(`wait4 ${int(0)} ${(options | WNOHANG) >>> 0}`);
        if (r.kind !== 'r') diverged(show(r), 'a wait');
        const statusAddr = arg(1);
        model.syscall(task);
        const got = modelAnswer();
        const nothingYet = r.ret === 0 && !r.errno;
        const want = r.errno ? `-1 ${r.errno}` : nothingYet && !(options & WNOHANG) ? 'blocked in wait4' : String(r.ret);
        if (got !== want) diverged(want, got);
        if (r.ret > 0 && statusAddr !== 0) {
          const status = getUserInts(task, statusAddr, 1)[0]!;
          if (String(status) !== r.fields.get('status')) diverged(`status ${r.fields.get('status')}`, `status ${status}`);
        }
        return;
      }
      case 'setns': {
        const file = task.group.files.get(int(0));
        if (!file || file.kind !== 'pidfd') return model.syscall(task); // fails on both, changes nothing
        const pid = file.pid.nrIn(task.activeNs);
        const r = op(`setns ${pid} ${int(1)}`);
        model.syscall(task);
        this.compare(r, modelAnswer(), diverged);
        return;
      }
      case 'pidfd_open': {
        const r = op(`pidfd_open ${int(0)} ${int(1) >>> 0}`);
        model.syscall(task);
        const got = modelAnswer();
        // the real descriptor is closed again: only success or the errno is compared
        if (r.kind !== 'r') diverged(show(r), got);
        if (r.errno ? got !== `-1 ${r.errno}` : got.startsWith('-1')) diverged(show(r), got);
        return;
      }
      default: {
        // setsid, setpgid, setuid, unshare, kill: the same arguments, the same answer
        const args = entry.name === 'setsid' ? [] : entry.name === 'setuid' || entry.name === 'unshare' ? [int(0) >>> 0] : [int(0), int(1)];
        const r = op([entry.name, ...args].join(' '));
        model.syscall(task);
        if (r.kind === 'stopped') {
          // a kill that stopped its own caller: the kernel returned from it (the signal was sent, so 0) and the
          // caller stopped on its way back, before it could answer; it answers once continued, and that is skipped
          if (task.group.stopped && modelAnswer() === '0') return;
          diverged('0, and the caller stopped', `${modelAnswer()}${task.group.stopped ? ', and the caller stopped' : ', the caller running'}`);
        }
        this.compare(r, modelAnswer(), diverged);
      }
    }
  }

  /**
   * memoryCall: mmap and munmap are the mirror's first (where a mapping goes is the mirror's own
   * address space); what they take away is then unmapped in the real process: munmap's range, or
   * what a MAP_FIXED mmap replaces. A new mapping is made real at once (syncMemory of the caller),
   * and its pages again when the command ends: a process stopped by then makes no mapping.
   */
  private memoryCall(task: Task, name: 'mmap' | 'munmap'): void {
    const regs = abiRegisters(task.abi);
    const arg = (i: number): number => regs.args[i]!.get(task.dv);
    const [addr, length, flags] = [arg(0), arg(1), arg(3)];
    this.machine.host.syscall(task);
    if (task.exited || task.blockedIn) return;
    const { ret, errno } = task.abi.readReturn(task.dv);
    if (errno) return;
    const page = task.mm.pageSize;
    const len = Math.ceil(length / page) * page;
    if (name === 'munmap') this.unmapReal(task, addr, len);
    else if (flags & MAP_FIXED) this.unmapReal(task, ret, len);
    // a new mapping made real at once, while the process runs: it may be stopped when the command ends
    if (name === 'mmap') this.syncMemory([task]);
  }

  private compare(r: Reply, got: string, diverged: (real: string, mirror: string) => never): void {
    if (r.kind === 'dead' || r.kind === 'stuck') {
      if (got !== 'the call ended the caller') diverged('the call ended the caller', got);
      return;
    }
    if (show(r) !== got) diverged(show(r), got);
  }
}
