/**
 * The one place ckpt starts the real-kernel helper (src/linux/helper/ckpt-helper.c,
 * built into dist/linux/ckpt-helper). Node itself never forks, clones or
 * changes namespaces: V8 is multi-threaded, and a forked copy of it inherits
 * one thread and whatever locks the others held. The helper does those calls;
 * this file talks to it over its line protocol (documented in the C file's
 * header): one command line in, one reply line out.
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

/** helperPath is where the build puts the compiled helper. */
export function helperPath(): string {
  // dist/src/linux/helper.js -> dist/linux/ckpt-helper; src/linux/helper.ts (vitest) -> dist/linux/ckpt-helper
  const here = dirname(fileURLToPath(import.meta.url));
  const fromDist = join(here, '..', '..', 'linux', 'ckpt-helper');
  if (existsSync(fromDist)) return fromDist;
  return join(here, '..', '..', 'dist', 'linux', 'ckpt-helper');
}

/** LinuxSupport says whether the real-kernel parts can run here, and if not, what is missing (one line). */
export type LinuxSupport = { ok: true } | { ok: false; reason: string };

/** probeLinux checks for the compiled helper and for the privilege to make pid namespaces. */
export async function probeLinux(): Promise<LinuxSupport> {
  if (process.platform !== 'linux') return { ok: false, reason: `real-kernel features need Linux, not ${process.platform}` };
  const path = helperPath();
  if (!existsSync(path)) return { ok: false, reason: 'the real-kernel helper is not built (no C compiler (cc) at install time?)' };
  const r = await execa(path, ['probe'], { reject: false, timeout: 10_000 });
  const line = String(r.stdout).trim().split('\n')[0] ?? '';
  if (r.exitCode === 0 && line === 'ok') return { ok: true };
  return { ok: false, reason: line || `the helper's probe failed (${r.shortMessage})` };
}

/**
 * helperEnv is the helper's environment: ours, with glibc's restartable sequences off
 * (glibc.pthread.rseq=0), and our pid as the parent it must have (CKPT_HELPER_PARENT). With
 * restartable sequences on, the kernel writes each process's rseq area as it returns to user
 * space, so after every clone the creator and the child each copy that page (copy on write): one
 * page copied per side per restored process, for a feature the helper never uses. The helper dies
 * with its parent (PR_SET_PDEATHSIG), which it asks for once started: if we die first, it finds
 * another parent than this pid and exits.
 */
export function helperEnv(): NodeJS.ProcessEnv {
  const tunables = process.env.GLIBC_TUNABLES;
  return { ...process.env, GLIBC_TUNABLES: `${tunables ? `${tunables}:` : ''}glibc.pthread.rseq=0`, CKPT_HELPER_PARENT: String(process.pid) };
}

function spawnServe(dir: string) {
  return execa(helperPath(), ['serve', dir], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false, env: helperEnv(), extendEnv: false });
}

/**
 * HelperSession is one running helper serving one channel directory. Every
 * command waits for its reply; commands are answered in order. close() kills
 * and reaps every process the helper made before it exits.
 */
export class HelperSession {
  /** who waits for the next reply lines, in order: a command one line, a batch one per command */
  private readonly waiting: Array<{ lines: string[]; count: number; resolve: (lines: string[]) => void }> = [];
  private ended = false;
  /** every process or thread the helper made: its pid on the machine and its start time (tells it from a later process with that pid) */
  private readonly made = new Map<number, string>();

  private constructor(
    private readonly child: ReturnType<typeof spawnServe>,
    lines: Interface,
  ) {
    lines.on('line', (line) => {
      this.remember(line);
      const w = this.waiting[0];
      if (!w) return;
      w.lines.push(line);
      if (w.lines.length < w.count) return;
      this.waiting.shift();
      w.resolve(w.lines);
    });
    lines.on('close', () => {
      this.ended = true;
      for (const w of this.waiting.splice(0)) w.resolve([...w.lines, ...new Array<string>(w.count - w.lines.length).fill('err the helper exited')]);
    });
  }

  /** start runs `ckpt-helper serve DIR`; DIR holds the agents' FIFOs and should be private (mode 700). */
  static start(dir: string): HelperSession {
    const child = spawnServe(dir);
    if (child.pid !== undefined) note(child.pid, startTime(child.pid));
    const lines = createInterface({ input: child.stdout });
    return new HelperSession(child, lines);
  }

  /** pid of the helper process itself (the parent of every init it makes). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** kill ends the helper at once (SIGKILL), as a crash would: its inits die with it, and their namespaces with them. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.child;
  }

  /** command sends one command line and resolves with its reply line. */
  async command(line: string): Promise<string> {
    return (await this.send([line], 1))[0]!;
  }

  /**
   * batch sends command lines (`init`, `op`, `state`) as one `batch`: the helper carries them
   * out in order until one fails, settling only where a command needs it, and the promise
   * resolves with one reply line for each ("skipped" for those after a failure).
   */
  batch(lines: readonly string[]): Promise<string[]> {
    if (lines.length === 0) return Promise.resolve([]);
    return this.send([`batch ${lines.length}`, ...lines], lines.length);
  }

  private send(lines: readonly string[], replies: number): Promise<string[]> {
    if (this.ended) return Promise.resolve(new Array<string>(replies).fill('err the helper exited'));
    return new Promise((resolve) => {
      this.waiting.push({ lines: [], count: replies, resolve });
      this.child.stdin.write(`${lines.join('\n')}\n`);
    });
  }

  /** remember notes the machine pid of a new agent, named in a reply as child=ID nspid=PID,... start=START (the helper's read of its start time; /proc's again without it), and of an init's holder (holder=PID) */
  private remember(line: string): void {
    const m = / child=\d+ nspid=(\d+)[\d,]*(?: start=(\d+))?/.exec(line);
    const made: Array<[number, string | null]> = [];
    if (m) made.push([Number(m[1]), m[2] ?? startTime(Number(m[1]))]);
    const h = / holder=(\d+)/.exec(line);
    if (h) made.push([Number(h[1]), startTime(Number(h[1]))]);
    for (const [pid, start] of made) {
      if (start !== null) this.made.set(pid, start);
      note(pid, start);
    }
  }

  /** leftovers lists the pids of processes this session made that still exist (alive or zombie). */
  leftovers(): number[] {
    return [...this.made].filter(([pid, start]) => startTime(pid) === start).map(([pid]) => pid);
  }

  /** close kills every agent, lets the helper reap what it made, and waits for it to exit. */
  async close(): Promise<void> {
    if (!this.ended) {
      this.child.stdin.end('quit\n');
    }
    await this.child;
  }
}

/**
 * withSession runs `body` with a helper session whose agents live in a new
 * private directory (mkdtemp makes it mode 700) named after `purpose`; the
 * session is closed (every agent killed and reaped) and the directory
 * removed whatever `body` does.
 */
export async function withSession<T>(purpose: string, body: (h: HelperSession) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `ckpt-${purpose}-`));
  const h = HelperSession.start(dir);
  try {
    return await body(h);
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** startTime reads field 22 of /proc/PID/stat, or null when there is no such process. */
export function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * note appends `PID STARTTIME` to the file CKPT_PROCESS_LEDGER names, if any: the test run's
 * check that no process the tests made is left (zombies and inits stuck in their exit included)
 * reads it.
 */
function note(pid: number, start: string | null): void {
  const ledger = process.env.CKPT_PROCESS_LEDGER;
  if (ledger && start !== null) appendFileSync(ledger, `${pid} ${start}\n`);
}
