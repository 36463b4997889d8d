/**
 * A restore plan is data: for small images, the steps are exactly those that rebuild the tree
 * (who creates whom, with which flags and pids per level, the setsid and setpgid calls, the
 * placeholders, the zombies' exits, the children's order), and planning changes nothing.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLONE_NEWPID, CLONE_PARENT, CLONE_THREAD, CLONE_SIGHAND, CLONE_VM } from '../../src/abi/clone-flags.js';
import { SIGCHLD } from '../../src/abi/signals.js';
import { Machine } from '../../src/container/machine.js';
import { dumpContainer } from '../../src/image/dump.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { planFor } from '../../src/image/restore.js';
import { RestoreError } from '../../src/image/restore-error.js';
import { planRestore, RESTORER, type CloneStep } from '../../src/image/restore-plan.js';

function imageOf(text: string, steps: number): ContainerImage {
  const m = Machine.create('s', 'x86_64');
  const c = m.run('box', 'box.wl', text);
  m.scheduler.run(steps);
  return dumpContainer(m, c);
}

/** clone builds the expected clone step of image task `task` (placeholders pass null). */
function clone(actor: number, creator: number, task: number | null, flags: number, exitSignal: number, childrenIn: CloneStep['childrenIn'], pids: number[], standsFor: number[] | null = null): CloneStep {
  return { do: 'clone', actor, creator, task, standsFor, flags, exitSignal, childrenIn, pids };
}

const LEADER_EXITED = ['var a, b', 'program main', '  a = fork() start daemon', '  sleep 100000000', 'end', 'program daemon', '  a = setsid()', '  b = fork() start kid', '  exit(3)', 'end', 'program kid', '  sleep 100000000', 'end'].join('\n');
const LEADER_REAPED = LEADER_EXITED.replace("  a = fork() start daemon\n", "  a = fork() start daemon\n  a = wait4(-1, 0, 0, 0)\n");

describe('the plan of a session leader that exited: a zombie that forks its session\'s member', () => {
  const image = imageOf(LEADER_EXITED, 8);
  it('is the image expected (init 1; the leader 2, a zombie; its child 3 in session 2)', () => {
    expect(image.tasks.map((t) => [t.numbers, t.parent, t.sid, t.exited])).toEqual([[[1], -1, null, false], [[2], 0, [2], true], [[3], 0, [2], false]]);
  });

  it('with eclone: pids oldest level first, 0 where the kernel picks; the leader makes its session before it forks the member, with CLONE_PARENT', () => {
    const plan = planFor(Machine.create('t', 'x86_64'), image, { via: 'eclone' });
    expect(plan.create).toEqual([
      clone(0, RESTORER, 0, CLONE_NEWPID, SIGCHLD, 'own', [0]),
      clone(1, 0, 1, 0, SIGCHLD, { ns: 0 }, [0, 2]),
      { do: 'setsid', actor: 1 },
      clone(2, 1, 2, CLONE_PARENT, SIGCHLD, { ns: 0 }, [0, 3]),
    ]);
    expect(plan.groups).toEqual([{ do: 'setpgid', actor: 2, pgid: 2 }]);
    expect(plan.exits).toEqual([{ do: 'exit', task: 1 }]);
    expect(plan.order).toEqual([{ do: 'order', parent: 0, children: [1, 2] }]);
    expect(plan.helpers).toBe(0);
  });

  it('with clone3: set_tid innermost first, the new namespace\'s own level named 1, no exit signal with CLONE_PARENT', () => {
    const plan = planFor(Machine.create('t', 'x86_64'), image, { via: 'clone3' });
    expect(plan.create).toEqual([
      clone(0, RESTORER, 0, CLONE_NEWPID, SIGCHLD, 'own', [1]),
      clone(1, 0, 1, 0, SIGCHLD, { ns: 0 }, [2]),
      { do: 'setsid', actor: 1 },
      clone(2, 1, 2, CLONE_PARENT, 0, { ns: 0 }, [3]),
    ]);
  });

  it('with clone3 and the host pids: set_tid goes on outward to the host level', () => {
    const outer = image.tasks.map((t) => t.outer[0]!);
    const plan = planFor(Machine.create('t', 'x86_64'), image, { via: 'clone3', hostPids: true });
    expect(plan.create.filter((s) => s.do === 'clone').map((s) => (s as CloneStep).pids)).toEqual([[1, outer[0]], [2, outer[1]], [3, outer[2]]]);
  });
});

describe('the plan of a session whose leader was reaped', () => {
  const image = imageOf(LEADER_REAPED, 12);
  it('makes a placeholder with the leader\'s pid, which makes the session, forks the member and leaves, reaped by its creator', () => {
    expect(image.tasks.map((t) => [t.numbers, t.sid])).toEqual([[[1], null], [[3], [2]]]);
    const plan = planFor(Machine.create('t', 'x86_64'), image, { via: 'eclone' });
    const placeholder = image.tasks.length; // the first actor beyond the image's tasks
    expect(plan.helpers).toBe(1);
    expect(plan.create).toEqual([
      clone(0, RESTORER, 0, CLONE_NEWPID, SIGCHLD, 'own', [0]),
      clone(placeholder, 0, null, 0, SIGCHLD, 'own', [0, 2], [2]),
      { do: 'setsid', actor: placeholder },
      clone(1, placeholder, 1, CLONE_PARENT, SIGCHLD, { ns: 0 }, [0, 3]),
    ]);
    expect(plan.groups).toEqual([
      { do: 'setpgid', actor: 1, pgid: 2 },
      { do: 'leave', actor: placeholder, reaper: 0 },
    ]);
    expect(plan.exits).toEqual([]);
  });
});

describe('the plan of nested namespaces', () => {
  const image = imageOf(readFileSync('images/workloads/nested.wl', 'utf8'), 30);
  it('makes each namespace\'s init with CLONE_NEWPID from its parent namespace, naming every level the creator can', () => {
    expect(image.tasks.map((t) => [t.numbers, t.parent, t.ns])).toEqual([[[1], -1, 0], [[2, 1], 0, 1], [[3, 2, 1], 1, 2], [[4], 0, 0], [[5, 3], 1, 1]]);
    const eclone = planFor(Machine.create('t', 'x86_64'), image, { via: 'eclone' });
    expect(eclone.create).toEqual([
      clone(0, RESTORER, 0, CLONE_NEWPID, SIGCHLD, 'own', [0]),
      clone(1, 0, 1, CLONE_NEWPID, SIGCHLD, { ns: 0 }, [0, 2]),
      clone(2, 1, 2, CLONE_NEWPID, SIGCHLD, { ns: 1 }, [0, 3, 2]),
      clone(3, 0, 3, 0, SIGCHLD, { ns: 0 }, [0, 4]),
      clone(4, 1, 4, 0, SIGCHLD, { ns: 1 }, [0, 5, 3]),
    ]);
    const clone3 = planFor(Machine.create('t', 'x86_64'), image, { via: 'clone3' });
    expect(clone3.create.map((s) => (s as CloneStep).pids)).toEqual([[1], [1, 2], [1, 2, 3], [4], [3, 5]]);
    expect(eclone.order).toEqual([
      { do: 'order', parent: 0, children: [1, 3] },
      { do: 'order', parent: 1, children: [2, 4] },
    ]);
  });
});

describe('the plan of threads', () => {
  it('makes a thread from its leader with CLONE_THREAD | CLONE_SIGHAND | CLONE_VM in the leader\'s own namespace', () => {
    const image = imageOf(readFileSync('images/workloads/threads.wl', 'utf8'), 20);
    const plan = planFor(Machine.create('t', 'x86_64'), image, { via: 'clone3' });
    const threads = plan.create.filter((s): s is CloneStep => s.do === 'clone' && s.task !== null && image.tasks[s.task]!.leader !== s.task);
    expect(threads.length).toBeGreaterThan(0);
    for (const s of threads) {
      expect(s.creator).toBe(image.tasks[s.task!]!.leader);
      expect(s.flags).toBe(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM);
      expect(s.exitSignal).toBe(0);
      expect(s.childrenIn).toBe('own');
    }
  });
});

describe('planning', () => {
  it('changes nothing and gives the same plan twice', () => {
    const image = imageOf(LEADER_REAPED, 12);
    const target = Machine.create('t', 'x86_64');
    const before = target.host.snapshot();
    expect(planFor(target, image)).toEqual(planFor(target, image));
    expect(target.host.snapshot()).toEqual(before);
  });

  it('refuses a layout it cannot rebuild with CKPT_UNSUPPORTED: a task before its parent', () => {
    const image = imageOf(LEADER_EXITED, 8);
    const swapped = { ...image, tasks: image.tasks.map((t, i) => (i === 1 ? { ...t, parent: 2 } : t)) };
    const target = { aboveLevel: 0, into: false, pidMax: 32768, taken: () => false };
    expect(() => planRestore(swapped, target)).toThrow(RestoreError);
    expect(() => planRestore(swapped, target)).toThrow(/task 2 comes before its parent in the image/);
  });

  it('gives the helper inside an enclosing container the highest pids free at every level that no task needs', () => {
    const image = imageOf(LEADER_EXITED, 8);
    const taken = new Set(['1:999', '0:999', '0:998']);
    const plan = planRestore(image, { aboveLevel: 1, into: true, pidMax: 1000, taken: (level, nr) => taken.has(`${level}:${nr}`) });
    expect(plan.create[0]).toEqual({ do: 'enter', actor: image.tasks.length, setTid: [998, 997] });
    expect(plan.create[1]).toMatchObject({ do: 'clone', creator: image.tasks.length, task: 0 });
    expect(plan.create[2]).toEqual({ do: 'leave', actor: image.tasks.length, reaper: RESTORER });
  });
});
