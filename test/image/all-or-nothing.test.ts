/** A restore made to fail at each of its steps in turn leaves the target host exactly as it was. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { dumpContainer } from '../../src/image/dump.js';
import { restoreAtomically } from '../../src/image/restore.js';

describe('all or nothing', () => {
  it('fails at every step in turn without changing the target', () => {
    const source = Machine.create('s', 's390x');
    const c = source.run('web', 'images/workloads/nested.wl', readFileSync('images/workloads/nested.wl', 'utf8'));
    source.scheduler.run(50);
    const image = dumpContainer(source, c);
    const steps: string[] = [];
    restoreAtomically(Machine.create('probe', 's390x'), image, { onStep: (s) => steps.push(s) });
    expect(steps).toEqual(['create 1', 'create 2', 'create 3', 'create 4', 'create 5', 'process groups', 'namespaces and credentials', 'last_pid', 'memory', 'registers', 'scheduler']);
    for (const failing of steps) {
      const target = Machine.create('t', 's390x');
      target.run('other', 'images/workloads/pidcache.wl', readFileSync('images/workloads/pidcache.wl', 'utf8'));
      target.scheduler.run(25);
      const before = JSON.stringify(target.host.snapshot());
      expect(() =>
        restoreAtomically(target, image, {
          onStep: (s) => {
            if (s === failing) throw new Error(`injected failure at ${s}`);
          },
        }),
      ).toThrow(`injected failure at ${failing}`);
      expect(JSON.stringify(target.host.snapshot())).toBe(before);
      expect([...target.containers.keys()]).toEqual(['other']);
    }
  });
});
