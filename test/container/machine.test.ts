/**
 * ckpt ps shows each task under the innermost container holding it: a
 * container restored --into another sits inside it. Machine.ownTasks finds
 * that in one pass; its answer must be the definition's: for each
 * container, its tasks (its namespace or below) not held by a deeper one,
 * in pid order.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { dumpContainer } from '../../src/image/dump.js';
import { restoreContainer } from '../../src/image/restore.js';
import type { Task } from '../../src/kernel/task.js';

const NESTED = readFileSync('images/workloads/nested.wl', 'utf8');
const THREADS = readFileSync('images/workloads/threads.wl', 'utf8');

describe('Machine.ownTasks', () => {
  it('gives each task to the innermost container holding it, in pid order, as the definition does', () => {
    const source = Machine.create('src', 'x86_64');
    source.run('web', 'nested.wl', NESTED);
    source.scheduler.run(40);
    const m = Machine.create('m', 'x86_64');
    m.run('pod', 'threads.wl', THREADS);
    m.run('side', 'nested.wl', NESTED);
    m.scheduler.run(60);
    restoreContainer(m, dumpContainer(source, source.containers.get('web')!), { into: 'pod', via: 'clone3' });
    m.scheduler.run(30);

    const holds = (c: { init: Task }, t: Task) => c.init.pid.ns.isAncestorOf(t.pid.ns);
    const innermost = (t: Task) =>
      [...m.containers.values()].filter((c) => holds(c, t)).reduce<{ init: Task } | undefined>((best, c) => (!best || c.init.pid.ns.level > best.init.pid.ns.level ? c : best), undefined);
    const own = m.ownTasks();
    expect([...own.keys()].map((c) => c.name)).toEqual(['pod', 'side', 'web']);
    for (const c of m.containers.values()) {
      const want = m.tasksOf(c).filter((t) => innermost(t) === c);
      expect(own.get(c)).toEqual(want);
    }
    // the restored container is inside pod, so pod keeps only its own tasks
    expect(own.get(m.containers.get('web')!)!.length).toBeGreaterThan(1);
    expect(own.get(m.containers.get('pod')!)!.every((t) => !m.containers.get('web')!.init.pid.ns.isAncestorOf(t.pid.ns))).toBe(true);
  });
});
