/** A machine survives encode → decode exactly: same snapshot, same consoles, and it continues the same way. */
import { readFileSync } from 'node:fs';
import { encode, decode } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { decodeMachine, encodeMachine, type MachineRecord } from '../../src/store/machine-codec.js';
import { unpackMms } from '../../src/store/part-columns.js';
import { ALL_ARCHES } from '../helpers.js';

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
  });
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
  });
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
  });
});
