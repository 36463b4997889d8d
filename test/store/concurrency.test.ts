/**
 * Issue 5, concurrency: 20 ckpt processes change one host at once (14 start
 * containers running a workload that never sleeps, so every step ticks the
 * clock; 6 run the scheduler). No update may be lost: every command that
 * reports success is in the final host, the logical clock is the sum of the
 * steps every successful command reports, and the host file is whole.
 */
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HostStore } from '../../src/store/host-store.js';

const BIN = new URL('../../bin/ckpt.js', import.meta.url).pathname;
const built = existsSync(new URL('../../dist/src/cli/main.js', import.meta.url));

describe.skipIf(!built)('20 commands on one host at once', () => {
  const root = mkdtempSync(join(tmpdir(), 'ckpt-concurrent-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('loses no update and corrupts nothing', async () => {
    await execa('node', [BIN, 'host', 'create', 'default', '--arch', 's390x', '--root', root]);
    const commands = Array.from({ length: 20 }, (_, i) => (i % 10 < 7 ? ['run', `c${i}`, 'images/workloads/churn.wl', '--steps', '3'] : ['step', '--all', '--steps', '5']));
    const results = await Promise.all(commands.map((argv) => execa('node', [BIN, ...argv, '--json', '--root', root], { reject: false })));
    const host = new HostStore(root).read('default');
    let steps = 0;
    results.forEach((r, i) => {
      const argv = commands[i]!;
      // each command either applied whole or reported as failed, with a reason
      if (r.exitCode !== 0) {
        expect(r.stderr, argv.join(' ')).toMatch(/^ckpt: .* \[CKPT_\w+\]$/);
        if (argv[0] === 'run') expect(host.containers.has(argv[1]!)).toBe(false);
        return;
      }
      const out = JSON.parse(r.stdout) as { steps: number; container?: string };
      steps += out.steps;
      if (argv[0] === 'run') expect(host.containers.has(argv[1]!), argv[1]).toBe(true);
    });
    expect(results.filter((r) => r.exitCode === 0).length).toBe(20);
    expect(host.containers.size).toBe(14);
    expect(host.host.clock).toBe(steps);
    expect(readdirSync(join(root, 'hosts'))).toEqual(['default.host']);
  }, 120_000);
});
