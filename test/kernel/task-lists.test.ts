/**
 * The host's task list (creation order, as init_task.tasks) and each task's
 * children list (as the children/sibling list_heads): both intrusive, so
 * these tests hold them to what the Sets they replaced did: order kept across
 * removals, a walk surviving the removal of the task it stands on and of the
 * next one, no task listed twice, reparented children appended in order.
 */
import { describe, expect, it } from 'vitest';
import { CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, Host, type Task } from '../../src/index.js';
import { libcOf } from '../../src/program/libc.js';

/** reap makes `t` exit and lets its parent collect it, which takes it off every list. */
function reap(h: Host, t: Task): void {
  libcOf(h, t).exit(0);
  expect(libcOf(h, t.parent!).wait4(t.pid.nrIn(t.parent!.activeNs), 0, 0, 0).ret).toBe(t.pid.nrIn(t.parent!.activeNs));
}

describe('the host task list', () => {
  it('lists tasks in creation order, and keeps that order when tasks leave', () => {
    const h = Host.create({ arch: 'x86_64' });
    const kids = Array.from({ length: 5 }, () => libcOf(h, h.init).fork().child!);
    expect([...h.tasks]).toEqual([h.init, ...kids]);
    reap(h, kids[2]!);
    reap(h, kids[0]!);
    expect([...h.tasks]).toEqual([h.init, kids[1], kids[3], kids[4]]);
    expect(h.tasks.size).toBe(4);
    expect(h.tasks.has(kids[0]!)).toBe(false);
    const late = libcOf(h, h.init).fork().child!;
    expect([...h.tasks]).toEqual([h.init, kids[1], kids[3], kids[4], late]);
  });

  it('toArray lists what a walk lists, after removals at the head\'s side, inside and at the tail', () => {
    const h = Host.create({ arch: 'x86_64' });
    const kids = Array.from({ length: 5 }, () => libcOf(h, h.init).fork().child!);
    expect(h.tasks.toArray()).toEqual([h.init, ...kids]);
    for (const k of [kids[0]!, kids[2]!, kids[4]!]) reap(h, k);
    expect(h.tasks.toArray()).toEqual([h.init, kids[1], kids[3]]);
    const late = libcOf(h, h.init).fork().child!;
    expect(h.tasks.toArray()).toEqual([...h.tasks]);
    expect(h.tasks.toArray()).toEqual([h.init, kids[1], kids[3], late]);
  });

  it('a walk goes on past the task it stands on and the next one being removed', () => {
    const h = Host.create({ arch: 'x86_64' });
    const kids = Array.from({ length: 5 }, () => libcOf(h, h.init).fork().child!);
    const seen: Task[] = [];
    for (const t of h.tasks) {
      seen.push(t);
      if (t === kids[1]) {
        reap(h, kids[1]!);
        reap(h, kids[2]!);
      }
    }
    expect(seen).toEqual([h.init, kids[0], kids[1], kids[3], kids[4]]);
    expect([...h.tasks]).toEqual([h.init, kids[0], kids[3], kids[4]]);
  });

  it('a walk reaches a task created during it', () => {
    const h = Host.create({ arch: 'x86_64' });
    const a = libcOf(h, h.init).fork().child!;
    const seen: Task[] = [];
    let late: Task | null = null;
    for (const t of h.tasks) {
      seen.push(t);
      if (t === a) late = libcOf(h, h.init).fork().child!;
    }
    expect(seen).toEqual([h.init, a, late]);
  });

  it('adding a listed task again changes nothing', () => {
    const h = Host.create({ arch: 'x86_64' });
    const a = libcOf(h, h.init).fork().child!;
    h.tasks.add(a);
    h.tasks.add(h.init);
    expect([...h.tasks]).toEqual([h.init, a]);
    expect(h.tasks.size).toBe(2);
  });
});

describe('a task\'s children list', () => {
  it('holds children oldest first; reparented orphans join the reaper\'s list at the end, in their order (forget_original_parent)', () => {
    const h = Host.create({ arch: 'x86_64' });
    const a = libcOf(h, h.init).fork().child!;
    const b = libcOf(h, h.init).fork().child!;
    const grandkids = Array.from({ length: 3 }, () => libcOf(h, a).fork().child!);
    expect([...a.children()]).toEqual(grandkids);
    expect(a.childCount).toBe(3);
    reap(h, a);
    expect([...h.init.children()]).toEqual([b, ...grandkids]);
    expect(h.init.childCount).toBe(4);
    expect(grandkids.every((g) => g.parent === h.init)).toBe(true);
    reap(h, grandkids[1]!);
    expect([...h.init.children()]).toEqual([b, grandkids[0], grandkids[2]]);
  });

  it('orderChildren puts the named children first in the given order, the others after them in theirs', () => {
    const h = Host.create({ arch: 'x86_64' });
    const k = Array.from({ length: 5 }, () => libcOf(h, h.init).fork().child!);
    const stranger = libcOf(h, k[0]!).fork().child!;
    h.init.orderChildren([k[3]!, stranger, k[1]!]);
    expect([...h.init.children()]).toEqual([k[3], k[1], k[0], k[2], k[4]]);
    expect(h.init.childCount).toBe(5);
    expect([...k[0]!.children()]).toEqual([stranger]);
  });

  it('a thread is on no children list, and removing it from its parent\'s leaves the list alone', () => {
    const h = Host.create({ arch: 'x86_64' });
    const a = libcOf(h, h.init).fork().child!;
    const thread = libcOf(h, a).clone(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0, 0, 0, 0).child!;
    expect(thread.parent).toBe(h.init);
    expect([...h.init.children()]).toEqual([a]);
    h.init.removeChild(thread);
    expect([...h.init.children()]).toEqual([a]);
    expect(h.init.childCount).toBe(1);
  });
});
