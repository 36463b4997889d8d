/**
 * takeSnapshot only reads: what a fork left unmade (a ForkedGroup, a
 * ForkedAddressSpace, a group's file table never opened) is described as
 * what it becomes on first use, and stays unmade.
 */
import { describe, expect, it } from 'vitest';
import { CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, Host, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE, type Task } from '../../src/index.js';
import { ForkedAddressSpace } from '../../src/kernel/memory-map.js';
import { ForkedGroup } from '../../src/kernel/thread-group.js';
import { libcOf } from '../../src/program/libc.js';

const THREAD = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;

/** aHost: a process with two threads (its group's file table never opened), written memory, and forked children never run; another with a file open and children of its own */
function aHost(arch: string): Host {
  const h = Host.create({ arch });
  const l = libcOf(h, h.init);
  const p = l.fork().child!;
  const lp = libcOf(h, p);
  const priv = lp.mmap(0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ret;
  const shared = lp.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0).ret;
  lp.store(priv, Uint8Array.of(7, 8, 9));
  lp.store(shared, Uint8Array.of(1));
  expect(lp.clone(THREAD, 0, 0, 0, 0).ret).toBeGreaterThan(0);
  expect(lp.clone(THREAD, 0, 0, 0, 0).ret).toBeGreaterThan(0);
  for (let i = 0; i < 4; i++) expect(lp.fork().ret).toBeGreaterThan(0);
  lp.store(priv + 4096, Uint8Array.of(5)); // after the forks: the children's copies do not see it
  const q = l.fork().child!;
  const lq = libcOf(h, q);
  expect(lq.pidfd_open(p.pid.nr, 0).ret).toBeGreaterThanOrEqual(0);
  for (let i = 0; i < 3; i++) expect(lq.fork().ret).toBeGreaterThan(0);
  return h;
}

const unmade = (h: Host): Task[] => [...h.tasks].filter((t) => t.groupOrFork instanceof ForkedGroup || t.addressSpaceOrFork instanceof ForkedAddressSpace);
const unopened = (h: Host): Task[] => [...h.tasks].filter((t) => t.groupIfMade !== null && t.groupIfMade.filesIfMade === null);

describe.each(['x86_64', 'i386', 's390x'])('a snapshot on %s', (arch) => {
  it('leaves what forks left unmade, and describes it as the same host with all of it made', () => {
    const h = aHost(arch);
    const [forks, tables] = [unmade(h), unopened(h)];
    expect(forks.length).toBe(7);
    expect(tables.length).toBeGreaterThanOrEqual(3); // the process with threads, and its threads
    const snap = h.snapshot();
    expect(unmade(h)).toEqual(forks);
    expect(unopened(h)).toEqual(tables);
    // make every group, address space and file table real, as a first use would: the state is the same
    for (const t of h.tasks) void t.group.files, void t.mm;
    expect(unmade(h)).toEqual([]);
    expect(h.snapshot()).toEqual(snap);
  });

  it('shows threads sharing one file table never opened, and each unmade child an address space and a file table of its own', () => {
    const h = aHost(arch);
    const snap = h.snapshot();
    const byPid = new Map(snap.tasks.map((t) => [t.nspids[0]!, t]));
    const threads = unopened(h).map((t) => byPid.get(t.pid.nr)!);
    expect(new Set(threads.map((t) => t.files)).size).toBe(new Set(unopened(h).map((t) => t.groupIfMade)).size);
    const children = unmade(h).map((t) => byPid.get(t.pid.nr)!);
    expect(new Set(children.map((t) => t.memory)).size).toBe(children.length);
    expect(new Set(children.map((t) => t.files)).size).toBe(children.length);
    expect(children.every((t) => t.tgid === t.nspids[0] && t.state === 'runnable')).toBe(true);
  });
});
