/**
 * SIGINT and SIGTERM, sent for real to a ckpt process in the middle of a
 * dump or a restore: it stops before its commit point, removes its
 * temporary file, says in one line what is left and exits 130 or 143; the
 * host's files are byte for byte what they were.
 */
import { execa } from 'execa';
import { createHash, randomFillSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/index.js';
import { HostStore } from '../../src/store/host-store.js';
import { run } from '../../src/cli/main.js';
import { catchSignals, holdSignals, takeHeld } from '../../src/cli/interrupts.js';

const BIN = new URL('../../bin/ckpt.js', import.meta.url).pathname;
const built = existsSync(new URL('../../dist/src/cli/main.js', import.meta.url));
const IDLE = 'program main\n  sleep 100000000\nend\n';
/** large enough that writing its image takes a while, even compressed: random pages do not compress */
const BYTES = 48 * 1024 * 1024;

let dir: string;
let root: string;
let hostFile: string;

/** digestOf fingerprints the host's files: the host file and every file of its parts, by name. */
const digestOf = (): string => {
  const hash = createHash('sha256').update(new Uint8Array(readFileSync(join(root, 'hosts', 'default.host'))));
  const parts = join(root, 'hosts', 'default.parts');
  for (const f of readdirSync(parts).sort()) hash.update(f).update(new Uint8Array(readFileSync(join(parts, f))));
  return hash.digest('hex');
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ckpt-signals-'));
  root = join(dir, 'state');
  const m = Machine.create('default', 'x86_64');
  const c = m.run('big', '/idle.wl', IDLE);
  m.scheduler.run(1);
  const base = c.init.mm.map(0, BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  const page = new Uint8Array(4096);
  for (let at = 0; at < BYTES; at += 4096) c.init.mm.write(base + at, randomFillSync(page));
  new HostStore(root).add(m);
  hostFile = digestOf();
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** waitFor polls until `ready` holds (or the process ended). */
async function waitFor(ready: () => boolean, done: () => boolean): Promise<void> {
  while (!ready() && !done()) await new Promise((r) => setTimeout(r, 5));
}

describe.skipIf(!built)('a signal during a dump or a restore', () => {
  for (const [sig, status, compress] of [['SIGINT', 130, 'gzip'], ['SIGTERM', 143, 'none']] as const) {
    it(`${sig} while the image is written (${compress}): exit ${status}, no file left, the container still there`, async () => {
      const out = join(dir, `out-${sig}`);
      mkdirSync(out);
      const child = execa(process.execPath, [BIN, 'dump', 'big', '-o', join(out, 'big.tar'), '--compress', compress, '--root', root], { reject: false });
      let ended = false;
      void child.finally(() => (ended = true));
      // the temporary file appears once the write has begun: the signal comes in the middle of it
      await waitFor(() => readdirSync(out).some((f) => f.endsWith('.tmp')), () => ended);
      expect(ended, 'the dump ended before it could be interrupted').toBe(false);
      child.kill(sig);
      const r = await child;
      expect(r.exitCode, r.stderr).toBe(status);
      expect(r.stderr).toBe(`ckpt: interrupted by ${sig}: no image was written; container big is still running and host default is unchanged [CKPT_INTERRUPTED]`);
      expect(readdirSync(out)).toEqual([]);
      expect(digestOf()).toBe(hostFile);
      expect(readdirSync(join(root, 'hosts')).sort()).toEqual(['default.host', 'default.parts']);
    }, 120_000);
  }

  it('SIGTERM while a restore reads its image: exit 143 and the host unchanged', async () => {
    const child = execa(process.execPath, [BIN, 'restore', '-', '--name', 'late', '--root', root], { reject: false, stdin: 'pipe' });
    let ended = false;
    void child.finally(() => (ended = true));
    // a write larger than a pipe holds completes only once ckpt is reading standard input
    await new Promise<void>((resolve) => child.stdin!.write(new Uint8Array(1 << 20), () => resolve()));
    expect(ended).toBe(false);
    child.kill('SIGTERM');
    const r = await child;
    expect(r.exitCode, r.stderr).toBe(143);
    expect(r.stderr).toBe('ckpt: interrupted by SIGTERM: the image was not read whole; host default is unchanged [CKPT_INTERRUPTED]');
    expect(digestOf()).toBe(hostFile);
  }, 120_000);
});

describe('a signal while the command\'s code loads', () => {
  it('is held for the command, which stops at its first step with its one line (run in-process: the signal comes right after the verb is named)', { timeout: 60_000 }, async () => {
    const out = join(dir, 'early');
    mkdirSync(out);
    const err: string[] = [];
    const running = run(['dump', 'big', '-o', join(out, 'big.tar'), '--root', root], { out: () => undefined, err: (l) => err.push(l) });
    process.emit('SIGINT', 'SIGINT');
    expect(await running).toBe(130);
    expect(err.join('\n')).toMatch(/^ckpt: interrupted by SIGINT: .*\[CKPT_INTERRUPTED\]$/);
    expect(readdirSync(out)).toEqual([]);
    expect(digestOf()).toBe(hostFile);
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('a held signal no command took is given back by takeHeld, and the handlers go with it', () => {
    holdSignals();
    process.emit('SIGTERM', 'SIGTERM');
    expect(takeHeld()).toBe('SIGTERM');
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM'), takeHeld()]).toEqual([0, 0, null]);
    holdSignals();
    process.emit('SIGINT', 'SIGINT');
    const caught = catchSignals();
    expect([caught.signal.aborted, caught.received()]).toEqual([true, 'SIGINT']);
    caught.release();
    expect(process.listenerCount('SIGINT')).toBe(0);
  });
});
