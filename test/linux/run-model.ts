/**
 * Runs a scenario on a `mainline` model host through each task's C library,
 * printing the same lines as run-real.ts: the root is the init of a fresh pid
 * namespace at level 1 under the host's init, and pids are compared from that
 * namespace down.
 */
import { CLONE_ARGS_SIZE_VER2, CLONE_VM, Host, MAP_ANONYMOUS, MAP_PRIVATE, PID_MAX_LIMIT, PROT_READ, PROT_WRITE, SIGCHLD, type HostOptions, type Libc, type SyscallResult, type Task } from '../../src/index.js';
import { exitSignal } from './run-real.js';
import { finalLine, SYSCTL_PATH, type Op, type Scenario, type TaskFinal } from './scenario.js';
import { libcOf } from '../../src/program/libc.js';

const O_RDONLY = 0;
const O_WRONLY = 1;
/** The stack a CLONE_VM child is given, as the helper gives one on the machine. */
const CHILD_STACK = 256 * 1024;

/** modelHost makes the host a scenario runs on: x86_64 (the machine's ABI), the mainline personality. */
export function modelHost(): Host {
  // A new pid namespace starts with pid_max PID_MAX_LIMIT on Linux 6.x (kernel/pid_namespace.c create_pid_namespace);
  // the host's own limit is set to it too so that a model which inherits the parent's limit meets the same one.
  // `kernel` is passed as data: personalities come with the persona branch, and until then the field is ignored.
  const options = { arch: 'x86_64', pidMax: PID_MAX_LIMIT, kernel: 'mainline' } as HostOptions;
  return Host.create(options);
}

function errText(r: SyscallResult): string {
  return r.errno ? ` ${r.errno}` : '';
}

function ids(l: Libc): string {
  return `ids=${l.getpid().ret},${l.getppid().ret},${l.getpgid(0).ret},${l.getsid(0).ret},${l.gettid().ret} uid=${l.getuid().ret}`;
}

function readSysctl(l: Libc, name: keyof typeof SYSCTL_PATH): string {
  const fd = l.open(SYSCTL_PATH[name], O_RDONLY);
  if (fd.ret < 0) return `ret=-1${errText(fd)}`;
  const buf = new Uint8Array(64);
  const r = l.read(fd.ret, buf, buf.length);
  l.close(fd.ret);
  if (r.ret < 0) return `ret=-1${errText(r)}`;
  return `value=${new TextDecoder().decode(buf.subarray(0, r.ret)).trim()}`;
}

function writeSysctl(l: Libc, name: keyof typeof SYSCTL_PATH, value: number): string {
  const fd = l.open(SYSCTL_PATH[name], O_WRONLY);
  if (fd.ret < 0) return `ret=-1${errText(fd)}`;
  const r = l.write(fd.ret, String(value));
  l.close(fd.ret);
  return r.ret < 0 ? `ret=-1${errText(r)}` : 'ok';
}

class ModelRun {
  readonly host = modelHost();
  readonly tasks = new Map<number, Task>();
  private readonly ids = new Map<Task, number>();

  constructor(s: Scenario) {
    const l = libcOf(this.host, this.host.init);
    const r = l.clone3(s.rootSetTid ? { flags: 0x20000000, exit_signal: SIGCHLD, set_tid: [1] } : { flags: 0x20000000, exit_signal: SIGCHLD }, CLONE_ARGS_SIZE_VER2);
    if (!r.child) throw new Error(`the model could not make the scenario's root: ${r.errno}`);
    this.name(0, r.child);
  }

  private name(id: number, t: Task): void {
    this.tasks.set(id, t);
    this.ids.set(t, id);
  }

  running(id: number): Task | null {
    const t = this.tasks.get(id);
    return t && this.host.tasks.has(t) && !t.exited ? t : null;
  }

  step(i: number, t: Task, op: Op): string {
    const l = libcOf(this.host, t);
    switch (op.op) {
      case 'clone3': {
        let stack = 0;
        if (op.flags & CLONE_VM) {
          const m = l.mmap(0, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
          if (m.ret < 0) return `model: no stack for the child: ${m.errno}`;
          stack = m.ret;
        }
        const args = { flags: op.flags >>> 0, exit_signal: exitSignal(op.flags), ...(stack ? { stack, stack_size: CHILD_STACK } : {}), ...(op.setTid.length ? { set_tid: op.setTid } : {}) };
        const r = l.clone3(args, CLONE_ARGS_SIZE_VER2);
        if (r.ret < 0 || !r.child) {
          if (stack) l.munmap(stack, CHILD_STACK);
          return `ret=-1${errText(r)}`;
        }
        this.name(i + 1, r.child);
        return `ret=${r.ret} pids=${this.levels(r.child).join(',')} ${ids(libcOf(this.host, r.child))}`;
      }
      case 'eclone': {
        const r = l.eclone(op.flags >>> 0, { nr_pids: op.pids.length }, 48, op.pids);
        if (r.ret < 0 || !r.child) return `ret=-1${errText(r)}`;
        this.name(i + 1, r.child);
        return `ret=${r.ret} pids=${this.levels(r.child).join(',')} ${ids(libcOf(this.host, r.child))}`;
      }
      case 'exit':
        l.exit(op.code);
        return 'did not return';
      case 'exit_group':
        l.exit_group(op.code);
        return 'did not return';
      case 'wait4': {
        const status = [0];
        const r = l.wait4(op.pid, status, op.options, 0);
        if (r.blocked) return 'blocked';
        return `ret=${r.ret}${errText(r)} status=0x${(r.ret > 0 ? status[0]! : 0).toString(16)}`;
      }
      case 'setsid':
        return this.plain(l.setsid());
      case 'setpgid':
        return this.plain(l.setpgid(op.pid, op.pgid));
      case 'setuid':
        return this.plain(l.setuid(op.uid));
      case 'unshare':
        return this.plain(l.unshare(op.flags >>> 0));
      case 'kill':
        return this.plain(l.kill(op.pid, op.sig));
      case 'setns': {
        const fd = l.pidfd_open(op.pid, 0);
        if (fd.ret < 0) return `ret=-1${errText(fd)} at pidfd`;
        const r = l.setns(fd.ret, op.nstype >>> 0);
        l.close(fd.ret);
        return `ret=${r.ret}${errText(r)}${r.ret < 0 ? ' at setns' : ''}`;
      }
      case 'pidfd_open': {
        const fd = l.pidfd_open(op.pid, 0);
        if (fd.ret < 0) return `ret=-1${errText(fd)}`;
        l.close(fd.ret);
        return 'ok';
      }
      case 'ids':
        return ids(l);
      case 'read_sysctl':
        return readSysctl(l, op.name);
      case 'write_sysctl':
        return writeSysctl(l, op.name, op.value);
    }
  }

  /** try is step() with a model exception turned into a line; a caller that died in the call gets no return value, as on the machine. */
  try(i: number, t: Task, op: Op): string {
    try {
      const text = this.step(i, t, op);
      return this.host.tasks.has(t) && !t.exited ? text : 'did not return';
    } catch (e) {
      return `model threw: ${(e as Error).message}`;
    }
  }

  private plain(r: SyscallResult): string {
    return `ret=${r.ret}${errText(r)}`;
  }

  /** strandsAnInit: would `t` calling setpgid(pid, pgid) move a namespace's init into another group of that namespace? */
  strandsAnInit(t: Task, pid: number, pgid: number): boolean {
    const ns = t.activeNs;
    const target = pid === 0 ? t : [...this.tasks.values()].find((x) => this.host.tasks.has(x) && x.pid.nrIn(ns) === pid);
    if (!target || target.pid.vnr !== 1) return false;
    const own = target.pid.nrIn(ns);
    return pgid !== 0 && pgid !== own;
  }

  /** levels are a task's pids from the scenario's namespace (level 1) down. */
  levels(t: Task): number[] {
    return t.nspids.slice(1);
  }

  final(id: number): TaskFinal {
    const t = this.tasks.get(id)!;
    if (!this.host.tasks.has(t)) return { state: 'gone', ppid: '-', pids: [] };
    // /proc's PPid is the parent's thread-group id: name the task that leads the parent's group
    const parent = t.parent;
    const pid = parent ? this.ids.get(parent.group.leader) : undefined;
    const f: TaskFinal = { state: t.exited ? 'zombie' : 'alive', ppid: pid === undefined ? 'out' : `t${pid}`, pids: this.levels(t) };
    if (!t.exited) f.ids = ids(libcOf(this.host, t));
    return f;
  }
}

/**
 * comparable cuts every set_tid array to the levels from the scenario's
 * namespace down, as the model counts them at that step: the levels above
 * belong to the machine (its own pids) and to the model host (pids 1..) and
 * are not comparable. A wrong depth in the model still shows, in the pids
 * printed for every task.
 *
 * It also leaves out (as a plain ids() call, so that task names stay) any
 * setpgid that would put a pid namespace's init into another process group
 * of its namespace. On Linux such an init can never finish its exit:
 * zap_pid_ns_processes (kernel/pid_namespace.c) waits until the namespace
 * holds no pid but the init's own, and its process group holds a second one
 * until the init is released, so it sleeps there for good, unkillable, and
 * only its parent can free it (setpgid back to its own group). The suite must
 * leave no process behind, so it never makes one (DISAGREEMENTS D5).
 */
export function comparable(s: Scenario): Scenario {
  const run = new ModelRun(s);
  const steps = s.steps.map((step, i) => {
    const t = run.running(step.task);
    let call: Op = step.call;
    if (t && call.op === 'clone3') {
      const levels = t.pidNsForChildren.level; // the scenario's namespace is level 1
      if (call.setTid.length > levels) call = { ...call, setTid: call.setTid.slice(0, levels) };
    }
    if (t && call.op === 'setpgid' && run.strandsAnInit(t, call.pid, call.pgid)) call = { op: 'ids' };
    if (t) run.try(i, t, call);
    return { task: step.task, call };
  });
  return { ...s, steps };
}

/** ModelOutput: the lines, and the runs of steps whose order Linux does not fix (see racyWaits). */
export interface ModelOutput {
  lines: string[];
  /** [first, last] step indices of each run of wait4 calls whose results may come in any order */
  orderFree: Array<[number, number]>;
}

interface Before {
  parent: Task | null;
  exited: boolean;
  group: object;
}

/**
 * When two or more threads of a process die in one step (exit_group, or a
 * SIGKILL to the process), Linux runs their exits concurrently: each hands
 * its children to a sibling still alive or to the reaper (kernel/exit.c
 * find_new_reaper), so the order in which the children end up in the
 * reaper's list, and so the order in which wait4(-1) finds them, depends on
 * which thread died first. For such children only the set a run of waits
 * reaps is invariant, so a run of wait4 steps of one caller that each reap a
 * child reparented in the same such step is compared as a set.
 */
class RaceLog {
  /** the step in which a task was handed over by threads dying together */
  private readonly racyParent = new Map<Task, number>();
  /** step index -> the racy batch of the child that wait4 step reaped */
  readonly waits = new Map<number, number>();

  snapshot(run: ModelRun): Map<Task, Before> {
    const m = new Map<Task, Before>();
    for (const t of run.tasks.values()) if (run.host.tasks.has(t)) m.set(t, { parent: t.parent, exited: t.exited, group: t.group });
    return m;
  }

  after(i: number, op: Op, run: ModelRun, before: Map<Task, Before>): void {
    const deaths = new Map<object, number>();
    for (const [t, b] of before) if (!b.exited && (!run.host.tasks.has(t) || t.exited)) deaths.set(b.group, (deaths.get(b.group) ?? 0) + 1);
    if ([...deaths.values()].some((n) => n >= 2)) {
      for (const [t, b] of before) if (run.host.tasks.has(t) && t.parent !== b.parent) this.racyParent.set(t, i);
    }
    if (op.op !== 'wait4') return;
    for (const [t, b] of before) {
      if (b.exited && !run.host.tasks.has(t) && this.racyParent.has(t)) this.waits.set(i, this.racyParent.get(t)!);
    }
  }

  /** runs of consecutive wait4 steps of one caller reaping children of one racy batch */
  runs(s: Scenario): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let i = 0;
    while (i < s.steps.length) {
      const batch = this.waits.get(i);
      let j = i;
      while (batch !== undefined && this.waits.get(j + 1) === batch && s.steps[j + 1]!.task === s.steps[i]!.task) j++;
      if (j > i) out.push([i, j]);
      i = j + 1;
    }
    return out;
  }
}

/** runModel runs `s` on a fresh model host and returns its lines. */
export function runModel(s: Scenario): ModelOutput {
  const run = new ModelRun(s);
  const races = new RaceLog();
  const lines: string[] = [];
  for (const [i, step] of s.steps.entries()) {
    const head = `${i} t${step.task}`;
    const t = run.running(step.task);
    if (!t) {
      lines.push(`${head}: not running`);
      continue;
    }
    const before = races.snapshot(run);
    lines.push(`${head}: ${run.try(i, t, step.call)}`);
    races.after(i, step.call, run, before);
  }
  for (const id of run.tasks.keys()) lines.push(finalLine(id, run.final(id)));
  return { lines, orderFree: races.runs(s) };
}
