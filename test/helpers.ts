/** Shared set-ups for the model-kernel tests. */
import { expect } from 'vitest';
import { CLONE_NEWPID, CLONE_NEWUSER, Host, SIGCHLD, type ArchName, type Task } from '../src/index.js';
import { libcOf } from '../src/program/libc.js';

export const ALL_ARCHES: ArchName[] = ['i386', 'x86_64', 's390', 's390x', 'ppc', 'ppc64'];

/** An unmapped user address: every access to it faults. */
export const BAD_POINTER = 0x10;

/** containerInit makes a task at pid-namespace level `depth` (each level's init), privileged in the root user namespace. */
export function nestedInit(host: Host, depth: number, extraFlags = 0): Task {
  let t = host.init;
  for (let i = 0; i < depth; i++) {
    const r = libcOf(host, t).clone(SIGCHLD | CLONE_NEWPID | extraFlags, 0, 0, 0, 0);
    if (!r.child) throw new Error(`nestedInit: clone failed with ${r.errno}`);
    t = r.child;
  }
  return t;
}

/** userContainer makes the init of a new pid namespace owned by a new user namespace: privileged there only. */
export function userContainer(host: Host, parent: Task = host.init): Task {
  const r = libcOf(host, parent).clone(SIGCHLD | CLONE_NEWPID | CLONE_NEWUSER, 0, 0, 0, 0);
  if (!r.child) throw new Error(`userContainer: clone failed with ${r.errno}`);
  return r.child;
}

/** unprivileged forks a child of `parent` and drops it to uid 1000 with no capabilities. */
export function unprivileged(host: Host, parent: Task = host.init): Task {
  const r = libcOf(host, parent).fork();
  if (!r.child) throw new Error(`unprivileged: fork failed with ${r.errno}`);
  const s = libcOf(host, r.child).setuid(1000);
  if (s.ret !== 0) throw new Error(`unprivileged: setuid failed with ${s.errno}`);
  return r.child;
}

/** expectUnchanged runs `fn` and asserts the host's snapshot is exactly as before. */
export function expectUnchanged<T>(host: Host, fn: () => T): T {
  const before = host.snapshot();
  const out = fn();
  expect(host.snapshot()).toEqual(before);
  return out;
}

/** forked forks `n` children of the host init and returns the init: fills pids 2..n+1 on a first pass. */
export function forked(host: Host, n: number): Task {
  const l = libcOf(host, host.init);
  for (let i = 0; i < n; i++) if (!l.fork().child) throw new Error(`forked: fork ${i} failed`);
  return host.init;
}
