/** A machine survives encode → decode exactly: same snapshot, same consoles, and it continues the same way. */
import { readFileSync } from 'node:fs';
import { encode, decode } from 'cbor-x';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { decodeMachine, encodeMachine, type MachineRecord } from '../../src/store/machine-codec.js';
import { unpackMms } from '../../src/store/part-columns.js';
import { ALL_ARCHES } from '../helpers.js';
import { CLONE_NEWPID, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, SIGCHLD } from '../../src/index.js';
import { MemoryMap } from '../../src/kernel/memory-map.js';
import type { Task } from '../../src/kernel/task.js';
import { libcOf } from '../../src/program/libc.js';

const NESTED = readFileSync('images/workloads/nested.wl', 'utf8');
const PIDCACHE = readFileSync('images/workloads/pidcache.wl', 'utf8');
const JOBS = readFileSync('images/workloads/jobs.wl', 'utf8');

function roundTrip(m: Machine): Machine {
  return decodeMachine(decode(encode(encodeMachine(m))) as MachineRecord);
}

describe.each(ALL_ARCHES)('machine codec on %s', (arch) => {
  it('run N, save, load, run M prints what run N+M prints, and the states match', () => {
    for (const n of [0, 7, 23, 41]) {
      const straight = Machine.create('h', arch);
      straight.run('a', 'nested.wl', NESTED);
      straight.run('b', 'pidcache.wl', PIDCACHE);
      straight.scheduler.run(n + 200);
      const saved = Machine.create('h', arch);
      saved.run('a', 'nested.wl', NESTED);
      saved.run('b', 'pidcache.wl', PIDCACHE);
      saved.scheduler.run(n);
      const loaded = roundTrip(saved);
      expect(loaded.host.snapshot()).toEqual(saved.host.snapshot());
      loaded.scheduler.run(200);
      expect(loaded.containers.get('a')!.console.text).toBe(straight.containers.get('a')!.console.text);
      expect(loaded.containers.get('b')!.console.text).toBe(straight.containers.get('b')!.console.text);
      expect(loaded.host.snapshot()).toEqual(straight.host.snapshot());
    }
  }, 30_000);
});

describe.each(ALL_ARCHES)('a stopped job saved and loaded on %s', (arch) => {
  it('is still its group\'s stopped job: the leader\'s exit after the load orphans the group and SIGHUP ends the job (kill_orphaned_pgrp)', () => {
    const straight = Machine.create('h', arch);
    straight.run('j', 'jobs.wl', JOBS);
    straight.scheduler.run(60);
    const saved = Machine.create('h', arch);
    saved.run('j', 'jobs.wl', JOBS);
    saved.scheduler.run(13); // the job stopped, its leader not yet gone
    expect(saved.tasksOf(saved.containers.get('j')!).map((t) => t.state)).toContain('stopped');
    const loaded = roundTrip(saved);
    loaded.scheduler.run(47);
    expect(loaded.containers.get('j')!.console.text).toBe('init reaped 2\ninit reaped 3\n');
    expect(loaded.host.snapshot()).toEqual(straight.host.snapshot());
  }, 30_000);
});

describe('page sharing', () => {
  it('stores a page shared copy-on-write by many tasks once', () => {
    const m = Machine.create('h', 'x86_64');
    const text = ['var m, i', 'program main', '  m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)', '  store m, 42', 'loop:', '  if i >= 8 goto done', '  fork() start idle', '  i = i + 1', '  goto loop', 'done:', '  sleep 1000000', 'end', 'program idle', '  sleep 1000000', 'end'].join('\n');
    const c = m.run('c', 'share.wl', text);
    // Run until all nine are asleep, before the clock jumps to their wake-up.
    for (let guard = 0; guard < 500 && m.tasksOf(c).filter((t) => t.blockedIn === 'nanosleep').length < 9; guard++) m.scheduler.step();
    expect(m.tasksOf(c).length).toBe(9);
    const rec = encodeMachine(m);
    // the container's part: mms list [page index, frame] pairs; frames are stored once each
    const [, part] = rec.parts[0]!;
    const references = unpackMms(part.mms).reduce((n, [, , pages]) => n + pages.length / 2, 0);
    expect(references - part.pageLengths.length).toBeGreaterThanOrEqual(8);
    const back = decodeMachine(rec);
    expect(back.host.snapshot()).toEqual(m.host.snapshot());
  }, 30_000);
});

describe('what a fork left unmade', () => {
  it('is stored as it is, in the core and in a part: after a load the children still share it, each makes its own on first use, and the counts of users hold', () => {
    const m = Machine.create('h', 'x86_64');
    const host = m.host;
    const l = libcOf(host, host.init);
    const page = l.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ret;
    l.store(page, new Uint8Array([1, 2, 3]));
    for (let i = 0; i < 5; i++) l.fork();
    const init1 = l.eclone(SIGCHLD | CLONE_NEWPID, { nr_pids: 1 }, 48, [1000]).child!;
    const l1 = libcOf(host, init1);
    l1.store(page, new Uint8Array([4, 5, 6]));
    for (let i = 0; i < 20; i++) l1.fork();
    const unmade = (t: Task): boolean => !(t.addressSpaceOrFork instanceof MemoryMap) && t.groupIfMade === null;
    const back = roundTrip(m);
    const init1Back = [...back.host.tasks].find((t) => t.pid.nr === init1.pid.nr)!;
    const childrenOf = (parent: Task): Task[] => [...parent.children()].filter((t) => t.pid.ns === parent.pid.ns);
    for (const [parent, count] of [[back.host.init, 5], [init1Back, 20]] as const) {
      const children = childrenOf(parent);
      expect(children.length).toBe(count);
      expect(children.every(unmade)).toBe(true);
      expect(new Set(children.map((t) => t.addressSpaceOrFork)).size).toBe(1);
    }
    // (a snapshot reads every task's address space and group, making them)
    expect(back.host.snapshot()).toEqual(m.host.snapshot());
    for (const [parent, bytes] of [[back.host.init, [1, 2, 3]], [init1Back, [4, 5, 6]]] as const) {
      const children = childrenOf(parent);
      // a child's write is its own: the other children and the parent still read what the fork left
      children[0]!.mm.write(page, new Uint8Array([9]));
      expect([...children[0]!.mm.read(page, 3)]).toEqual([9, bytes[1], bytes[2]]);
      expect([...children[1]!.mm.read(page, 3)]).toEqual(bytes);
      expect([...parent.mm.read(page, 3)]).toEqual(bytes);
    }
    // each fork counted its child as a user of the process group and session it joined
    const [pgrp, pgrpBack] = [host.init.group.pgrp, back.host.init.group.pgrp];
    expect([pgrpBack.pgrpUsers, pgrpBack.sessionUsers]).toEqual([pgrp.pgrpUsers, pgrp.sessionUsers]);
    // and a second round trip of the loaded host (one child's space now made) keeps it all
    expect(roundTrip(back).host.snapshot()).toEqual(back.host.snapshot());
  }, 30_000);
});

describe('each task\'s own fields', () => {
  it('come back as they were, whichever tasks have them and whatever their neighbours have (the loader compares each with the task before)', () => {
    const field = fc.record({
      exitStatus: fc.constantFrom(0, 0x100, 0x8f00, 9),
      sleepUntil: fc.constantFrom(null, 0, 1, 2 ** 40 + 3),
      clearChildTid: fc.constantFrom(0, 0x1000, 2 ** 33),
      uid: fc.constantFrom(0, 1000, 2 ** 31 + 5),
      effective: fc.constantFrom(0, 2 ** 40 - 1, 2 ** 41 - 1),
      permitted: fc.constantFrom(0, 2 ** 41 - 1),
    });
    fc.assert(
      fc.property(fc.array(field, { minLength: 6, maxLength: 6 }), (values) => {
        const m = Machine.create('fields', 'x86_64');
        const l = libcOf(m.host, m.host.init);
        const kids = values.map(() => l.fork().child!);
        kids.forEach((t, i) => {
          const v = values[i]!;
          t.exitStatus = v.exitStatus;
          t.sleepUntil = v.sleepUntil;
          t.clearChildTid = v.clearChildTid;
          t.creds = { ...t.creds, uid: v.uid, euid: v.uid, effective: v.effective, permitted: v.permitted };
        });
        const back = [...roundTrip(m).host.tasks].slice(1);
        expect(back.map((t) => ({ exitStatus: t.exitStatus, sleepUntil: t.sleepUntil, clearChildTid: t.clearChildTid, uid: t.creds.uid, effective: t.creds.effective, permitted: t.creds.permitted }))).toEqual(values);
        expect(back.map((t) => [t.creds.euid, t.creds.suid])).toEqual(kids.map((t) => [t.creds.euid, t.creds.suid]));
      }),
      { numRuns: 40 },
    );
  }, 60_000);
});
