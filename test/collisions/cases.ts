/**
 * The pid-collision regression suite, as data. Each case is a target host
 * set-up, restore options and the expected outcome: success, or the exact
 * list of reasons. The image is the nested sample checkpointed after 50
 * steps on an x86_64 host: host pids 2, 3, 5, 6 and 7 for its tasks 1, 2/1,
 * 4, 5/3 and 6. Host-level pids are named only with --host-pids, so that is
 * where a restore can collide; the container's own levels are fresh
 * namespaces on the target.
 *
 * The `inside` image is the same container restored inside a running
 * container `box` (host pid 12, after ten other host processes) and
 * checkpointed there: host pids 13..17, pids 2..6 at box's level. Restored
 * --into a target's `box` with --host-pids, the pids at box's level, an
 * existing namespace, are named too: that is where a container-level pid,
 * or only the second level, can collide.
 *
 * A target's state is data (SetupStep): the model suite builds it with the
 * model's C library (buildOnModel), the real-kernel suite with real processes
 * in a pid namespace that plays the host (test/linux/real-collisions.test.ts),
 * from the same steps. Every case is built on the real kernel too; it has
 * no eclone, so there each goes through clone3 (throughClone3 gives its
 * reasons).
 */
import type { Machine } from '../../src/container/machine.js';
import type { RestoreOptions } from '../../src/image/restore.js';
import type { Task } from '../../src/kernel/task.js';
import { libcOf } from '../../src/program/libc.js';

/**
 * Who names a process of a target's set-up: `host` is the host's init, a container's name its init,
 * anything else the process a step made `as` that name.
 */
export type Who = string;

/** One step of building a target's state, each one system call (or one container started). */
export type SetupStep =
  /** start a container that sleeps (its own pid namespace; on the model its own user namespace too) */
  | { do: 'container'; name: string }
  /** `by` forks a child, known from then on as `as` */
  | { do: 'fork'; by: Who; as?: string }
  /** `by` makes a thread (CLONE_THREAD | CLONE_SIGHAND | CLONE_VM) */
  | { do: 'thread'; by: Who }
  | { do: 'setsid'; who: Who }
  /** setpgid(0, 0): a group of its own */
  | { do: 'setpgid'; who: Who }
  | { do: 'exit'; who: Who }
  /** `by` reaps its child `child` with wait4 */
  | { do: 'reap'; by: Who; child: Who };

export interface CollisionCase {
  name: string;
  /** the target host's state, built step by step */
  setup: SetupStep[];
  options: RestoreOptions;
  targetPidMax?: number;
  /** null: the restore succeeds */
  reasons: string[] | null;
  /** the image restored: the nested sample dumped from directly under a host (default), or from inside box */
  image?: 'inside';
}

/** IDLE is box's workload: a container that sleeps, into which images are restored. */
export const IDLE = 'program main\n  sleep 100000000\nend\n';

/** collisionAtBox is the reason given when box-level pid 2, which the image's init needs, is taken by `holder`. */
const collisionAtBox = (via: 'eclone' | 'clone3', holder: string): string =>
  `pid 2 at level 1 (container box) (task 1 of the image) is held by ${holder} in container box: ${via} would fail with ${via === 'eclone' ? 'EBUSY' : 'EEXIST'}`;

/** throughClone3 is a reason as it reads for a restore through clone3 (the real kernel has no eclone). */
export const throughClone3 = (reason: string): string => reason.replace('eclone would fail with EBUSY', 'clone3 would fail with EEXIST');

/** THREAD: the flags a thread is made with. */
export const THREAD = 0x10000 | 0x800 | 0x100;

const box: SetupStep = { do: 'container', name: 'box' };

const fork = (by: Who = 'host', as?: string): SetupStep => (as === undefined ? { do: 'fork', by } : { do: 'fork', by, as });

/** forks: `n` children of `by` */
const forks = (n: number, by: Who = 'host'): SetupStep[] => Array.from({ length: n }, () => fork(by));

/** orphanGroup: `parent` forks a leader (its pid 2) that makes a group, forks a member and is reaped: the group id outlives it. */
const orphanGroup = (parent: Who = 'host'): SetupStep[] => [
  fork(parent, 'leader'),
  { do: 'setpgid', who: 'leader' },
  fork('leader', 'member'),
  { do: 'exit', who: 'leader' },
  { do: 'reap', by: parent, child: 'leader' },
];

/** orphanSession: the same with a session, its member in a group of its own, so only the session id is left. */
const orphanSession = (parent: Who = 'host'): SetupStep[] => [
  fork(parent, 'leader'),
  { do: 'setsid', who: 'leader' },
  fork('leader', 'member'),
  { do: 'setpgid', who: 'member' },
  { do: 'exit', who: 'leader' },
  { do: 'reap', by: parent, child: 'leader' },
];

/** buildOnModel builds a case's target state on a model machine. */
export function buildOnModel(m: Machine, steps: readonly SetupStep[]): void {
  const known = new Map<Who, Task>([['host', m.host.init]]);
  const who = (w: Who): Task => known.get(w) ?? m.containers.get(w)?.init ?? fail(w);
  for (const s of steps) {
    switch (s.do) {
      case 'container':
        m.run(s.name, 'idle.wl', IDLE);
        break;
      case 'fork': {
        const child = libcOf(m.host, who(s.by)).fork().child!;
        if (s.as !== undefined) known.set(s.as, child);
        break;
      }
      case 'thread':
        libcOf(m.host, who(s.by)).clone(THREAD, 0, 0, 0, 0);
        break;
      case 'setsid':
        libcOf(m.host, who(s.who)).setsid();
        break;
      case 'setpgid':
        libcOf(m.host, who(s.who)).setpgid(0, 0);
        break;
      case 'exit':
        libcOf(m.host, who(s.who)).exit(0);
        break;
      case 'reap': {
        const parent = who(s.by);
        libcOf(m.host, parent).wait4(who(s.child).pid.nrAt(parent.pid.level), 0, 0, 0);
        break;
      }
    }
  }
}

function fail(w: Who): never {
  throw new Error(`set-up step names ${w}, which no earlier step made`);
}

export const CASES: CollisionCase[] = [
  {
    name: 'no collision: a fresh target keeps every host pid',
    setup: [],
    options: { hostPids: true },
    reasons: null,
  },
  {
    name: 'a host pid held by a live task',
    setup: [fork()],
    options: { hostPids: true },
    reasons: ['host pid 2 (task 1 of the image) is held by task 2 on host t: eclone would fail with EBUSY'],
  },
  {
    name: 'the same collision through clone3',
    setup: [fork()],
    options: { hostPids: true, via: 'clone3' },
    reasons: ['host pid 2 (task 1 of the image) is held by task 2 on host t: clone3 would fail with EEXIST'],
  },
  {
    name: 'a host pid held by a zombie',
    setup: [fork('host', 'child'), { do: 'exit', who: 'child' }],
    options: { hostPids: true },
    reasons: ['host pid 2 (task 1 of the image) is held by zombie 2 on host t: eclone would fail with EBUSY'],
  },
  {
    name: 'a host pid held only as a process group id',
    setup: orphanGroup(),
    options: { hostPids: true },
    reasons: [
      'host pid 2 (task 1 of the image) is held by process group 2 (its leader is gone) on host t: eclone would fail with EBUSY',
      'host pid 3 (task 2/1 of the image) is held by task 3 on host t: eclone would fail with EBUSY',
    ],
  },
  {
    name: 'a host pid held only as a session id',
    setup: orphanSession(),
    options: { hostPids: true },
    reasons: [
      'host pid 2 (task 1 of the image) is held by session 2 (its leader is gone) on host t: eclone would fail with EBUSY',
      'host pid 3 (task 2/1 of the image) is held by task 3 on host t: eclone would fail with EBUSY',
    ],
  },
  {
    name: "a host pid held by a thread's tid",
    setup: [fork('host', 'p'), { do: 'thread', by: 'p' }],
    options: { hostPids: true },
    reasons: [
      'host pid 2 (task 1 of the image) is held by task 2 on host t: eclone would fail with EBUSY',
      'host pid 3 (task 2/1 of the image) is held by thread 3 of process 2 on host t: eclone would fail with EBUSY',
    ],
  },
  {
    name: 'many collisions are reported together',
    setup: forks(6),
    options: { hostPids: true },
    reasons: [2, 3, 5, 6, 7].map((nr) => {
      const numbers: Record<number, string> = { 2: '1', 3: '2/1', 5: '4', 6: '5/3', 7: '6' };
      return `host pid ${nr} (task ${numbers[nr]} of the image) is held by task ${nr} on host t: eclone would fail with EBUSY`;
    }),
  },
  {
    name: 'without --host-pids the same target is fine: the host levels are the target kernel\'s choice',
    setup: forks(6),
    options: {},
    reasons: null,
  },
  {
    name: "a target whose pid_max is below an image pid",
    setup: [],
    options: {},
    targetPidMax: 301,
    reasons: null,
  },
  {
    name: 'into a running container: every pid kept, the host\'s and the container\'s levels too',
    image: 'inside',
    setup: [box],
    options: { into: 'box', hostPids: true },
    reasons: null,
  },
  {
    name: 'a container-level pid held by a live task (a collision only at the second level)',
    image: 'inside',
    setup: [box, fork('box')],
    options: { into: 'box', hostPids: true },
    reasons: [collisionAtBox('eclone', 'task 2')],
  },
  {
    name: 'the same container-level collision through clone3',
    image: 'inside',
    setup: [box, fork('box')],
    options: { into: 'box', hostPids: true, via: 'clone3' },
    reasons: [collisionAtBox('clone3', 'task 2')],
  },
  {
    name: 'a container-level pid held by a zombie',
    image: 'inside',
    setup: [box, fork('box', 'child'), { do: 'exit', who: 'child' }],
    options: { into: 'box', hostPids: true },
    reasons: [collisionAtBox('eclone', 'zombie 2')],
  },
  {
    name: "a container-level pid held by a thread's tid",
    image: 'inside',
    setup: [box, { do: 'thread', by: 'box' }],
    options: { into: 'box', hostPids: true },
    reasons: [collisionAtBox('eclone', 'thread 2 of process 1')],
  },
  {
    name: 'a container-level pid held only as a process group id',
    image: 'inside',
    setup: [box, ...orphanGroup('box')],
    options: { into: 'box', hostPids: true },
    reasons: [collisionAtBox('eclone', 'process group 2 (its leader is gone)'), 'pid 3 at level 1 (container box) (task 2/1 of the image) is held by task 3 in container box: eclone would fail with EBUSY'],
  },
  {
    name: 'a container-level pid held only as a session id',
    image: 'inside',
    setup: [box, ...orphanSession('box')],
    options: { into: 'box', hostPids: true },
    reasons: [collisionAtBox('eclone', 'session 2 (its leader is gone)'), 'pid 3 at level 1 (container box) (task 2/1 of the image) is held by task 3 in container box: eclone would fail with EBUSY'],
  },
  {
    name: 'collisions at the host level and at the container level together',
    image: 'inside',
    setup: [box, ...forks(11), fork('box')],
    options: { into: 'box', hostPids: true },
    reasons: [
      'host pid 13 (task 1 of the image) is held by task 13 on host t: eclone would fail with EBUSY',
      collisionAtBox('eclone', 'task 2'),
      // box's child took the next host pid, 14
      'host pid 14 (task 2/1 of the image) is held by task 14 on host t: eclone would fail with EBUSY',
    ],
  },
  {
    name: 'into a running container without --host-pids: the levels above are the target kernel\'s choice',
    image: 'inside',
    setup: [box, ...forks(4, 'box')],
    options: { into: 'box' },
    reasons: null,
  },
  {
    name: 'into a container that does not exist',
    setup: [],
    options: { into: 'box' },
    reasons: ['--into box: no container of that name on host t'],
  },
  {
    name: 'into a container whose init has exited',
    setup: [box, { do: 'exit', who: 'box' }],
    options: { into: 'box' },
    reasons: ["--into box: that container's init has exited, so its pid namespace takes no new processes"],
  },
  {
    name: '--host-pids needs an image from the same depth',
    setup: [box],
    options: { into: 'box', hostPids: true },
    reasons: ["--host-pids: the image's container sat at pid-namespace level 1 on its source, but would come back at level 2 inside container box, so its pids above the container have no counterpart to keep"],
  },
  {
    name: 'an existing container of the same name',
    setup: [{ do: 'container', name: 'web' }],
    options: {},
    reasons: ['a container named web already exists on host t'],
  },
];

