/** The installed binary, spawned as a user would. Needs the build (npm test runs it first). */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const BIN = new URL('../../bin/ckpt.js', import.meta.url).pathname;
const built = existsSync(new URL('../../dist/src/cli/main.js', import.meta.url));

describe.skipIf(!built)('bin/ckpt', () => {
  it('runs the demo and exits 0', async () => {
    const r = await execa('node', [BIN, 'demo', '--json']);
    expect(r.exitCode).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.identical).toBe(true);
    expect([d.from, d.to]).toEqual(['i386', 'x86_64']);
  }, 30_000);

  it('exits 2 on bad usage with one line on stderr', async () => {
    const r = await execa('node', [BIN, 'nope'], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('ckpt: unknown command "nope"');
  }, 30_000);
});

it('the build exists when the suite runs (npm test builds first)', () => {
  expect(built, 'dist/ is missing: run npm run build (npm test does it)').toBe(true);
});

describe.skipIf(!built)('bin/ckpt with a state directory', () => {
  it('two ckpt run processes started at once against one host both land', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const root = mkdtempSync(join(tmpdir(), 'ckpt-e2e-'));
    try {
      await execa('node', [BIN, 'host', 'create', 'shared', '--arch', 'ppc64', '--root', root]);
      const runs = ['a', 'b', 'c', 'd'].map((name) => execa('node', [BIN, 'run', name, 'images/workloads/pidcache.wl', '--host', 'shared', '--steps', '5', '--root', root]));
      const results = await Promise.all(runs);
      expect(results.map((r) => r.exitCode)).toEqual([0, 0, 0, 0]);
      const show = JSON.parse((await execa('node', [BIN, 'host', 'show', 'shared', '--json', '--root', root])).stdout);
      expect(show.containers.map((c: { name: string }) => c.name).sort()).toEqual(['a', 'b', 'c', 'd']);
      const ps = JSON.parse((await execa('node', [BIN, 'ps', '--host', 'shared', '--json', '--root', root])).stdout);
      // every container's init is pid 1 in its own namespace, and the host-level pids are all distinct
      const inits = ps.filter((r: { nspids: number[] }) => r.nspids.length === 2 && r.nspids[1] === 1);
      expect(inits.length).toBe(4);
      expect(new Set(ps.map((r: { nspids: number[] }) => r.nspids[0])).size).toBe(ps.length);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});
