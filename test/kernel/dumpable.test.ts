/**
 * Whether a task is dumpable is its address space's flag (docs/semantics.md §12): a setuid marks the
 * address space once, every task using it reads it there, a fork copies it as it is at the fork, and
 * an exited task keeps the flag it had at its exit. A host copy, a host file and an image keep each
 * task's flag, unmade forks' too.
 */
import { describe, expect, it } from 'vitest';
import { CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, Host, type Task } from '../../src/index.js';
import { Machine } from '../../src/container/machine.js';
import { KERNEL_NAMES } from '../../src/kernel/personality.js';
import { libcOf } from '../../src/program/libc.js';
import { decodeMachine, encodeMachine } from '../../src/store/machine-codec.js';

const THREAD = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;

/** flags lists each task's flag by its pid at the root, as a record of the host would */
const flags = (h: Host): Array<[number, boolean]> => [...h.tasks].map((t): [number, boolean] => [t.pid.nr, t.nondumpable]).sort((a, b) => a[0] - b[0]);

describe.each(KERNEL_NAMES)('the not-dumpable flag (%s)', (kernel) => {
  it('is copied by a fork as it is at the fork: a child forked before a setuid stays dumpable, one forked after is not', () => {
    const h = Host.create({ arch: 'x86_64', kernel });
    const p = libcOf(h, h.init).fork().child!;
    const before = libcOf(h, p).fork().child!;
    const alsoBefore = libcOf(h, p).fork().child!;
    expect(libcOf(h, p).setuid(1000).ret).toBe(0);
    // forked with nothing of the parent's memory changed since the first two: the fork must not reuse their copy
    const after = libcOf(h, p).fork().child!;
    expect([p.nondumpable, before.nondumpable, alsoBefore.nondumpable, after.nondumpable]).toEqual([true, false, false, true]);
    // a child's own setuid marks its own address space only
    expect(libcOf(h, before).setuid(1000).ret).toBe(0);
    expect([before.nondumpable, alsoBefore.nondumpable]).toEqual([true, false]);
    // and every record of the host keeps each task's flag, unmade forks' too
    const m = new Machine('m', h);
    expect(flags(decodeMachine(encodeMachine(m)).host)).toEqual(flags(h));
    expect(flags(m.copy().host)).toEqual(flags(h));
  });

  it('is the address space\'s: a thread\'s setuid marks its siblings, an exited leader keeps its own, and a record keeps both', () => {
    const h = Host.create({ arch: 'x86_64', kernel });
    const p = libcOf(h, h.init).fork().child!;
    const t1 = libcOf(h, p).clone(THREAD, 0, 0, 0, 0).child!;
    const t2 = libcOf(h, p).clone(THREAD, 0, 0, 0, 0).child!;
    libcOf(h, p).exit(0); // the leader exits first: a zombie while its threads live
    expect(libcOf(h, t1).setuid(1000).ret).toBe(0);
    expect([p.nondumpable, t1.nondumpable, t2.nondumpable]).toEqual([false, true, true]);
    expect(t2.creds.euid).toBe(0); // t2's own credentials never changed
    const copies = [decodeMachine(encodeMachine(new Machine('m', h))).host, new Machine('m', h).copy().host];
    for (const c of copies) {
      expect(flags(c)).toEqual(flags(h));
      // in the copy too the flag is the address space's: what t2 forks now is not dumpable
      const t2c = [...c.tasks].find((t: Task) => t.pid.nr === t2.pid.nr)!;
      expect(libcOf(c, t2c).fork().child!.nondumpable).toBe(true);
    }
  });
});
