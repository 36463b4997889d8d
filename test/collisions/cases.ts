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
 */
import type { Machine } from '../../src/container/machine.js';
import type { RestoreOptions } from '../../src/image/restore.js';
import { libcOf } from '../../src/program/libc.js';

export interface CollisionCase {
  name: string;
  /** builds the target host's state */
  setup: (target: Machine) => void;
  options: RestoreOptions;
  targetPidMax?: number;
  /** null: the restore succeeds */
  reasons: string[] | null;
  /** the image restored: the nested sample dumped from directly under a host (default), or from inside box */
  image?: 'inside';
}

/** IDLE is box's workload: a container that sleeps, into which images are restored. */
export const IDLE = 'program main\n  sleep 100000000\nend\n';

/** box runs the container `box` on the target and returns its init. */
const box = (m: Machine) => m.run('box', 'idle.wl', IDLE).init;

/** collisionAtBox is the reason given when box-level pid 2, which the image's init needs, is taken by `holder`. */
const collisionAtBox = (via: 'eclone' | 'clone3', holder: string): string =>
  `pid 2 at level 1 (container box) (task 1 of the image) is held by ${holder} in container box: ${via} would fail with ${via === 'eclone' ? 'EBUSY' : 'EEXIST'}`;

const THREAD = 0x10000 | 0x800 | 0x100;

const fork = (m: Machine, parent = m.host.init) => libcOf(m.host, parent).fork().child!;

/** orphanGroup: `parent` forks a leader (its pid 2) that makes a group, forks a member and is reaped: the group id outlives it. */
const orphanGroup = (m: Machine, parent = m.host.init): void => {
  const leader = fork(m, parent);
  libcOf(m.host, leader).setpgid(0, 0);
  fork(m, leader);
  libcOf(m.host, leader).exit(0);
  libcOf(m.host, parent).wait4(2, 0, 0, 0);
};

/** orphanSession: the same with a session, its member in a group of its own, so only the session id is left. */
const orphanSession = (m: Machine, parent = m.host.init): void => {
  const leader = fork(m, parent);
  libcOf(m.host, leader).setsid();
  const member = fork(m, leader);
  libcOf(m.host, member).setpgid(0, 0);
  libcOf(m.host, leader).exit(0);
  libcOf(m.host, parent).wait4(2, 0, 0, 0);
};

export const CASES: CollisionCase[] = [
  {
    name: 'no collision: a fresh target keeps every host pid',
    setup: () => undefined,
    options: { hostPids: true },
    reasons: null,
  },
  {
    name: 'a host pid held by a live task',
    setup: (m) => void fork(m),
    options: { hostPids: true },
    reasons: ['host pid 2 (task 1 of the image) is held by task 2 on host t: eclone would fail with EBUSY'],
  },
  {
    name: 'the same collision through clone3',
    setup: (m) => void fork(m),
    options: { hostPids: true, via: 'clone3' },
    reasons: ['host pid 2 (task 1 of the image) is held by task 2 on host t: clone3 would fail with EEXIST'],
  },
  {
    name: 'a host pid held by a zombie',
    setup: (m) => void libcOf(m.host, fork(m)).exit(0),
    options: { hostPids: true },
    reasons: ['host pid 2 (task 1 of the image) is held by zombie 2 on host t: eclone would fail with EBUSY'],
  },
  {
    name: 'a host pid held only as a process group id',
    setup: (m) => orphanGroup(m),
    options: { hostPids: true },
    reasons: [
      'host pid 2 (task 1 of the image) is held by process group 2 (its leader is gone) on host t: eclone would fail with EBUSY',
      'host pid 3 (task 2/1 of the image) is held by task 3 on host t: eclone would fail with EBUSY',
    ],
  },
  {
    name: 'a host pid held only as a session id',
    setup: (m) => orphanSession(m),
    options: { hostPids: true },
    reasons: [
      'host pid 2 (task 1 of the image) is held by session 2 (its leader is gone) on host t: eclone would fail with EBUSY',
      'host pid 3 (task 2/1 of the image) is held by task 3 on host t: eclone would fail with EBUSY',
    ],
  },
  {
    name: "a host pid held by a thread's tid",
    setup: (m) => {
      const p = fork(m);
      libcOf(m.host, p).clone(THREAD, 0, 0, 0, 0);
    },
    options: { hostPids: true },
    reasons: [
      'host pid 2 (task 1 of the image) is held by task 2 on host t: eclone would fail with EBUSY',
      'host pid 3 (task 2/1 of the image) is held by thread 3 of process 2 on host t: eclone would fail with EBUSY',
    ],
  },
  {
    name: 'many collisions are reported together',
    setup: (m) => {
      for (let i = 0; i < 6; i++) fork(m);
    },
    options: { hostPids: true },
    reasons: [2, 3, 5, 6, 7].map((nr) => {
      const numbers: Record<number, string> = { 2: '1', 3: '2/1', 5: '4', 6: '5/3', 7: '6' };
      return `host pid ${nr} (task ${numbers[nr]} of the image) is held by task ${nr} on host t: eclone would fail with EBUSY`;
    }),
  },
  {
    name: 'without --host-pids the same target is fine: the host levels are the target kernel\'s choice',
    setup: (m) => {
      for (let i = 0; i < 6; i++) fork(m);
    },
    options: {},
    reasons: null,
  },
  {
    name: "a target whose pid_max is below an image pid",
    setup: () => undefined,
    options: {},
    targetPidMax: 301,
    reasons: null,
  },
  {
    name: 'into a running container: every pid kept, the host\'s and the container\'s levels too',
    image: 'inside',
    setup: (m) => void box(m),
    options: { into: 'box', hostPids: true },
    reasons: null,
  },
  {
    name: 'a container-level pid held by a live task (a collision only at the second level)',
    image: 'inside',
    setup: (m) => void fork(m, box(m)),
    options: { into: 'box', hostPids: true },
    reasons: [collisionAtBox('eclone', 'task 2')],
  },
  {
    name: 'the same container-level collision through clone3',
    image: 'inside',
    setup: (m) => void fork(m, box(m)),
    options: { into: 'box', hostPids: true, via: 'clone3' },
    reasons: [collisionAtBox('clone3', 'task 2')],
  },
  {
    name: 'a container-level pid held by a zombie',
    image: 'inside',
    setup: (m) => void libcOf(m.host, fork(m, box(m))).exit(0),
    options: { into: 'box', hostPids: true },
    reasons: [collisionAtBox('eclone', 'zombie 2')],
  },
  {
    name: "a container-level pid held by a thread's tid",
    image: 'inside',
    setup: (m) => void libcOf(m.host, box(m)).clone(THREAD, 0, 0, 0, 0),
    options: { into: 'box', hostPids: true },
    reasons: [collisionAtBox('eclone', 'thread 2 of process 1')],
  },
  {
    name: 'a container-level pid held only as a process group id',
    image: 'inside',
    setup: (m) => orphanGroup(m, box(m)),
    options: { into: 'box', hostPids: true },
    reasons: [collisionAtBox('eclone', 'process group 2 (its leader is gone)'), 'pid 3 at level 1 (container box) (task 2/1 of the image) is held by task 3 in container box: eclone would fail with EBUSY'],
  },
  {
    name: 'a container-level pid held only as a session id',
    image: 'inside',
    setup: (m) => orphanSession(m, box(m)),
    options: { into: 'box', hostPids: true },
    reasons: [collisionAtBox('eclone', 'session 2 (its leader is gone)'), 'pid 3 at level 1 (container box) (task 2/1 of the image) is held by task 3 in container box: eclone would fail with EBUSY'],
  },
  {
    name: 'collisions at the host level and at the container level together',
    image: 'inside',
    setup: (m) => {
      const init = box(m);
      for (let i = 0; i < 11; i++) fork(m);
      fork(m, init);
    },
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
    setup: (m) => {
      const init = box(m);
      for (let i = 0; i < 4; i++) fork(m, init);
    },
    options: { into: 'box' },
    reasons: null,
  },
  {
    name: 'into a container that does not exist',
    setup: () => undefined,
    options: { into: 'box' },
    reasons: ['--into box: no container of that name on host t'],
  },
  {
    name: 'into a container whose init has exited',
    setup: (m) => void libcOf(m.host, box(m)).exit(0),
    options: { into: 'box' },
    reasons: ["--into box: that container's init has exited, so its pid namespace takes no new processes"],
  },
  {
    name: '--host-pids needs an image from the same depth',
    setup: (m) => void box(m),
    options: { into: 'box', hostPids: true },
    reasons: ["--host-pids: the image's container sat at pid-namespace level 1 on its source, but would come back at level 2 inside container box, so its pids above the container have no counterpart to keep"],
  },
  {
    name: 'an existing container of the same name',
    setup: (m) => void m.run('web', 'images/workloads/threads.wl', 'program main\n  sleep 100\nend\n'),
    options: {},
    reasons: ['a container named web already exists on host t'],
  },
];

