/**
 * Sandbox: a shell that is the init of a pid namespace of its own (with its
 * own /proc), for tests of `--host linux`. Between CLI commands a real
 * container's init is an orphan, reparented to the init of the namespace the
 * commands run in, which reaps it once it exits; a shell as that init does,
 * whatever the machine's own init does. Closing the sandbox ends the shell,
 * and the kernel kills and reaps everything left in its namespace: a test
 * can leave nothing behind, even when it fails.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';

export class Sandbox {
  private out = '';
  private waiting: { marker: string; done: (r: { code: number; out: string }) => void } | null = null;
  private count = 0;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly shell: ChildProcessWithoutNullStreams) {
    shell.stdout.on('data', (d: Buffer) => {
      this.out += d.toString('utf8');
      this.check();
    });
  }

  /** available says why a sandbox cannot be made here, or null. */
  static unavailable(): string | null {
    if (process.getuid?.() !== 0) return 'not root';
    if (!existsSync('/usr/bin/unshare') && !existsSync('/bin/unshare')) return 'no unshare(1)';
    return null;
  }

  static start(): Sandbox {
    const shell = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', 'bash', '-s'], { stdio: ['pipe', 'pipe', 'pipe'] });
    return new Sandbox(shell);
  }

  private check(): void {
    const w = this.waiting;
    if (!w) return;
    const at = this.out.indexOf(`${w.marker} `);
    if (at < 0) return;
    const end = this.out.indexOf('\n', at);
    if (end < 0) return;
    const code = Number(this.out.slice(at + w.marker.length + 1, end));
    const out = this.out.slice(0, at).replace(/\n$/, '');
    this.out = this.out.slice(end + 1);
    this.waiting = null;
    w.done({ code, out });
  }

  /** sh runs one command line in the sandbox's shell: its exit status and its output (stdout and stderr). */
  sh(command: string): Promise<{ code: number; out: string }> {
    // one command at a time: each waits for the one before it
    const run = this.queue.then(
      () =>
        new Promise<{ code: number; out: string }>((done) => {
          const marker = `__sandbox_${++this.count}__`;
          this.waiting = { marker, done };
          this.shell.stdin.write(`{ ${command} ; } 2>&1\necho "${marker} $?"\n`);
        }),
    );
    this.queue = run;
    return run;
  }

  /** processes lists the processes of the sandbox's namespace but its shell and the lister: what a test left. */
  async processes(): Promise<string[]> {
    const r = await this.sh('ps -eo pid=,stat=,args=');
    // the shell, its own short-lived subshells (a pipeline's fork before its exec) and the lister are not a test's leftovers
    return r.out.split('\n').filter((l) => l.trim() !== '' && !/^\s*\d+\s+\S+\s+(bash -s|ps -eo )/.test(l));
  }

  async close(): Promise<void> {
    this.shell.stdin.end();
    if (this.shell.exitCode === null) await new Promise((r) => this.shell.once('exit', r));
  }
}
