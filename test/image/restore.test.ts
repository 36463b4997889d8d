/**
 * Transparency: run N steps, dump, restore on a fresh host, run M steps
 * prints exactly what running N+M steps prints, and the task tree (pids at
 * every level, process groups, sessions, threads, states) is the same.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { dumpContainer } from '../../src/image/dump.js';
import { preflight, restoreAtomically } from '../../src/image/restore.js';
import { RestoreError } from '../../src/image/restore-error.js';
import { CLONE_PIDFD } from '../../src/abi/clone-flags.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/abi/mman.js';
import { SIGCHLD } from '../../src/abi/signals.js';
import { NS_LAST_PID_PATH, O_RDWR } from '../../src/kernel/files.js';
import { containerTree, hostTree, throughBytes } from './container-tree.js';
import { ALL_ARCHES } from '../helpers.js';
import type { Task } from '../../src/kernel/task.js';
import type { KernelName } from '../../src/kernel/personality.js';
import { libcOf } from '../../src/program/libc.js';

const WORKLOADS = ['nested', 'threads', 'pidcache', 'churn', 'jobs'].map((n) => [n, readFileSync(`images/workloads/${n}.wl`, 'utf8')] as const);

const tree = containerTree;

function start(arch: string, name: string, text: string, pidMax?: number, kernel?: KernelName): Machine {
  const m = Machine.create('h', arch, pidMax, kernel);
  m.run('c', `${name}.wl`, text);
  return m;
}

/**
 * restoresMidRun runs `text` for n steps, lets `inspect` look at the tree, restores the container
 * through image bytes and runs m more steps: the tree and the console must match a run that was
 * never interrupted. Returns the console.
 */
function restoresMidRun(arch: string, name: string, text: string, n: number, m: number, via: 'eclone' | 'clone3', inspect: (before: ReturnType<typeof tree>) => void): string {
  const straight = start(arch, name, text);
  straight.scheduler.run(n + m);
  const source = start(arch, name, text);
  source.scheduler.run(n);
  const before = tree(source, 'c');
  inspect(before);
  const { machine } = restoreAtomically(Machine.create('t', arch), throughBytes(dumpContainer(source, source.containers.get('c')!)), { via });
  expect(tree(machine, 'c')).toEqual(before);
  machine.scheduler.run(m);
  const console = machine.containers.get('c')!.console.text;
  expect(console).toBe(straight.containers.get('c')!.console.text);
  return console;
}

/** itRestoresMidRun: through eclone and through clone3, restoresMidRun on each of `arches`, and the console then shows each of `shows`. */
function itRestoresMidRun(title: string, arches: readonly string[], run: { name: string; text: string; n: number; m: number }, inspect: (before: ReturnType<typeof tree>) => void, shows: readonly string[]): void {
  for (const via of ['eclone', 'clone3'] as const) {
    it(`${title} (${via})`, () => {
      for (const arch of arches) {
        const console = restoresMidRun(arch, run.name, run.text, run.n, run.m, via, inspect);
        for (const line of shows) expect(console).toContain(line);
      }
    });
  }
}

describe.each(ALL_ARCHES)('dump and restore on %s', (arch) => {
  for (const [name, text] of WORKLOADS) {
    it(`${name}: run N, dump, restore, run M == run N+M, at several checkpoint points`, () => {
      const pidMax = name === 'churn' ? 400 : undefined;
      for (const n of [0, 3, 11, 29, 57, 120]) {
        const m = 150;
        const straight = start(arch, name, text, pidMax);
        straight.scheduler.run(n + m);
        const source = start(arch, name, text, pidMax);
        source.scheduler.run(n);
        const image = dumpContainer(source, source.containers.get('c')!);
        const target = Machine.create('t', arch, pidMax);
        target.host.clock = 1000 + n; // a host that has been up for a while: sleeps are relative
        const { machine } = restoreAtomically(target, image, { hostPids: true });
        expect(tree(machine, 'c')).toEqual(tree(source, 'c'));
        expect(hostTree(machine, 'c')).toEqual(hostTree(source, 'c'));
        machine.scheduler.run(m);
        expect(machine.containers.get('c')!.console.text).toBe(straight.containers.get('c')!.console.text);
        expect(tree(machine, 'c')).toEqual(tree(straight, 'c'));
      }
    });
  }
});

describe('what a restore leaves in memory', () => {
  // The restorer's own marshalling (an argument window its tasks inherit) must leave no trace:
  // a dump of the restored container holds exactly the address spaces and pages of the image.
  for (const via of ['eclone', 'clone3'] as const) {
    it(`every task has exactly the image's mappings and pages, none of the restorer's, on every ABI (${via})`, () => {
      for (const arch of ALL_ARCHES) {
        for (const [name, text] of WORKLOADS) {
          const source = start(arch, name, text, name === 'churn' ? 400 : undefined);
          source.scheduler.run(40);
          const image = dumpContainer(source, source.containers.get('c')!);
          const target = Machine.create('t', arch, name === 'churn' ? 400 : undefined);
          const hostMappings = target.host.init.mm.mappings();
          const { machine } = restoreAtomically(target, image, { via });
          const again = dumpContainer(machine, machine.containers.get('c')!);
          expect(again.mms, `${arch} ${name}`).toEqual(image.mms);
          expect(again.pages, `${arch} ${name}`).toEqual(image.pages);
          expect(machine.host.init.mm.mappings(), `${arch} ${name}`).toEqual(hostMappings);
        }
      }
    });
  }
});

describe('restore refuses and changes nothing', () => {
  it('a host pid collision with --host-pids is reported and the target is untouched', () => {
    const source = start('x86_64', 'nested', WORKLOADS[0]![1]);
    source.scheduler.run(40);
    const image = dumpContainer(source, source.containers.get('c')!);
    const target = Machine.create('t', 'x86_64');
    target.run('other', 'pidcache.wl', WORKLOADS[2]![1]);
    target.scheduler.run(30);
    const before = JSON.stringify(target.host.snapshot());
    const reasons = preflight(target, image, { hostPids: true }).map((p) => p.message);
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons[0]).toMatch(/^host pid \d+ \(task [\d/]+ of the image\) is held by .* on host t: eclone would fail with EBUSY$/);
    expect(() => restoreAtomically(target, image, { hostPids: true })).toThrow(/is held by .* on host t/);
    expect(JSON.stringify(target.host.snapshot())).toBe(before);
    // without --host-pids the levels above the container are chosen by the target
    const { machine } = restoreAtomically(target, image, {});
    expect(tree(machine, 'c')).toEqual(tree(source, 'c'));
    expect(hostTree(machine, 'c').map((n) => n[0])).not.toEqual(hostTree(source, 'c').map((n) => n[0]));
  });

  it('a different architecture is refused naming both', () => {
    const source = start('s390x', 'nested', WORKLOADS[0]![1]);
    const image = dumpContainer(source, source.containers.get('c')!);
    expect(preflight(Machine.create('t', 'ppc64'), image)[0]?.message).toMatch(/^cannot restore a s390x image on host t \(ppc64\): s390x and ppc64 are different instruction sets/);
  });
});

describe('restore onto a compat host', () => {
  const pairs: Array<[string, string]> = [
    ['i386', 'x86_64'],
    ['s390', 's390x'],
    ['ppc', 'ppc64'],
  ];
  for (const [from, to] of pairs) {
    it(`${from} -> ${to}: the workload keeps running as compat tasks and prints what it would have printed`, () => {
      for (const [name, text] of WORKLOADS.slice(0, 3)) {
        const straight = start(from, name, text);
        straight.scheduler.run(170);
        const source = start(from, name, text);
        source.scheduler.run(50);
        const image = dumpContainer(source, source.containers.get('c')!);
        const { machine } = restoreAtomically(Machine.create('t', to), image, { hostPids: true });
        expect(machine.tasksOf(machine.containers.get('c')!).every((t) => t.abi.name === from)).toBe(true);
        machine.scheduler.run(120);
        expect(machine.containers.get('c')!.console.text).toBe(straight.containers.get('c')!.console.text);
        expect(tree(machine, 'c')).toEqual(tree(straight, 'c'));
      }
    });
  }

  it('remaps i386 selectors for ia32 emulation', () => {
    const source = start('i386', 'nested', WORKLOADS[0]![1]);
    source.scheduler.run(20);
    const { machine } = restoreAtomically(Machine.create('t', 'x86_64'), dumpContainer(source, source.containers.get('c')!));
    const init = machine.containers.get('c')!.init;
    expect([init.dv.getUint32(52, true), init.dv.getUint32(64, true)]).toEqual([0x23, 0x2b]);
  });

  it('refuses every other pair, naming both architectures', () => {
    const source = start('x86_64', 'nested', WORKLOADS[0]![1]);
    const image = dumpContainer(source, source.containers.get('c')!);
    expect(preflight(Machine.create('t', 'i386'), image)).toEqual([
      { code: 'CKPT_ARCH_MISMATCH', message: 'cannot restore a x86_64 image on host t (i386): x86_64 is a 64-bit ABI and i386 is 32-bit: registers, addresses and the 64-bit mode cannot be represented' },
    ]);
  });
});

describe('open files', () => {
  it('ns_last_pid with its position and pidfds (of a live task and of a reaped one) come back', () => {
    const source = start('ppc64', 'nested', WORKLOADS[0]![1]);
    source.scheduler.run(30);
    const init = source.containers.get('c')!.init;
    const l = libcOf(source.host, init);
    const page = l.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ret;
    const nsLastPid = l.open(NS_LAST_PID_PATH, O_RDWR, 0).ret;
    expect(l.write(nsLastPid, '700', 3).ret).toBe(3);
    const live = l.clone3({ flags: CLONE_PIDFD, pidfd: page, exit_signal: SIGCHLD }, 88).child!;
    const gone = l.clone3({ flags: CLONE_PIDFD, pidfd: page + 8, exit_signal: SIGCHLD }, 88).child!;
    libcOf(source.host, gone).exit(0);
    expect([live.pid.nrIn(init.pid.ns), l.wait4(gone.pid.nrIn(init.pid.ns), 0, 0, 0).ret]).toEqual([701, 702]); // ns_last_pid was written
    const describeFiles = (m: Machine) =>
      m.containers.get('c')!.init.group.files.entries().map(([fd, f]) => [fd, f.kind, f.flags, f.kind === 'ns_last_pid' ? f.pos : f.kind === 'pidfd' ? (f.pid.task ? f.pid.task.nspids.slice(1) : 'reaped') : '']);
    const image = throughBytes(dumpContainer(source, source.containers.get('c')!));
    const { machine } = restoreAtomically(Machine.create('t', 'ppc64'), image);
    expect(describeFiles(machine)).toEqual(describeFiles(source));
    expect(describeFiles(machine).map((f) => f[1])).toEqual(['console', 'console', 'console', 'ns_last_pid', 'pidfd', 'pidfd']);
  });
});

describe('a container that sat deeper on its source', () => {
  it('comes back directly under the target host with identical pids at its own levels; host pids cannot be kept', () => {
    const source = start('x86_64', 'nested', WORKLOADS[0]![1]);
    source.scheduler.run(40);
    const image = dumpContainer(source, source.containers.get('c')!);
    // as if it had run inside another container: one more level above it
    const deeper = { ...image, base: 2, tasks: image.tasks.map((t) => ({ ...t, outer: [...t.outer, 7] })) };
    const { machine } = restoreAtomically(Machine.create('t', 'x86_64'), deeper);
    expect(tree(machine, 'c')).toEqual(tree(source, 'c'));
    expect(preflight(Machine.create('t', 'x86_64'), deeper, { hostPids: true }).map((p) => p.code)).toEqual(['CKPT_UNSUPPORTED']);
  });
});

describe('restoring inside a running container (--into)', () => {
  const IDLE = 'program main\n  sleep 100000000\nend\n';
  for (const [name, text] of WORKLOADS) {
    it(`${name}: run N, dump, restore inside box, run M == run N+M; dumped there and restored inside another box with every pid kept (2.6.32, eclone then clone3)`, () => {
      const pidMax = name === 'churn' ? 400 : undefined;
      const n = 37;
      const m = 150;
      const straightAt = (steps: number): string => {
        const straight = start('x86_64', name, text, pidMax, '2.6.32');
        straight.scheduler.run(steps);
        return straight.containers.get('c')!.console.text;
      };
      const source = start('x86_64', name, text, pidMax, '2.6.32');
      source.scheduler.run(n);
      const target = Machine.create('t', 'x86_64', pidMax, '2.6.32');
      target.run('box', 'idle.wl', IDLE);
      target.scheduler.run(1); // box's init goes to sleep
      const { machine } = restoreAtomically(target, throughBytes(dumpContainer(source, source.containers.get('c')!)), { into: 'box' });
      expect(tree(machine, 'c')).toEqual(tree(source, 'c'));
      const ctr = machine.containers.get('c')!;
      expect(ctr.init.pid.level).toBe(2);
      expect(ctr.init.parent).toBe(machine.containers.get('box')!.init);
      // only c's tasks run, as in the straight run (box would otherwise take steps of the round)
      const inC = (mc: Machine) => (t: Task) => mc.containers.get('c')!.init.pid.ns.isAncestorOf(t.pid.ns);
      machine.scheduler.run(m, inC(machine));
      expect(ctr.console.text).toBe(straightAt(n + m));
      // Now from inside box to inside another host's box, with the pids at the host's and box's levels kept.
      const again = Machine.create('u', 'x86_64', pidMax, '2.6.32');
      again.run('box', 'idle.wl', IDLE);
      again.scheduler.run(1);
      const image = throughBytes(dumpContainer(machine, ctr));
      expect(image.base).toBe(2);
      const back = restoreAtomically(again, image, { into: 'box', hostPids: true, via: 'clone3' }).machine;
      expect(hostTree(back, 'c')).toEqual(hostTree(machine, 'c'));
      expect(tree(back, 'c')).toEqual(tree(machine, 'c'));
      back.scheduler.run(m, inC(back));
      expect(back.containers.get('c')!.console.text).toBe(straightAt(n + 2 * m));
    });

    it(`${name}: the same on mainline, through clone3 from box's user namespace; eclone and --host-pids are refused up front`, () => {
      const pidMax = name === 'churn' ? 400 : undefined;
      const n = 37;
      const m = 150;
      const straightAt = (steps: number): string => {
        const straight = start('x86_64', name, text, pidMax);
        straight.scheduler.run(steps);
        return straight.containers.get('c')!.console.text;
      };
      const source = start('x86_64', name, text, pidMax);
      source.scheduler.run(n);
      const target = Machine.create('t', 'x86_64', pidMax);
      target.run('box', 'idle.wl', IDLE);
      target.scheduler.run(1);
      const first = throughBytes(dumpContainer(source, source.containers.get('c')!));
      // create_pid_namespace (v6.12): box's pid namespace is owned by box's user namespace
      expect(preflight(target, first, { into: 'box' }).map((p) => p.code)).toEqual(['CKPT_UNSUPPORTED']);
      const { machine } = restoreAtomically(target, first, { into: 'box', via: 'clone3' });
      expect(tree(machine, 'c')).toEqual(tree(source, 'c'));
      const ctr = machine.containers.get('c')!;
      expect(ctr.init.pid.level).toBe(2);
      expect(ctr.init.parent).toBe(machine.containers.get('box')!.init);
      const inC = (mc: Machine) => (t: Task) => mc.containers.get('c')!.init.pid.ns.isAncestorOf(t.pid.ns);
      machine.scheduler.run(m, inC(machine));
      expect(ctr.console.text).toBe(straightAt(n + m));
      const again = Machine.create('u', 'x86_64', pidMax);
      again.run('box', 'idle.wl', IDLE);
      again.scheduler.run(1);
      const image = throughBytes(dumpContainer(machine, ctr));
      expect(preflight(again, image, { into: 'box', hostPids: true, via: 'clone3' }).map((p) => p.code)).toEqual(['CKPT_UNSUPPORTED']);
      const back = restoreAtomically(again, image, { into: 'box', via: 'clone3' }).machine;
      expect(tree(back, 'c')).toEqual(tree(machine, 'c'));
      back.scheduler.run(m, inC(back));
      expect(back.containers.get('c')!.console.text).toBe(straightAt(n + 2 * m));
    });
  }
});

describe('sessions and groups whose leaders have gone', () => {
  const text = [
    'var a, b',
    'program main',
    '  a = fork() start groupleader',
    '  a = fork() start sessionleader',
    '  a = wait4(-1, 0, 0, 0)',
    '  a = wait4(-1, 0, 0, 0)',
    '  print "both leaders reaped\\n"',
    '  sleep 100000000',
    'end',
    'program groupleader',
    '  a = setpgid(0, 0)',
    '  b = fork() start member',
    '  exit(0)',
    'end',
    'program sessionleader',
    '  a = setsid()',
    '  b = fork() start member',
    '  b = fork() start member',
    '  exit(0)',
    'end',
    'program member',
    '  sleep 20',
    '  a = getpgid(0)',
    '  b = getsid(0)',
    '  print "member in group %d, session %d\\n", a, b',
    '  sleep 100000000',
    'end',
  ].join('\n');

  itRestoresMidRun(
    "are rebuilt around placeholder tasks with the leaders' pids",
    ALL_ARCHES,
    { name: 'orphans', text, n: 20, m: 40 },
    (before) => {
      // the leaders are gone: groups and sessions whose ids belong to no task
      const ids = new Set(before.map((t) => t.nspids[0]));
      expect(before.some((t) => t.pgid !== 0 && !ids.has(t.pgid))).toBe(true);
      expect(before.some((t) => t.sid !== 0 && !ids.has(t.sid))).toBe(true);
    },
    ['member in group'],
  );
});

describe('a session whose leader has gone, its members with different parents outside it', () => {
  // The leader forks A and B; A forks X and then leaves for a session of its own; the leader
  // dies, so B is reparented to init. Session members B (parent init) and X (parent A, outside
  // the session) have different parents: the placeholder is made by A, forks X with CLONE_PARENT
  // and B plainly, and B goes back to init when the placeholder leaves.
  const text = [
    'var a, b',
    'program main',
    '  a = fork() start leader',
    '  sleep 10',
    '  a = wait4(-1, 0, 0, 0)',
    '  print "init reaped %d\\n", a',
    '  sleep 100000000',
    'end',
    'program leader',
    '  a = setsid()',
    '  a = fork() start parent',
    '  a = fork() start member',
    '  sleep 5',
    '  exit(0)',
    'end',
    'program parent',
    '  a = fork() start member',
    '  a = setsid()',
    '  print "A made session %d\\n", a',
    '  sleep 100000000',
    'end',
    'program member',
    '  sleep 30',
    '  a = getppid()',
    '  b = getsid(0)',
    '  print "member: parent %d, session %d\\n", a, b',
    '  sleep 100000000',
    'end',
  ].join('\n');

  itRestoresMidRun(
    "restores with each member's own parent and session",
    ALL_ARCHES,
    { name: 'mixed', text, n: 25, m: 60 },
    (before) => {
      const sid = before.find((t) => t.nspids[0] === 4)!.sid;
      const members = before.filter((t) => t.sid === sid && t.nspids[0] !== sid);
      expect(members.map((t) => t.ppid).sort()).toEqual([1, 3]);
      expect(before.some((t) => t.nspids[0] === sid)).toBe(false);
    },
    ['member: parent 1, session 2', 'member: parent 3, session 2'],
  );
});

describe('a session whose leader has gone, two generations deep', () => {
  // The leader's children are reparented to the container's init when it dies; their own
  // children stay theirs. So the session's members have different parents: init for the
  // first generation, and each of those for the second.
  const text = [
    'var a, b',
    'program main',
    '  a = fork() start sessionleader',
    '  a = wait4(-1, 0, 0, 0)',
    '  sleep 100000000',
    'end',
    'program sessionleader',
    '  a = setsid()',
    '  b = fork() start parent',
    '  b = fork() start parent',
    '  exit(0)',
    'end',
    'program parent',
    '  b = fork() start member',
    '  sleep 100000000',
    'end',
    'program member',
    '  sleep 30',
    '  b = getsid(0)',
    '  a = getppid()',
    '  print "member in session %d, parent %d\\n", b, a',
    '  sleep 100000000',
    'end',
  ].join('\n');

  itRestoresMidRun(
    'is rebuilt with every member under its own parent',
    ['i386', 's390x'],
    { name: 'gens', text, n: 25, m: 55 },
    (before) => {
      const ids = new Set(before.map((t) => t.nspids[0]));
      const members = before.filter((t) => t.sid !== 0 && !ids.has(t.sid));
      expect(new Set(members.map((t) => t.ppid)).size).toBe(3); // init, and each first-generation parent
    },
    ['member in session'],
  );
});

describe('deep nesting', () => {
  it('a container five pid-namespace levels deep restores with identical pids at every level', () => {
    const levels = 5;
    const lines = ['var a, b', 'program main', '  a = clone(CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0) start l2', '  b = fork() start leaf', '  sleep 100000000', 'end'];
    for (let l = 2; l <= levels; l++) {
      lines.push(`program l${l}`, '  b = fork() start leaf', l < levels ? `  a = clone(CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0) start l${l + 1}` : '  a = getpid()', '  sleep 100000000', 'end');
    }
    lines.push('program leaf', '  a = getpid()', '  print "leaf %d\\n", a', '  sleep 100000000', 'end');
    for (const arch of ALL_ARCHES) {
      const source = start(arch, 'deep', lines.join('\n'));
      // until every level exists and before everything sleeps (then the clock would jump ahead)
      for (let i = 0; i < 200 && Math.max(...tree(source, 'c').map((t) => t.nspids.length)) < levels; i++) source.scheduler.step();
      const deepest = Math.max(...tree(source, 'c').map((t) => t.nspids.length));
      expect(deepest).toBe(levels);
      const { machine } = restoreAtomically(Machine.create('t', arch), dumpContainer(source, source.containers.get('c')!), { hostPids: true });
      expect(hostTree(machine, 'c')).toEqual(hostTree(source, 'c'));
      expect(tree(machine, 'c')).toEqual(tree(source, 'c'));
    }
  });
});

describe('register and FPU state', () => {
  it.each(ALL_ARCHES)("%s: tasks given one FPU state share one copy of it, and the restored host holds none of the image's own bytes", (arch) => {
    const source = start(arch, 'nested', WORKLOADS[0]![1]);
    source.scheduler.run(40);
    const image = dumpContainer(source, source.containers.get('c')!);
    const { machine } = restoreAtomically(Machine.create('t', arch), image);
    const before = tree(machine, 'c');
    const tasks = machine.tasksOf(machine.containers.get('c')!);
    expect(tasks.length).toBe(image.tasks.length);
    const byIndex = new Map<number, Uint8Array>();
    image.tasks.forEach((t, i) => {
      const fpu = tasks.find((x) => x.nspids.slice(-t.numbers.length).join('/') === t.numbers.join('/'))!.fpu;
      expect(fpu).toEqual(image.fpus[t.fpu]);
      expect(image.fpus).not.toContain(fpu);
      const first = byIndex.get(t.fpu);
      if (first) expect(fpu, `task ${i}`).toBe(first);
      else byIndex.set(t.fpu, fpu);
    });
    expect(byIndex.size).toBeLessThan(image.tasks.length); // some tasks do share one
    // Scribbling over the image afterwards changes nothing restored.
    const snapshot = machine.host.snapshot();
    for (const f of image.fpus) f.fill(0xa5);
    for (const t of image.tasks) t.regs.fill(0x5a);
    expect(machine.host.snapshot()).toEqual(snapshot);
    expect(tree(machine, 'c')).toEqual(before);
  });
});

describe('a stopped job whose group is orphaned after the checkpoint', () => {
  // images/workloads/jobs.wl: checkpointed while the job is stopped and its session leader,
  // the group's last link, has not yet exited (kernel/exit.c kill_orphaned_pgrp).
  const text = readFileSync('images/workloads/jobs.wl', 'utf8');

  itRestoresMidRun(
    'is sent SIGHUP when its last link exits, on the restored host as on the source',
    ALL_ARCHES,
    { name: 'orphaned-job', text, n: 13, m: 40 },
    (before) => {
      const job = before.find((t) => t.nspids[0] === 3)!;
      expect([job.state, job.pgid, job.sid]).toEqual(['stopped', 3, 2]);
    },
    ['init reaped 2\ninit reaped 3\n'],
  );
});

/** WORKER: what the daemons below leave behind: it says who its parent is and which session it is in. */
const WORKER = ['program worker', '  sleep 40', '  a = getppid()', '  b = getsid(0)', '  print "worker: parent %d, session %d\\n", a, b', '  sleep 100000000', 'end'];

/** oneLevelDown puts a process between the init and the daemon: the daemon's parent is not the init. */
function oneLevelDown(text: string): string {
  return text.replace('  a = fork() start daemon\n', '  a = fork() start parent\n  sleep 100000000\nend\nprogram parent\n  a = fork() start daemon\n');
}

/** DAEMON_START: the init forks a daemon, which makes a session of its own. */
const DAEMON_START = ['var a, b', 'program main', '  a = fork() start daemon', '  sleep 100000000', 'end', 'program daemon', '  a = setsid()'];

/** DAEMON: a session leader, a child of the init, forks a middle process that forks the worker and exits; the leader reaps it. */
const DAEMON = [
  ...DAEMON_START,
  '  a = fork() start middle',
  '  a = wait4(-1, 0, 0, 0)',
  '  print "daemon reaped %d\\n", a',
  '  sleep 100000000',
  'end',
  'program middle',
  '  a = fork() start worker',
  '  exit(0)',
  'end',
  ...WORKER,
].join('\n');

describe('a daemon\'s double fork: a member of a session whose leader is still there, reparented to the init outside it', () => {
  // The session leader forks the worker (or forks the one that forks it) and exits; the init,
  // in another session, takes the worker over. Forked by the init, the worker would land in the
  // init's session: the leader forks it, with CLONE_PARENT when the init is its parent too,
  // else plainly, and its exit as a zombie hands the worker to the init again.
  const worker = 'worker: parent 1, session 2';
  const leaderExitedChildOfInit = [
    ...DAEMON_START,
    '  a = fork() start worker',
    '  exit(0)',
    'end',
    ...WORKER,
  ].join('\n');
  itRestoresMidRun(
    'the leader, a zombie child of the init, forks it with CLONE_PARENT',
    ALL_ARCHES,
    { name: 'daemon', text: leaderExitedChildOfInit, n: 8, m: 40 },
    (before) => expect(before.map((t) => [t.nspids[0], t.ppid, t.sid, t.state])).toEqual([[1, 0, 0, 'blocked'], [2, 1, 2, 'zombie'], [3, 1, 2, 'blocked']]),
    [`${worker}\n`],
  );
  // the same, one level down: the leader's parent is not the init
  const leaderExitedChildOfOther = oneLevelDown(leaderExitedChildOfInit);
  itRestoresMidRun(
    'the leader, a zombie with another parent, forks it and hands it to the init by exiting again',
    ALL_ARCHES,
    { name: 'daemon2', text: leaderExitedChildOfOther, n: 11, m: 40 },
    (before) => expect(before.map((t) => [t.nspids[0], t.ppid, t.sid, t.state])).toEqual([[1, 0, 0, 'blocked'], [2, 1, 0, 'blocked'], [3, 2, 3, 'zombie'], [4, 1, 3, 'blocked']]),
    ['worker: parent 1, session 3\n'],
  );
  itRestoresMidRun(
    'a running leader, child of the init, forks it with CLONE_PARENT',
    ALL_ARCHES,
    { name: 'daemon3', text: DAEMON, n: 12, m: 40 },
    (before) => expect(before.map((t) => [t.nspids[0], t.ppid, t.sid])).toEqual([[1, 0, 0], [2, 1, 2], [4, 1, 2]]),
    ['daemon reaped 3\n', `${worker}\n`],
  );
});

describe('a task killed in the middle of a round', () => {
  // The child is due later in the round when its parent kills it: the round the image keeps must
  // leave the zombie out, as the scheduler would skip it, or the image is one its own reader refuses.
  const text = [
    'var a, b',
    'program main',
    '  a = fork() start child',
    '  b = kill(a, SIGKILL)',
    '  sleep 5',
    '  a = wait4(-1, 0, 0, 0)',
    '  print "reaped %d\\n", a',
    '  sleep 100000000',
    'end',
    'program child',
    '  sleep 3',
    '  exit(0)',
    'end',
  ].join('\n');
  itRestoresMidRun(
    'is not in the round its image keeps',
    ALL_ARCHES,
    { name: 'killed', text, n: 2, m: 20 },
    (before) => expect(before.map((t) => [t.nspids[0], t.state])).toEqual([[1, 'runnable'], [2, 'zombie']]),
    ['reaped 2\n'],
  );
});

describe('a process whose parent is a thread', () => {
  // The kernel's real parent is the very thread that forked (children lists are per thread), and
  // when that thread exits its children go to a sibling thread, perhaps one made after them.
  const KID = ['program kid', '  sleep 20', '  k = getppid()', '  print "kid: parent %d\\n", k', '  exit(5)', 'end'];
  const forkedByThread = [
    'var r, w, k',
    'program main',
    '  r = fork() start proc',
    '  sleep 100000000',
    'end',
    'program proc',
    '  r = clone(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0, 0, 0, 0) start worker',
    '  sleep 3',
    '  r = wait4(-1, 0, 0, 0)',
    '  print "proc reaped %d\\n", r',
    '  sleep 100000000',
    'end',
    'program worker',
    '  w = fork() start kid',
    '  sleep 100000000',
    'end',
    ...KID,
  ].join('\n');
  itRestoresMidRun(
    'forked by a thread: on that thread\'s children list; its leader reaps it',
    ALL_ARCHES,
    { name: 'thread-parent', text: forkedByThread, n: 9, m: 30 },
    (before) => expect(before.map((t) => [t.nspids[0], t.ppid, t.tgid])).toEqual([[1, 0, 1], [2, 1, 2], [3, 1, 2], [4, 3, 4]]),
    ['kid: parent 2\nproc reaped 4\n'],
  );
  const leaderExits = [
    'var r, w, k',
    'program main',
    '  r = fork() start proc',
    '  sleep 100000000',
    'end',
    'program proc',
    '  r = fork() start kid',
    '  r = clone(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0, 0, 0, 0) start worker',
    '  exit(0)',
    'end',
    'program worker',
    '  sleep 5',
    '  w = wait4(-1, 0, 0, 0)',
    '  print "worker reaped %d\\n", w',
    '  sleep 100000000',
    'end',
    ...KID,
  ].join('\n');
  itRestoresMidRun(
    'whose forking thread exited: it went to a sibling thread made after it',
    ALL_ARCHES,
    { name: 'later-parent', text: leaderExits, n: 9, m: 30 },
    (before) => expect(before.map((t) => [t.nspids[0], t.ppid, t.tgid, t.state])).toEqual([[1, 0, 1, 'blocked'], [2, 1, 2, 'zombie'], [3, 4, 3, 'blocked'], [4, 1, 2, 'runnable']]),
    ['kid: parent 2\nworker reaped 3\n'],
  );
});

describe('a session leader whose child forked before leaving for a session of its own', () => {
  // The init makes session 1; its child forks a leaf and then makes session 2. The leaf stayed in
  // session 1, so the child must be forked into session 1: the init's setsid comes before the child,
  // not only before the first child whose own session is 1.
  const text = [
    'var a, b',
    'program main',
    '  a = setsid()',
    '  a = fork() start child',
    '  sleep 100000000',
    'end',
    'program child',
    '  a = fork() start leaf',
    '  a = setsid()',
    '  sleep 100000000',
    'end',
    'program leaf',
    '  sleep 20',
    '  a = getsid(0)',
    '  b = getppid()',
    '  print "leaf: session %d, parent %d\\n", a, b',
    '  sleep 100000000',
    'end',
  ].join('\n');
  itRestoresMidRun(
    'restores the leaf in session 1 under the child of session 2',
    ALL_ARCHES,
    { name: 'stayed', text, n: 9, m: 30 },
    (before) => expect(before.map((t) => [t.nspids[0], t.ppid, t.sid])).toEqual([[1, 0, 1], [2, 1, 2], [3, 2, 1]]),
    ['leaf: session 1, parent 2\n'],
  );
});

describe('a process whose parent is the init but whose session is not', () => {
  const outside = [
    'var a, b',
    'program main',
    '  a = fork() start child',
    '  a = setsid()',
    '  sleep 100000000',
    'end',
    'program child',
    '  b = setpgid(0, 0)',
    '  a = fork() start leaf',
    '  exit(0)',
    'end',
    'program leaf',
    '  sleep 20',
    '  a = getsid(0)',
    '  b = getpgid(0)',
    '  print "leaf: session %d, group %d\\n", a, b',
    '  sleep 100000000',
    'end',
  ].join('\n');
  itRestoresMidRun(
    'in the session outside the container, its creator gone: forked by that creator, which exits again',
    ALL_ARCHES,
    { name: 'outside', text: outside, n: 9, m: 30 },
    (before) => expect(before.map((t) => [t.nspids[0], t.ppid, t.sid, t.pgid, t.state])).toEqual([[1, 0, 1, 1, 'blocked'], [2, 1, 0, 2, 'zombie'], [3, 1, 0, 2, 'blocked']]),
    ['leaf: session 0, group 2\n'],
  );
  // DAEMON one level down: the session leader's parent is not the init
  const forkerExited = oneLevelDown(DAEMON);
  itRestoresMidRun(
    'in a session whose running leader has another parent: forked by the member that forked it, a zombie',
    ALL_ARCHES,
    { name: 'forker', text: forkerExited, n: 12, m: 40 },
    (before) => expect(before.map((t) => [t.nspids[0], t.ppid, t.sid, t.state])).toEqual([[1, 0, 0, 'blocked'], [2, 1, 0, 'blocked'], [3, 2, 3, 'runnable'], [4, 3, 3, 'zombie'], [5, 1, 3, 'runnable']]),
    ['daemon reaped 4\n', 'worker: parent 1, session 3\n'],
  );

  it('once the member that forked it is reaped, refused before the target changes, naming the task', () => {
    const source = start('x86_64', 'forker', forkerExited);
    source.scheduler.run(14);
    const image = throughBytes(dumpContainer(source, source.containers.get('c')!));
    const target = Machine.create('t', 'x86_64');
    const before = target.host.snapshot();
    let refusal: unknown;
    try {
      restoreAtomically(target, image);
    } catch (e) {
      refusal = e;
    }
    expect(refusal).toBeInstanceOf(RestoreError);
    expect((refusal as RestoreError).problems).toEqual([
      { code: 'CKPT_UNSUPPORTED', message: 'task 5 must be born in session 3, where no process made before it has its parent or has exited to hand it to its init: not supported yet' },
    ]);
    expect(target.host.snapshot()).toEqual(before);
  });
});

describe('a process that unshared its children\'s pid namespace', () => {
  // unshare(CLONE_NEWPID) points the caller's children at a new namespace: the first is its init,
  // the next are its pid 2, 3... The restorer points the creator there too before forking them.
  const text = [
    'var a, b',
    'program main',
    '  a = fork() start child',
    '  sleep 100000000',
    'end',
    'program child',
    '  b = unshare(CLONE_NEWPID)',
    '  a = fork() start inner',
    '  a = fork() start inner',
    '  sleep 100000000',
    'end',
    'program inner',
    '  sleep 20',
    '  a = getpid()',
    '  b = getppid()',
    '  print "inner %d, parent %d\\n", a, b',
    '  sleep 100000000',
    'end',
  ].join('\n');
  itRestoresMidRun(
    'keeps its children in that namespace, and its later ones go there too',
    ALL_ARCHES,
    { name: 'unshared', text, n: 8, m: 30 },
    (before) => expect(before.map((t) => t.nspids)).toEqual([[1], [2], [3, 1], [4, 2]]),
    ['inner 1, parent 0\n', 'inner 2, parent 0\n'],
  );
});
