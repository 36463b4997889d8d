/**
 * Issue 5, concurrency: 20 ckpt processes change one host at once (11 start
 * containers running a workload that never sleeps, so every step ticks the
 * clock; 4 run the scheduler; 3 dump a container; 2 restore an image). No
 * update may be lost: every command that reports success is in the final
 * host, the logical clock grew by the sum of the steps every successful
 * command reports, every dump is a valid image, and the host file is whole.
 */
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { untar } from '../../src/image/archive.js';
import { decodeImage } from '../../src/image/image-codec.js';
import { HostStore } from '../../src/store/host-store.js';

const BIN = new URL('../../bin/ckpt.js', import.meta.url).pathname;
const built = existsSync(new URL('../../dist/src/cli/main.js', import.meta.url));

describe.skipIf(!built)('20 commands on one host at once', () => {
  const root = mkdtempSync(join(tmpdir(), 'ckpt-concurrent-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('loses no update and corrupts nothing', async () => {
    const ckpt = (...argv: string[]) => execa('node', [BIN, ...argv, '--json', '--root', root], { reject: false });
    await ckpt('host', 'create', 'default', '--arch', 's390x');
    // a container to dump while the others change the host, and an image to restore meanwhile
    await ckpt('run', 'base', 'images/workloads/churn.wl', '--steps', '5');
    await ckpt('dump', 'base', '-o', join(root, 'base.tar'), '--leave-running');
    const before = (await ckpt('host', 'show', 'default')).stdout;
    const clock0 = (JSON.parse(before) as { clock: number }).clock;
    const commands: string[][] = [
      ...Array.from({ length: 11 }, (_, i) => ['run', `c${i}`, 'images/workloads/churn.wl', '--steps', '3']),
      ...Array.from({ length: 4 }, () => ['step', '--all', '--steps', '5']),
      ...Array.from({ length: 3 }, (_, i) => ['dump', 'base', '-o', join(root, `d${i}.tar`), '--leave-running']),
      ...Array.from({ length: 2 }, (_, i) => ['restore', join(root, 'base.tar'), '--name', `r${i}`]),
    ];
    const results = await Promise.all(commands.map((argv) => ckpt(...argv)));
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
      const out = JSON.parse(r.stdout) as { steps?: number; container?: string };
      steps += out.steps ?? 0;
      if (argv[0] === 'run') expect(host.containers.has(argv[1]!), argv[1]).toBe(true);
      if (argv[0] === 'restore') expect(host.containers.has(argv[3]!), argv[3]).toBe(true);
      if (argv[0] === 'dump') expect(decodeImage(untar(new Uint8Array(readFileSync(argv[3]!))), null).tasks.length).toBeGreaterThan(0);
    });
    expect(results.map((r) => r.exitCode)).toEqual(commands.map(() => 0));
    expect([...host.containers.keys()].sort()).toEqual(['base', ...commands.filter((c) => c[0] === 'run').map((c) => c[1]!), 'r0', 'r1'].sort());
    // the workload never sleeps, so every step ticks the clock: no step was lost
    expect(host.host.clock - clock0).toBe(steps);
    // the host file and its parts directory, which holds the files of each part the host file names and nothing else
    expect(readdirSync(join(root, 'hosts'))).toEqual(['default.host', 'default.parts']);
    const named = new HostStore(root).summary('default');
    expect(named.containers.map((c) => c.name).sort()).toEqual([...host.containers.keys()].sort());
    expect(readdirSync(join(root, 'hosts', 'default.parts')).length).toBe(2 * host.containers.size);
  }, 120_000);
});
