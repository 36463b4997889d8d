/**
 * A host holds 100,000s of tasks, so Task, ThreadGroup and MemoryMap keep
 * what few of them use out of the objects themselves: a task's rare state
 * (children, a blocked call, a timer, an exit status, a clear-tid address, a
 * program, a namespace for children) in a record made on first write, a
 * group's five flags and stop signal in one number, an address space's
 * ABI constants in one shared layout. These tests hold each to what plain
 * fields would do: every value kept apart from every other, defaults read
 * back where nothing was written, and nothing made where nothing was set.
 */
import { describe, expect, it } from 'vitest';
import { CLONE_NEWPID, Host, type Task } from '../../src/index.js';
import { NSIG, SIGSTOP } from '../../src/abi/signals.js';
import { addressSpaceLayout } from '../../src/kernel/memory-map.js';
import { NO_EXTRA } from '../../src/kernel/task.js';
import { ThreadGroup } from '../../src/kernel/thread-group.js';
import { ALL_ARCHES } from '../helpers.js';
import { libcOf } from '../../src/program/libc.js';

/** rareOf reads the private record, to check that it is made only when needed. */
function rareOf(t: Task): unknown {
  return (t as unknown as { rare: unknown }).rare;
}

describe("a task's rare state", () => {
  it('a forked child with nothing rare carries no record, and reads every default', () => {
    const h = Host.create({ arch: 'x86_64' });
    const child = libcOf(h, h.init).fork().child!;
    expect(rareOf(child)).toBeNull();
    expect(child.exitStatus).toBe(0);
    expect(child.blockedIn).toBeNull();
    expect(child.sleepUntil).toBeNull();
    expect(child.clearChildTid).toBe(0);
    expect(child.exePath).toBeNull();
    expect(child.pidNsForChildren).toBe(child.activeNs);
    expect(child.childCount).toBe(0);
    expect([...child.children()]).toEqual([]);
    // Writing the defaults makes nothing either.
    child.blockedIn = null;
    child.sleepUntil = null;
    child.clearChildTid = 0;
    child.exePath = null;
    child.pidNsForChildren = child.activeNs;
    expect(rareOf(child)).toBeNull();
    // Its first child gives it a children list.
    const grandchild = libcOf(h, child).fork().child!;
    expect(rareOf(child)).not.toBeNull();
    expect([...child.children()]).toEqual([grandchild]);
  });

  it('keeps each field apart: writing one leaves the others as they were', () => {
    const h = Host.create({ arch: 'x86_64' });
    const t = libcOf(h, h.init).fork().child!;
    const ns = libcOf(h, t).unshare(CLONE_NEWPID);
    expect(ns.ret).toBe(0);
    const own = t.activeNs;
    const forChildren = t.pidNsForChildren;
    expect(forChildren).not.toBe(own);
    const values = { exitStatus: 0x100, blockedIn: 'wait4', sleepUntil: 17, clearChildTid: 0x1000, exePath: '/bin/x' } as const;
    const fields = Object.keys(values) as Array<keyof typeof values>;
    for (const f of fields) (t as unknown as Record<string, unknown>)[f] = values[f];
    for (const f of fields) expect(t[f]).toBe(values[f]);
    const defaults = { exitStatus: 0, blockedIn: null, sleepUntil: null, clearChildTid: 0, exePath: null };
    for (const reset of fields) {
      (t as unknown as Record<string, unknown>)[reset] = defaults[reset];
      for (const f of fields) expect(t[f]).toBe(f === reset ? defaults[f] : values[f]);
      (t as unknown as Record<string, unknown>)[reset] = values[reset];
    }
    expect(t.pidNsForChildren).toBe(forChildren);
    expect(t.activeNs).toBe(own);
  });

  it("a child of an unshared task lands in the new namespace, and the child's own namespace for children is its own", () => {
    const h = Host.create({ arch: 's390x' });
    const t = libcOf(h, h.init).fork().child!;
    expect(libcOf(h, t).unshare(CLONE_NEWPID).ret).toBe(0);
    const child = libcOf(h, t).fork().child!;
    expect(child.activeNs).toBe(t.pidNsForChildren);
    expect(child.activeNs.level).toBe(1);
    expect(child.pidNsForChildren).toBe(child.activeNs);
    expect(child.nspids[1]).toBe(1);
  });
});

describe("a thread group's flags", () => {
  const FLAGS = ['unkillable', 'sessionLeader', 'stopped', 'stopReportPending', 'continueReportPending'] as const;

  function group(): ThreadGroup {
    const h = Host.create({ arch: 'ppc' });
    const t = libcOf(h, h.init).fork().child!;
    return t.group;
  }

  it('holds every combination of the five flags with any stop signal, each read back as written', () => {
    const g = group();
    for (let bits = 0; bits < 1 << FLAGS.length; bits++) {
      for (const sig of [0, 1, SIGSTOP, NSIG]) {
        FLAGS.forEach((f, i) => (g[f] = (bits & (1 << i)) !== 0));
        g.stopSignal = sig;
        FLAGS.forEach((f, i) => expect(g[f], `${f} in ${bits} with signal ${sig}`).toBe((bits & (1 << i)) !== 0));
        expect(g.stopSignal).toBe(sig);
        // Flipping one flag changes that one alone.
        for (const [i, f] of FLAGS.entries()) {
          g[f] = !g[f];
          FLAGS.forEach((other, j) => expect(g[other]).toBe(((bits & (1 << j)) !== 0) !== (i === j)));
          expect(g.stopSignal).toBe(sig);
          g[f] = !g[f];
        }
      }
    }
  });

  it('a new group has every flag clear and no stop signal', () => {
    const g = group();
    for (const f of FLAGS) expect(g[f]).toBe(false);
    expect(g.stopSignal).toBe(0);
  });

  it('refuses a stop signal that is not a signal number', () => {
    const g = group();
    for (const bad of [-1, NSIG + 1, 1.5, Number.NaN]) expect(() => (g.stopSignal = bad)).toThrow(RangeError);
    expect(g.stopSignal).toBe(0);
  });
});

describe("an address space's layout", () => {
  it.each(ALL_ARCHES)('%s: every address space of a host shares one layout holding the ABI values, through fork', (arch) => {
    const h = Host.create({ arch });
    const child = libcOf(h, h.init).fork().child!;
    const { layout } = h.init.mm;
    expect(child.mm).not.toBe(h.init.mm);
    expect(child.mm.layout).toBe(layout);
    expect(layout).toBe(addressSpaceLayout(h.arch));
    const { zeroView, ...values } = layout;
    expect(values).toEqual({ pageSize: h.arch.pageSize, taskSize: h.arch.taskSize, mmapBase: h.arch.mmapBase, zeroPage: new Uint8Array(h.arch.pageSize) });
    // the view of the zero page that in-place reads of never-written memory go through
    expect(zeroView.buffer).toBe(layout.zeroPage.buffer);
    expect(zeroView.byteLength).toBe(h.arch.pageSize);
    expect(Object.isFrozen(layout)).toBe(true);
  });
});

describe("a task's state beyond the registers", () => {
  it.each(ALL_ARCHES)('%s: init and its forks share the one empty record when the ABI has none, and have copies of their own when it has some', (arch) => {
    const h = Host.create({ arch });
    const child = libcOf(h, h.init).fork().child!;
    const sizes = Object.entries(h.arch.extraState);
    if (sizes.length === 0) {
      expect(h.init.extra).toBe(NO_EXTRA);
      expect(child.extra).toBe(NO_EXTRA);
      return;
    }
    for (const t of [h.init, child]) expect(Object.entries(t.extra).map(([k, v]) => [k, v.length])).toEqual(sizes);
    expect(child.extra).not.toBe(h.init.extra);
    for (const [name] of sizes) expect(child.extra[name]).not.toBe(h.init.extra[name]);
  });
});
