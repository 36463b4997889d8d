/**
 * The pid-collision regression suite, as data. Each case is a target host
 * set-up, restore options and the expected outcome: success, or the exact
 * list of reasons. The image is the nested sample checkpointed after 50
 * steps on an x86_64 host: host pids 2, 3, 5, 6 and 7 for its tasks 1, 2/1,
 * 4, 5/3 and 6. Host-level pids are named only with --host-pids, so that is
 * where a restore can collide; the container's own levels are fresh
 * namespaces on the target.
 */
import type { Machine } from '../../src/container/machine.js';
import type { RestoreOptions } from '../../src/image/restore.js';

export interface CollisionCase {
  name: string;
  /** builds the target host's state */
  setup: (target: Machine) => void;
  options: RestoreOptions;
  targetPidMax?: number;
  /** null: the restore succeeds */
  reasons: string[] | null;
}

const THREAD = 0x10000 | 0x800 | 0x100;

const fork = (m: Machine, parent = m.host.init) => m.host.libc(parent).fork().child!;

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
    setup: (m) => void m.host.libc(fork(m)).exit(0),
    options: { hostPids: true },
    reasons: ['host pid 2 (task 1 of the image) is held by zombie 2 on host t: eclone would fail with EBUSY'],
  },
  {
    name: 'a host pid held only as a process group id',
    setup: (m) => {
      const leader = fork(m);
      m.host.libc(leader).setpgid(0, 0);
      fork(m, leader);
      m.host.libc(leader).exit(0);
      m.host.libc(m.host.init).wait4(2, 0, 0, 0);
    },
    options: { hostPids: true },
    reasons: [
      'host pid 2 (task 1 of the image) is held by process group 2 (its leader is gone) on host t: eclone would fail with EBUSY',
      'host pid 3 (task 2/1 of the image) is held by task 3 on host t: eclone would fail with EBUSY',
    ],
  },
  {
    name: 'a host pid held only as a session id',
    setup: (m) => {
      const leader = fork(m);
      m.host.libc(leader).setsid();
      const member = fork(m, leader);
      m.host.libc(member).setpgid(0, 0);
      m.host.libc(leader).exit(0);
      m.host.libc(m.host.init).wait4(2, 0, 0, 0);
    },
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
      m.host.libc(p).clone(THREAD, 0, 0, 0, 0);
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
    name: 'an existing container of the same name',
    setup: (m) => void m.run('web', 'images/workloads/threads.wl', 'program main\n  sleep 100\nend\n'),
    options: {},
    reasons: ['a container named web already exists on host t'],
  },
];

