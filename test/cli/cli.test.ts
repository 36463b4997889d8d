/** The command line in-process: run(argv) with captured output. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { ckptIn } from './run-ckpt.js';

async function ckpt(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('ckpt demo', () => {
  it('checkpoints on i386, restores on x86_64, and the pids match at every container level', async () => {
    const r = await ckpt('demo');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^main\s+3\/2\/1\s+3\/2\/1\s+i386$/m);
    expect(r.out).toContain('Identical pids at every level of the container.');
    expect(r.out).toContain('   L1 init: no children left');
    expect(r.out).toContain('eclone reports EBUSY, clone3 reports EEXIST; host unchanged');
  });

  it('--json gives data a script can use, for any compat pair', async () => {
    const r = await ckpt('demo', '--json', '--from', 'ppc', '--to', 'ppc64', '--steps', '30');
    expect(r.code).toBe(0);
    const data = JSON.parse(r.out);
    expect(data.identical).toBe(true);
    expect(data.rows.every((row: { abiAfter: string }) => row.abiAfter === 'ppc')).toBe(true);
    expect(data.collision).toEqual({ eclone: 'EBUSY', clone3: 'EEXIST', unchanged: true });
    expect(data.consoleBefore + data.consoleAfter).toContain('L1 init: no children left\n');
  });

  it('--help teaches with an example', async () => {
    const r = await ckpt('demo', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('ckpt demo --from s390 --to s390x --json');
  });
});

describe('bad usage', () => {
  it('an unknown command is one clear line and exit 2, with no stack trace', async () => {
    const r = await ckpt('frobnicate');
    expect(r.code).toBe(2);
    expect(r.err.split('\n')).toEqual(['ckpt: unknown command "frobnicate"', 'Try: ckpt --help']);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('no command at all is exit 2 with a hint', async () => {
    const r = await ckpt();
    expect(r.code).toBe(2);
    expect(r.err).toContain('try: ckpt demo');
  });
});

describe('a fresh state directory', () => {
  it('ps before any run: the default host, made on first use, holds no containers yet (no error)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-fresh-'));
    try {
      const root = join(dir, 'state');
      const table = await ckptIn(root, ['ps']);
      expect([table.code, table.out, table.err]).toEqual([0, 'CONTAINER  NSPID  PPID  PGID  SID  THR  ABI  S  WAIT  COMMAND', '']);
      expect(await ckptIn(root, ['ps', '--json'])).toEqual({ code: 0, out: '[]', err: '' });
      expect((await ckptIn(root, ['ps', '--tree'])).code).toBe(0);
      // still nothing made: the host appears with the first run or restore
      expect(existsSync(join(root, 'hosts', 'default.host'))).toBe(false);
      // a host named on purpose must exist
      const named = await ckptIn(root, ['ps', '--host', 'other']);
      expect([named.code, named.err.split(' (looked')[0]]).toEqual([1, 'ckpt: no host named other']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
