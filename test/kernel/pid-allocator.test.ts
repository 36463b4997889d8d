/**
 * The pid allocator (docs/semantics.md §3): on 2.6.32, first pass
 * from 1, wrap to RESERVED_PIDS; on mainline, idr_alloc_cyclic's wrap;
 * targeted allocation never moving last_pid, innermost first with exact
 * rollback, and word-at-a-time scans up to PID_MAX_LIMIT.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PID_MAX_LIMIT, RESERVED_PIDS } from '../../src/abi/limits.js';
import { UserNamespace } from '../../src/kernel/credentials.js';
import { KernelError } from '../../src/kernel/kernel-error.js';
import { allocAuto, allocPidEclone, allocPidSetTid } from '../../src/kernel/pid-allocator.js';
import { PidBitmap } from '../../src/kernel/pid-bitmap.js';
import { PidNamespace } from '../../src/kernel/pid-namespace.js';
import { kernelRules, type KernelName } from '../../src/kernel/personality.js';

const userNs = new UserNamespace(null, 0);
/** nest makes namespaces `depth` levels below a root; 2.6.32 unless said, the kernel most of these rules are about */
const nest = (depth: number, pidMax = 32768, kernel: KernelName = '2.6.32'): PidNamespace => {
  let ns = new PidNamespace(null, userNs, pidMax, kernelRules(kernel));
  for (let i = 0; i < depth; i++) ns = new PidNamespace(ns, userNs, pidMax);
  return ns;
};
const errnoOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof KernelError) return e.errno;
    throw e;
  }
  return 'none';
};

describe('PidBitmap', () => {
  it('finds the lowest free bit from any starting point, across words and pages', () => {
    const b = new PidBitmap(100_000);
    for (let i = 0; i < 70_000; i++) b.set(i);
    expect(b.findZero(0, 100_000)).toBe(70_000);
    b.clear(31);
    b.clear(33_000);
    expect(b.findZero(0, 100_000)).toBe(31);
    expect(b.findZero(32, 100_000)).toBe(33_000);
    expect(b.findZero(33_001, 70_000)).toBe(-1);
    expect(b.test(33_000)).toBe(false);
    expect(b.set(33_000)).toBe(true);
    expect(b.set(33_000)).toBe(false);
  });

  it('lists its taken bits as runs, as a bit-by-bit scan finds them', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 99_999 }), { maxLength: 300 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 1, max: 40_000 })), { maxLength: 3 }), (bits, spans) => {
        const b = new PidBitmap(100_000);
        for (const nr of bits) b.set(nr);
        for (const [first, n] of spans) for (let nr = first; nr < Math.min(first + n, 100_000); nr++) b.set(nr);
        const runs: number[] = [];
        let start = -1;
        for (let nr = 0; nr <= 100_000; nr++) {
          const set = nr < 100_000 && b.test(nr);
          if (set && start < 0) start = nr;
          if (!set && start >= 0) {
            runs.push(start, nr - start);
            start = -1;
          }
        }
        expect(b.takenRuns()).toEqual(runs);
      }),
      { numRuns: 60 },
    );
  }, 60_000);

  it('takes a run of pids as setting each of them would: the same bits, the same free pids found, the same runs listed', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 99_999 }), { maxLength: 200 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 0, max: 70_000 })), { maxLength: 4 }), fc.array(fc.integer({ min: 0, max: 99_999 }), { maxLength: 20 }), (bits, spans, cleared) => {
        const [byRun, byBit] = [new PidBitmap(100_000), new PidBitmap(100_000)];
        for (const nr of bits) [byRun, byBit].forEach((b) => b.set(nr));
        for (const [first, n] of spans) {
          const count = Math.min(n, 100_000 - first);
          byRun.setRun(first, count);
          for (let nr = first; nr < first + count; nr++) byBit.set(nr);
        }
        // a page's free count decides whether findZero looks into it: clearing a bit of a page the run filled must show it free
        for (const nr of cleared) [byRun, byBit].forEach((b) => b.clear(nr));
        expect(byRun.takenRuns()).toEqual(byBit.takenRuns());
        for (const from of [0, 1, 31, 32, 32_767, 32_768, 65_536, 99_000, ...cleared]) expect(byRun.findZero(from, 100_000)).toBe(byBit.findZero(from, 100_000));
      }),
      { numRuns: 80 },
    );
  }, 60_000);

  it('never reports a bit at or beyond its limit', () => {
    const b = new PidBitmap(40);
    for (let i = 0; i < 40; i++) b.set(i);
    expect(b.findZero(0, 1000)).toBe(-1);
  });
});

describe('auto allocation (alloc_pidmap)', () => {
  it('hands out 1, 2, 3 on a fresh namespace', () => {
    const ns = nest(0);
    expect([allocAuto(ns), allocAuto(ns), allocAuto(ns)]).toEqual([1, 2, 3]);
    expect(ns.lastPid).toBe(3);
  });

  it('wraps to RESERVED_PIDS: pids below 300 come only on the first pass', () => {
    const ns = nest(0, 1000);
    for (let i = 1; i < 1000; i++) expect(allocAuto(ns)).toBe(i);
    ns.bitmap.clear(5);
    ns.bitmap.clear(450);
    expect(allocAuto(ns)).toBe(450);
    expect(allocAuto(ns)).toBe(-1); // 5 stays free forever
    expect(ns.bitmap.test(5)).toBe(false);
  });

  it('scans up from last_pid + 1 before wrapping', () => {
    const ns = nest(0, 1000);
    for (let i = 1; i < 600; i++) allocAuto(ns);
    ns.bitmap.clear(400);
    expect(allocAuto(ns)).toBe(600);
    ns.lastPid = 999;
    expect(allocAuto(ns)).toBe(400);
  });

  it('finds the one free pid of a full 4,194,304-pid namespace, wherever it is', () => {
    const ns = nest(0, PID_MAX_LIMIT);
    for (let nr = 1; nr < PID_MAX_LIMIT; nr++) ns.bitmap.set(nr);
    const hole = 3_000_017;
    ns.bitmap.clear(hole);
    ns.lastPid = 4_000_000;
    expect(allocAuto(ns)).toBe(hole);
    expect(allocAuto(ns)).toBe(-1);
    ns.bitmap.clear(PID_MAX_LIMIT - 1);
    expect(allocAuto(ns)).toBe(PID_MAX_LIMIT - 1);
  });

  it('allocates near the top of a 4,194,304-pid namespace', () => {
    const ns = nest(0, PID_MAX_LIMIT);
    ns.lastPid = PID_MAX_LIMIT - 3;
    expect(allocAuto(ns)).toBe(PID_MAX_LIMIT - 2);
    expect(allocAuto(ns)).toBe(PID_MAX_LIMIT - 1);
    expect(allocAuto(ns)).toBe(RESERVED_PIDS);
  });
});

describe('auto allocation on mainline (idr_alloc_cyclic, kernel/pid.c alloc_pid v6.12)', () => {
  it('a fresh namespace reads last_pid -1 and hands out 1, 2, 3', () => {
    const ns = nest(0, 32768, 'mainline');
    expect(ns.lastPid).toBe(-1);
    expect([allocAuto(ns), allocAuto(ns), allocAuto(ns)]).toEqual([1, 2, 3]);
    expect(ns.lastPid).toBe(3);
  });

  it('pid_max 302, only last_pid itself free: the wrapped pass finds it (2.6.32: none)', () => {
    for (const kernel of ['mainline', '2.6.32'] as const) {
      const ns = nest(0, 302, kernel);
      for (let nr = 1; nr < 302; nr++) ns.bitmap.set(nr);
      ns.bitmap.clear(300);
      ns.lastPid = 300;
      expect({ kernel, nr: allocAuto(ns) }).toEqual({ kernel, nr: kernel === 'mainline' ? 300 : -1 });
    }
  });

  it('last_pid 299 with 300..301 taken: the cursor has not passed 300, so it wraps to the lowest free pid (2.6.32: none)', () => {
    for (const kernel of ['mainline', '2.6.32'] as const) {
      const ns = nest(0, 302, kernel);
      ns.bitmap.set(1);
      ns.bitmap.set(300);
      ns.bitmap.set(301);
      ns.lastPid = 299;
      expect({ kernel, nr: allocAuto(ns) }).toEqual({ kernel, nr: kernel === 'mainline' ? 2 : -1 });
    }
  });

  it('past 300 the wrap goes back to 300, not below', () => {
    const ns = nest(0, 1000, 'mainline');
    for (let i = 1; i < 1000; i++) expect(allocAuto(ns)).toBe(i);
    ns.bitmap.clear(5);
    ns.bitmap.clear(450);
    expect(allocAuto(ns)).toBe(450);
    expect(allocAuto(ns)).toBe(-1);
  });

  it('exhaustion at an auto level is EAGAIN through eclone\'s allocator (2.6.32: EBUSY)', () => {
    for (const kernel of ['mainline', '2.6.32'] as const) {
      const ns = nest(0, 301, kernel);
      for (let nr = 1; nr < 301; nr++) ns.bitmap.set(nr);
      expect({ kernel, errno: errnoOf(() => allocPidEclone(ns, null)) }).toEqual({ kernel, errno: kernel === 'mainline' ? 'EAGAIN' : 'EBUSY' });
    }
  });

  it('a failed first allocation puts the cursor back to -1', () => {
    const ns = nest(1, 32768, 'mainline');
    allocPidEclone(ns.chain[0]!, [900]);
    // level 1 takes pid 1 automatically (cursor to 2), then level 0's 900 is taken
    expect(errnoOf(() => allocPidEclone(ns, [900, 0]))).toBe('EBUSY');
    expect(ns.lastPid).toBe(-1);
    expect(ns.bitmap.test(1)).toBe(false);
  });
});

describe('allocPidEclone (eclone kernel personality)', () => {
  it('takes innermost first and leaves last_pid alone for targeted levels', () => {
    const ns = nest(2);
    const pid = allocPidEclone(ns, [377, 0, 42]);
    expect(pid.numbers).toEqual([377, 1, 42]);
    expect(ns.chain.map((n) => n.lastPid)).toEqual([0, 1, 0]);
    expect(pid.nrIn(ns.chain[1]!)).toBe(1);
    expect(pid.vnr).toBe(42);
  });

  for (const failing of [0, 1, 2]) {
    it(`a failure at level ${failing} releases exactly what deeper levels took`, () => {
      const ns = nest(2);
      allocPidEclone(ns, [50, 50, 50]); // occupies 50 everywhere
      const before = ns.chain.map((n) => [...n.pids.keys()]);
      const targets = [60, 60, 60];
      targets[failing] = 50;
      expect(errnoOf(() => allocPidEclone(ns, targets))).toBe('EBUSY');
      expect(ns.chain.map((n) => [...n.pids.keys()])).toEqual(before);
      for (const n of ns.chain) expect(n.bitmap.test(60)).toBe(false);
    });
  }

  it('a single free pid left: targeted takes it, the next is EBUSY', () => {
    const ns = nest(0, 400);
    for (let i = 1; i < 400; i++) if (i !== 333) ns.bitmap.set(i);
    ns.lastPid = 399;
    expect(allocPidEclone(ns, [333]).vnr).toBe(333);
    expect(errnoOf(() => allocPidEclone(ns, null))).toBe('EBUSY');
  });
});

describe('allocPidSetTid (mainline personality)', () => {
  it('set_tid[0] is the innermost level and errors carry mainline errnos', () => {
    const ns = nest(1);
    ns.childReaper = {} as never;
    ns.chain[0]!.childReaper = {} as never;
    expect(allocPidSetTid(ns, [7, 900], () => true).numbers).toEqual([900, 7]);
    expect(errnoOf(() => allocPidSetTid(ns, [8, 900], () => true))).toBe('EEXIST');
    expect(errnoOf(() => allocPidSetTid(ns, [0], () => true))).toBe('EINVAL');
    expect(errnoOf(() => allocPidSetTid(ns, [8], () => false))).toBe('EPERM');
    expect(ns.bitmap.test(8)).toBe(false);
  });

  it('resets the cursor of a namespace whose first allocation failed', () => {
    const ns = nest(1);
    ns.chain[0]!.childReaper = {} as never;
    allocPidSetTid(ns.chain[0]!, [900], () => true);
    expect(errnoOf(() => allocPidSetTid(ns, [1, 900], () => true))).toBe('EEXIST');
    expect(ns.lastPid).toBe(0);
    expect(errnoOf(() => allocPidEclone(ns, [900, 0]))).toBe('EBUSY');
    expect(ns.lastPid).toBe(0);
    expect(allocPidEclone(ns, null).vnr).toBe(1);
  });
});
