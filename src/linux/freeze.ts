/**
 * Freezing a real container while it is dumped, so that nothing it holds
 * changes between the reads. Two mechanisms:
 *
 * - The cgroup v2 freezer (cgroup.freeze, Linux 5.2), used when the
 *   container has a cgroup of its own: a v2 cgroup that holds the container's
 *   processes and nothing else. Freezing is invisible to the processes and
 *   to their parents: no signal, no state change a wait4 could report, and a
 *   process the workload had stopped stays stopped (/proc shows T) while a
 *   frozen one shows S.
 * - Otherwise SIGSTOP to every live process of the container that is not
 *   already stopped, then waiting until /proc shows every live thread of
 *   each in state T; thawing sends SIGCONT to exactly those it stopped.
 *   SIGSTOP is visible: a parent blocked in wait4(WUNTRACED) would be woken
 *   with its child's stop, and after SIGCONT a wait4(WCONTINUED) finds a
 *   "continued" report (kernel/signal.c prepare_signal sets
 *   SIGNAL_STOP_CONTINUED). A dump runs between commands, when each of
 *   ckpt's agents is blocked reading its request FIFO: a stop interrupts
 *   that read and the kernel restarts it on SIGCONT (no handler is
 *   installed, so -ERESTARTSYS restarts), so the agents see nothing. A
 *   thread found blocked in wait4 or waitid (/proc/TID/syscall) makes the
 *   SIGSTOP freeze refuse, since its wait could report our stop; the
 *   continued report a parent could collect later with WCONTINUED after a
 *   --leave-running dump remains, which is why the freezer is preferred
 *   where it can be used.
 *
 * Node only sends signals and writes cgroup files here: it never forks,
 * clones or enters a namespace.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { until } from './poll.js';
import { readProcess, statState, type ProcProcess } from './proc.js';

/** FreezeMethod says how a container was frozen. */
export type FreezeMethod = 'cgroup' | 'sigstop';

/** FreezeError says why a container could not be frozen or thawed, naming the process or cgroup. */
export class FreezeError extends Error {
  override readonly name = 'FreezeError';
  readonly code = 'CKPT_DUMP_REFUSED';
}

/** Frozen is a frozen container: how, and how to let it run again (idempotent). */
export interface Frozen {
  method: FreezeMethod;
  /** the cgroup directory frozen (cgroup method) */
  cgroup: string | null;
  /** the processes (machine pids) that were stopped before the freeze: their stop is the workload's, not ours */
  stoppedBefore: ReadonlySet<number>;
  thaw(): Promise<void>;
}

/** cgroup2Mount finds where the cgroup v2 hierarchy is mounted (a pure v2 machine: /sys/fs/cgroup; a hybrid one: often /sys/fs/cgroup/unified), or null. */
export function cgroup2Mount(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): { root: string; at: string } | null {
  for (const line of mountinfo.split('\n')) {
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    const [left, right] = line.split(' - ');
    if (!left || !right || right.split(' ')[0] !== 'cgroup2') continue;
    const f = left.split(' ');
    return { root: unescapeMount(f[3]!), at: unescapeMount(f[4]!) };
  }
  return null;
}

/** mountinfo escapes space, tab, newline and backslash as octal */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** cgroup2Of reads a process's cgroup v2 path (the `0::PATH` line of /proc/PID/cgroup), or null when it has none or is gone. */
export function cgroup2Of(pid: number): string | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return null;
  }
  const line = text.split('\n').find((l) => l.startsWith('0::'));
  return line === undefined ? null : line.slice(3);
}

/** procsUnder lists the processes of a cgroup and of every cgroup below it. */
function procsUnder(dir: string): number[] {
  const own = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  const below = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory());
  return [...own, ...below.flatMap((e) => procsUnder(join(dir, e.name)))];
}

/**
 * ownCgroup finds the cgroup v2 directory the container has to itself: the
 * cgroup of its init, when it is not the hierarchy's root and it (with
 * everything below it) holds exactly the container's live processes. Null
 * when there is none (then SIGSTOP is used).
 */
export function ownCgroup(live: readonly number[]): string | null {
  const mount = cgroup2Mount();
  if (!mount || live.length === 0) return null;
  const paths = new Set(live.map((pid) => cgroup2Of(pid)));
  if (paths.size !== 1) return null;
  const path = [...paths][0];
  if (path === null || path === undefined || path === '/' || !path.startsWith(mount.root)) return null;
  const dir = join(mount.at, path.slice(mount.root.length));
  let procs: number[];
  try {
    procs = procsUnder(dir);
  } catch {
    return null;
  }
  const mine = new Set(live);
  return procs.length === mine.size && procs.every((p) => mine.has(p)) ? dir : null;
}

/** liveThreadsStopped: every thread of the process that has not exited shows T (a group stop stops them all). */
function liveThreadsStopped(p: { threads: ReadonlyArray<{ state: string }> } | null): boolean {
  return p !== null && p.threads.every((t) => t.state === 'T' || t.state === 'Z' || t.state === 'X');
}

/** threadStates reads only the state letter of each thread (the third field of task/TID/stat): what waiting for a stop polls. Null when the process is gone. */
function threadStates(pid: number): { threads: Array<{ state: string }> } | null {
  try {
    return {
      threads: readdirSync(`/proc/${pid}/task`).map((tid) => {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        return { state: statState(stat) };
      }),
    };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return null;
    throw e;
  }
}

function cgroupFrozen(dir: string): boolean {
  return /^frozen 1$/m.test(readFileSync(join(dir, 'cgroup.events'), 'utf8'));
}

export interface FreezeOptions {
  /** 'auto' (default): the container's own cgroup v2 if it has one, else SIGSTOP; 'sigstop' forces SIGSTOP */
  method?: 'auto' | 'sigstop';
  /** how long to wait for the container to be frozen (default 10 s) */
  timeoutMs?: number;
  /** how a process is named in errors */
  nameOf?: (pid: number) => string;
}

/**
 * freeze stops the container whose processes are `processes` (machine pids
 * of every process, zombies included, as /proc read them just before).
 */
export async function freeze(processes: readonly ProcProcess[], opts: FreezeOptions = {}): Promise<Frozen> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const nameOf = opts.nameOf ?? ((pid: number) => `process ${pid}`);
  const live = processes.filter((p) => p.state !== 'Z' || p.threads.some((t) => t.state !== 'Z'));
  const stoppedBefore = new Set(live.filter((p) => liveThreadsStopped(p)).map((p) => p.pid));
  const cgroup = opts.method === 'sigstop' ? null : ownCgroup(live.map((p) => p.pid));
  if (cgroup !== null) {
    const wasFrozen = readFileSync(join(cgroup, 'cgroup.freeze'), 'utf8').trim() === '1';
    let thawed = wasFrozen;
    const thaw = async (): Promise<void> => {
      if (thawed) return;
      thawed = true;
      writeFileSync(join(cgroup, 'cgroup.freeze'), '0');
    };
    writeFileSync(join(cgroup, 'cgroup.freeze'), '1');
    if (!(await until(() => cgroupFrozen(cgroup), timeoutMs))) {
      await thaw();
      throw new FreezeError(`cgroup ${cgroup} did not report frozen within ${timeoutMs} ms`);
    }
    return { method: 'cgroup', cgroup, stoppedBefore, thaw };
  }
  for (const p of live) {
    for (const t of p.threads) {
      const call = syscallOf(t.tid);
      if (t.state !== 'T' && (call === WAIT4 || call === WAITID)) throw new FreezeError(`${nameOf(p.pid)} (thread ${t.tid} on this machine) is blocked in ${call === WAIT4 ? 'wait4' : 'waitid'}, which a SIGSTOP of its child would wake: it cannot be frozen without a cgroup of its own`);
    }
  }
  const stopped: number[] = [];
  let thawed = false;
  const thaw = async (): Promise<void> => {
    if (thawed) return;
    thawed = true;
    for (const pid of stopped) signal(pid, 'SIGCONT');
  };
  try {
    for (const p of live) {
      if (stoppedBefore.has(p.pid)) continue;
      if (!signal(p.pid, 'SIGSTOP')) throw new FreezeError(`${nameOf(p.pid)} (pid ${p.pid} on this machine) is gone: was it killed from outside?`);
      stopped.push(p.pid);
    }
    for (const pid of stopped) {
      if (!(await until(() => liveThreadsStopped(threadStates(pid)), timeoutMs))) {
        const p = readProcess(pid);
        throw new FreezeError(p === null ? `${nameOf(pid)} (pid ${pid} on this machine) went away while it was being stopped` : `${nameOf(pid)} (pid ${pid} on this machine) did not stop within ${timeoutMs} ms (state ${p.threads.map((t) => t.state).join('')})`);
      }
    }
  } catch (e) {
    await thaw();
    throw e;
  }
  return { method: 'sigstop', cgroup: null, stoppedBefore, thaw };
}

/** x86_64 system call numbers of the waits a SIGSTOP could wake (arch/x86/entry/syscalls/syscall_64.tbl) */
const WAIT4 = 61;
const WAITID = 247;

/** syscallOf reads the number of the system call a thread is blocked in (/proc/TID/syscall, first field), or null when it runs or cannot be read. */
function syscallOf(tid: number): number | null {
  try {
    const n = Number(readFileSync(`/proc/${tid}/syscall`, 'utf8').split(' ')[0]);
    return Number.isInteger(n) ? n : null;
  } catch {
    return null;
  }
}

/** signal sends a signal; false when the process no longer exists. */
function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}
