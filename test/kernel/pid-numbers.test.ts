/**
 * A struct pid keeps one number per level (docs/semantics.md §2.1, §2.3), stored in
 * slabs shared by many pids (src/kernel/slabs.ts). Sharing the storage must
 * not share the numbers: every pid of a deep tree keeps its own across slab
 * boundaries, through frees and reuse, and `numbers` is a copy.
 */
import { describe, expect, it } from 'vitest';
import { CLONE_NEWPID, Host, SIGCHLD } from '../../src/index.js';
import { UserNamespace } from '../../src/kernel/credentials.js';
import { Pid } from '../../src/kernel/pid.js';
import { PidNamespace } from '../../src/kernel/pid-namespace.js';
import { nestedInit } from '../helpers.js';
import { libcOf } from '../../src/program/libc.js';

describe('pid numbers', () => {
  // The storage is the same on every ABI: one of each byte order is enough.
  it.each(['i386', 's390x'])('on %s, 12,000 tasks three levels deep (several slabs) keep their numbers at every level, through exits and reuse', { timeout: 60_000 }, (arch) => {
    const h = Host.create({ arch });
    const c2 = nestedInit(h, 2);
    const l = libcOf(h, c2);
    const kids = [];
    for (let i = 0; i < 12_000; i++) {
      const want = [1_000 + i, 14_000 + i, 2_000 + i];
      kids.push({ task: l.eclone(SIGCHLD, { nr_pids: 3 }, 48, want).child!, want });
    }
    // every other child exits and is reaped: its numbers are free again
    for (let i = 0; i < kids.length; i += 2) libcOf(h, kids[i]!.task).exit(0);
    for (let i = 0; i < kids.length; i += 2) expect(l.wait4(kids[i]!.want[2]!, 0, 0, 0).ret).toBe(kids[i]!.want[2]);
    for (let i = 1; i < kids.length; i += 2) {
      const { task, want } = kids[i]!;
      expect(task.nspids).toEqual(want);
      expect(libcOf(h, task).getpid().ret).toBe(want[2]);
      expect(task.pid.nrIn(h.rootPidNs)).toBe(want[0]);
    }
    // the freed numbers are taken again by new pids, which hold their own copies
    const again = l.eclone(SIGCHLD, { nr_pids: 3 }, 48, [1_000, 14_000, 2_000]).child!;
    expect(again.nspids).toEqual([1_000, 14_000, 2_000]);
    expect(kids[1]!.task.nspids).toEqual(kids[1]!.want);
  });

  it('numbers is a copy: changing it changes no pid', () => {
    const h = Host.create({ arch: 'x86_64' });
    const child = libcOf(h, h.init).eclone(SIGCHLD | CLONE_NEWPID, { nr_pids: 1 }, 48, [377]).child!;
    const numbers = child.pid.numbers;
    numbers[0] = 9;
    expect(child.pid.numbers).toEqual([377, 1]);
    expect(child.pid.nr).toBe(377);
    expect(child.pid.vnr).toBe(1);
  });

  it('a pid needs a number for every level of its namespace', () => {
    const userNs = new UserNamespace(null, 0);
    const ns = new PidNamespace(new PidNamespace(null, userNs, 32768), userNs, 32768);
    expect(() => new Pid(ns, [5])).toThrow(RangeError);
    expect(new Pid(ns, [5, 6, 7]).numbers).toEqual([5, 6]);
  });
});
