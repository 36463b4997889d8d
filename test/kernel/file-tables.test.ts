/**
 * A fork copies its parent's open-file table; CLONE_FILES shares it
 * (clone(2)). The copy of an empty table is made only when first used
 * (src/kernel/thread-group.ts), which must look exactly like a copy made at
 * fork time: each side's opens and closes stay its own, and a shared table
 * stays shared.
 */
import { describe, expect, it } from 'vitest';
import { CLONE_FILES, Host, SIGCHLD } from '../../src/index.js';
import { ALL_ARCHES } from '../helpers.js';
import { libcOf } from '../../src/program/libc.js';

const NS_LAST_PID = '/proc/sys/kernel/ns_last_pid';
const O_RDWR = 2;

describe.each(ALL_ARCHES)('open-file tables on %s', (arch) => {
  it('a fork of a process with no open file gets an empty table of its own, whoever opens first', () => {
    const h = Host.create({ arch });
    const parent = libcOf(h, h.init).fork().child!;
    const a = libcOf(h, parent).fork().child!;
    const b = libcOf(h, parent).fork().child!;
    expect(libcOf(h, a).open(NS_LAST_PID, O_RDWR).ret).toBe(0);
    // the parent and b still have nothing open: their lowest free descriptor is 0 too
    expect(libcOf(h, parent).open(NS_LAST_PID, O_RDWR).ret).toBe(0);
    expect(libcOf(h, b).close(0).errno).toBe('EBADF');
    expect(libcOf(h, a).open(NS_LAST_PID, O_RDWR).ret).toBe(1);
    // a fork after the parent opened one copies it
    const c = libcOf(h, parent).fork().child!;
    expect(libcOf(h, c).open(NS_LAST_PID, O_RDWR).ret).toBe(1);
    expect(libcOf(h, parent).open(NS_LAST_PID, O_RDWR).ret).toBe(1);
    const snap = h.snapshot();
    const tables = new Set([a, b, c, parent].map((t) => snap.tasks.find((x) => x.nspids[0] === t.pid.nr)!.files));
    expect(tables.size).toBe(4);
  });

  it('CLONE_FILES from a process with no open file shares one table both ways', () => {
    const h = Host.create({ arch });
    const parent = libcOf(h, h.init).fork().child!;
    const sharer = libcOf(h, parent).clone(SIGCHLD | CLONE_FILES, 0, 0, 0, 0).child!;
    expect(libcOf(h, sharer).open(NS_LAST_PID, O_RDWR).ret).toBe(0);
    expect(libcOf(h, parent).open(NS_LAST_PID, O_RDWR).ret).toBe(1);
    expect(libcOf(h, sharer).close(1).ret).toBe(0);
    expect(libcOf(h, parent).close(0).ret).toBe(0);
    expect(libcOf(h, sharer).close(0).errno).toBe('EBADF');
  });
});
