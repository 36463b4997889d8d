/**
 * SyncHelper is the real-kernel helper (`ckpt-helper serve DIR`) spoken to
 * synchronously: the workload interpreter is synchronous (one statement, one
 * trap, one result), and each kernel-changing syscall of a task on
 * `--host linux` is carried out by its real process before the model follows,
 * in the middle of a step. So the helper's stdin and stdout are FIFOs that
 * Node writes and reads with plain blocking calls, not pipes driven by the
 * event loop. Node still never forks or clones: the helper does.
 *
 * The FIFOs live in a private directory of the state directory and are
 * removed once the helper has started (both ends are open by then).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { helperEnv, helperPath } from './helper.js';

const pause = new Int32Array(new SharedArrayBuffer(4));

/** REPLY_TIMEOUT_MS: longer than any one helper command takes (an op waits 10 s at most, then settles 10 s at most) */
const REPLY_TIMEOUT_MS = 30_000;

export class SyncHelper {
  private buffered = '';
  private ended = false;

  private constructor(
    private readonly child: ChildProcess,
    private readonly toHelper: number,
    private readonly fromHelper: number,
  ) {}

  /** start runs `ckpt-helper serve agentDir`; `ctlDir` (private) holds its two FIFOs while it starts. */
  static start(agentDir: string, ctlDir: string): SyncHelper {
    const path = helperPath();
    if (!existsSync(path)) throw new Error(`the real-kernel helper is not built (${path})`);
    const inPath = join(ctlDir, `helper-${process.pid}.in`);
    const outPath = join(ctlDir, `helper-${process.pid}.out`);
    for (const p of [inPath, outPath]) {
      rmSync(p, { force: true });
      execFileSync('mkfifo', ['-m', '600', p]);
    }
    // Its stdin: opened read-write (so opening never waits), blocking; ours the write end.
    const childIn = openSync(inPath, constants.O_RDWR);
    const toHelper = openSync(inPath, constants.O_WRONLY);
    // Its stdout: our read end first, non-blocking, so that its exit shows as end of file.
    const fromHelper = openSync(outPath, constants.O_RDONLY | constants.O_NONBLOCK);
    const childOut = openSync(outPath, constants.O_WRONLY);
    let child: ChildProcess;
    try {
      child = spawn(path, ['serve', agentDir], { stdio: [childIn, childOut, 'ignore'], env: helperEnv() });
    } finally {
      closeSync(childIn);
      closeSync(childOut);
      rmSync(inPath, { force: true });
      rmSync(outPath, { force: true });
    }
    return new SyncHelper(child, toHelper, fromHelper);
  }

  /** pid of the helper process (the parent of every init it makes): its mappings are every agent's to begin with */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** command sends one command line and returns its reply line. */
  command(line: string): string {
    if (this.ended) return 'err the helper exited';
    this.write(`${line}\n`);
    return this.readLine();
  }

  /**
   * batch sends command lines (`init`, `op`, `state`) as one `batch` and returns one reply line
   * for each ("skipped" after the first that failed): the helper reads them all before it carries
   * out any, so writing them all first cannot wait on its replies.
   */
  batch(lines: readonly string[]): string[] {
    return this.begin(lines)();
  }

  /**
   * begin sends command lines as one batch now and returns what reads their replies, later: the
   * helper carries them out meanwhile. Nothing else may be sent before those replies are read.
   */
  begin(lines: readonly string[]): () => string[] {
    if (lines.length === 0) return () => [];
    if (this.ended) return () => lines.map(() => 'err the helper exited');
    this.write(`batch ${lines.length}\n${lines.join('\n')}\n`);
    return () => lines.map(() => this.readLine());
  }

  /** write writes all of `text` (a pipe may take a long one in parts) */
  private write(text: string): void {
    const bytes = new TextEncoder().encode(text);
    for (let done = 0; done < bytes.length; ) done += writeSync(this.toHelper, bytes, done, bytes.length - done);
  }

  private readLine(): string {
    const buf = new Uint8Array(4096);
    const deadline = Date.now() + REPLY_TIMEOUT_MS;
    for (let idle = 0; ; ) {
      const nl = this.buffered.indexOf('\n');
      if (nl >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        return line;
      }
      let n: number;
      try {
        n = readSync(this.fromHelper, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        if (Date.now() > deadline) return 'err the helper did not answer';
        // a short nap, longer while the helper is busy (a settle takes milliseconds)
        Atomics.wait(pause, 0, 0, idle++ < 20 ? 0.1 : 1);
        continue;
      }
      if (n === 0) {
        this.ended = true;
        return 'err the helper exited';
      }
      idle = 0;
      this.buffered += Buffer.from(buf.buffer, 0, n).toString('utf8');
    }
  }

  /** detach ends the helper and leaves every agent blocked on its channel, for a later command. */
  detach(): void {
    this.finish('detach');
  }

  /** quit ends the helper after it has killed every agent it follows (and reaped the inits it made). */
  quit(): void {
    this.finish('quit');
  }

  private finish(how: 'detach' | 'quit'): void {
    if (!this.ended) {
      writeSync(this.toHelper, `${how}\n`);
      // its exit closes its stdout: wait for that end of file
      for (;;) if (this.readLine().startsWith('err the helper')) break;
    }
    closeSync(this.toHelper);
    closeSync(this.fromHelper);
  }

  /** exited resolves once the helper has exited and Node has reaped it (else it would be left a zombie for the machine's init). */
  exited(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((done) => this.child.once('exit', () => done()));
  }
}
