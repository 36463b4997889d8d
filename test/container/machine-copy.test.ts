/**
 * Machine.copy (through the kernel's copyHost) makes an independent machine in the same state:
 * same snapshot, same consoles, it continues the same way, and running it leaves the original as it was.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { ALL_ARCHES } from '../helpers.js';

const NESTED = readFileSync('images/workloads/nested.wl', 'utf8');
const PIDCACHE = readFileSync('images/workloads/pidcache.wl', 'utf8');
const JOBS = readFileSync('images/workloads/jobs.wl', 'utf8');

function started(arch: string, steps: number): Machine {
  const m = Machine.create('h', arch);
  m.run('a', 'nested.wl', NESTED);
  m.run('b', 'pidcache.wl', PIDCACHE);
  m.scheduler.run(steps);
  return m;
}

describe.each(ALL_ARCHES)('a copied machine on %s', (arch) => {
  it('run N, copy, run M on the copy prints what run N+M prints; the original stays at N', () => {
    for (const n of [0, 7, 23, 41]) {
      const straight = started(arch, n + 200);
      const original = started(arch, n);
      const before = original.host.snapshot();
      const copy = original.copy();
      expect(copy.host.snapshot()).toEqual(before);
      copy.scheduler.run(200);
      expect(copy.containers.get('a')!.console.text).toBe(straight.containers.get('a')!.console.text);
      expect(copy.containers.get('b')!.console.text).toBe(straight.containers.get('b')!.console.text);
      expect(copy.host.snapshot()).toEqual(straight.host.snapshot());
      expect(original.host.snapshot()).toEqual(before);
      // and the original still continues as it would have
      original.scheduler.run(200);
      expect(original.host.snapshot()).toEqual(straight.host.snapshot());
    }
  });

  it('keeps a stopped job stopped, in its group: the leader\'s exit after the copy orphans the group and SIGHUP ends the job', () => {
    const straight = Machine.create('h', arch);
    straight.run('j', 'jobs.wl', JOBS);
    straight.scheduler.run(60);
    const original = Machine.create('h', arch);
    original.run('j', 'jobs.wl', JOBS);
    original.scheduler.run(13);
    expect(original.tasksOf(original.containers.get('j')!).map((t) => t.state)).toContain('stopped');
    const copy = original.copy();
    copy.scheduler.run(47);
    expect(copy.containers.get('j')!.console.text).toBe('init reaped 2\ninit reaped 3\n');
    expect(copy.host.snapshot()).toEqual(straight.host.snapshot());
    expect(original.tasksOf(original.containers.get('j')!).map((t) => t.state)).toContain('stopped');
  });
});

describe('memory of a copy', () => {
  it('is its own: a page written in the copy is unchanged in the original, and pages shared copy-on-write stay shared', () => {
    const m = Machine.create('h', 'x86_64');
    const text = ['var m, i', 'program main', '  m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)', '  store m, 42', 'loop:', '  if i >= 3 goto done', '  fork() start idle', '  i = i + 1', '  goto loop', 'done:', '  sleep 1000000', 'end', 'program idle', '  sleep 1000000', 'end'].join('\n');
    const c = m.run('c', 'share.wl', text);
    for (let guard = 0; guard < 500 && m.tasksOf(c).filter((t) => t.blockedIn === 'nanosleep').length < 4; guard++) m.scheduler.step();
    const copy = m.copy();
    const before = m.host.snapshot();
    const shared = (mm: Machine): number => new Set(mm.tasksOf(mm.containers.get('c')!).flatMap((t) => t.mm.pageObjects().map(([, p]) => p))).size;
    expect(shared(copy)).toBe(shared(m));
    const task = copy.tasksOf(copy.containers.get('c')!)[1]!;
    const [index] = task.mm.pageContents().find(([, data]) => data.some((b) => b !== 0)) ?? [];
    expect(index).toBeDefined();
    task.mm.write(index! * 4096, new Uint8Array([7, 7, 7]));
    expect(m.host.snapshot()).toEqual(before);
    expect(copy.host.snapshot()).not.toEqual(before);
  });
});
