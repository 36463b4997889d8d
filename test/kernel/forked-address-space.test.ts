/**
 * fork leaves a child a ForkedAddressSpace (the parent's mappings and page
 * table as they were, holding one share of the table) until the child first
 * touches its memory, and hands the same one to every fork while the
 * parent's mappings and table stay the same objects. These tests hold that
 * to what a copy made at each fork would be: any run of forks, writes,
 * reads and exits, in any order, leaves every task's memory exactly what a
 * flat array copied at each fork and written by its own task alone holds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Host, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE, type Task } from '../../src/index.js';
import { ALL_ARCHES } from '../helpers.js';
import { libcOf } from '../../src/program/libc.js';

const SPAN = 2 * 4096;

/** spaceOf reads a task's private address-space slot: a ForkedAddressSpace until first use. */
function spaceOf(t: Task): unknown {
  return (t as unknown as { space: unknown }).space;
}

const op = fc.oneof(
  fc.record({ kind: fc.constant('fork' as const), who: fc.nat() }),
  fc.record({ kind: fc.constant('write' as const), who: fc.nat(), at: fc.integer({ min: 0, max: SPAN - 1 }), len: fc.integer({ min: 1, max: 40 }), seed: fc.nat(255) }),
  fc.record({ kind: fc.constant('read' as const), who: fc.nat(), at: fc.integer({ min: 0, max: SPAN - 1 }), len: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('reap' as const), who: fc.nat() }),
);

describe('the address space a fork leaves', () => {
  it('any run of forks, writes, reads and exits leaves each task the memory a copy at each fork would', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.constantFrom(...ALL_ARCHES), fc.array(op, { minLength: 10, maxLength: 60, size: 'max' }), (arch, ops) => {
        const h = Host.create({ arch });
        const base = libcOf(h, h.init).mmap(0, SPAN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ret;
        const model = new Map<Task, Uint8Array>([[h.init, new Uint8Array(SPAN)]]);
        const live = (): Task[] => [...model.keys()];
        for (const o of ops) {
          const tasks = live();
          const t = tasks[o.who % tasks.length]!;
          if (o.kind === 'fork') {
            const child = libcOf(h, t).fork().child!;
            model.set(child, model.get(t)!.slice());
          } else if (o.kind === 'write') {
            const len = Math.min(o.len, SPAN - o.at);
            const bytes = Uint8Array.from({ length: len }, (_, i) => (o.seed + i * 13) & 0xff);
            libcOf(h, t).store(base + o.at, bytes);
            model.get(t)!.set(bytes, o.at);
          } else if (o.kind === 'read') {
            const len = Math.min(o.len, SPAN - o.at);
            expect([...libcOf(h, t).load(base + o.at, len)]).toEqual([...model.get(t)!.subarray(o.at, o.at + len)]);
          } else if (t !== h.init) {
            // exit, reaped by its parent (or by init once reparented): its share of the table goes
            const parent = t.parent!;
            libcOf(h, t).exit(0);
            expect(libcOf(h, parent).wait4(t.pid.nrIn(parent.activeNs), 0, 0, 0).ret).toBe(t.pid.nrIn(parent.activeNs));
            model.delete(t);
          }
        }
        for (const [t, bytes] of model) expect([...libcOf(h, t).load(base, SPAN)]).toEqual([...bytes]);
      }),
      { numRuns: 200 },
    );
  });

  it('a MAP_SHARED page first written after a fork, by either side, is seen by both (one shmem object, as on Linux)', () => {
    for (const arch of ALL_ARCHES) {
      const h = Host.create({ arch });
      const l = libcOf(h, h.init);
      const shared = l.mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0).ret;
      l.store(shared, Uint8Array.of(1)); // the first page written before the fork, the others not
      const child = l.fork().child!;
      const grandchild = libcOf(h, child).fork().child!;
      libcOf(h, child).store(shared + 4096, Uint8Array.of(2));
      l.store(shared + 2 * 4096 + 5, Uint8Array.of(3));
      for (const t of [h.init, child, grandchild]) {
        const seen = libcOf(h, t);
        expect([seen.load(shared, 1)[0], seen.load(shared + 4096, 1)[0], seen.load(shared + 2 * 4096 + 5, 1)[0]]).toEqual([1, 2, 3]);
      }
    }
  });

  it("a restorer's children share one snapshot until one of them, or the restorer, changes something", () => {
    const h = Host.create({ arch: 'x86_64' });
    const l = libcOf(h, h.init);
    const shared = l.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0).ret;
    const kids = Array.from({ length: 4 }, (_, i) => {
      l.store(shared, Uint8Array.of(i)); // a MAP_SHARED page is written in place: the table stays the same object
      return l.fork().child!;
    });
    const first = spaceOf(kids[0]!);
    expect(first).not.toBe(spaceOf(h.init));
    for (const k of kids) expect(spaceOf(k)).toBe(first);
    // A private write gives the restorer a table of its own: the next fork gets a new snapshot.
    const priv = l.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ret;
    const late = l.fork().child!;
    expect(spaceOf(late)).not.toBe(first);
    l.store(priv, Uint8Array.of(7));
    // The restorer's table was replaced: it no longer holds the old snapshot (and with it the old table) for a next fork.
    expect((h.init.mm as unknown as { lastFork: unknown }).lastFork).toBeNull();
    const later = l.fork().child!;
    expect(spaceOf(later)).not.toBe(spaceOf(late));
    // Each child sees the shared page as it is now, and the private one as it was at its fork.
    for (const k of kids) expect([...libcOf(h, k).load(shared, 1)]).toEqual([3]);
    expect([...libcOf(h, late).load(priv, 1)]).toEqual([0]);
    expect([...libcOf(h, later).load(priv, 1)]).toEqual([7]);
    // Touching memory gives a child an address space of its own; the others keep the snapshot.
    expect(spaceOf(kids[0]!)).not.toBe(first);
    expect(kids[0]!.mm).not.toBe(kids[1]!.mm);
  });

  it('a snapshot reused after the children that held it have gone shows what the parent wrote since', () => {
    const h = Host.create({ arch: 's390x' });
    const l = libcOf(h, h.init);
    const priv = l.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ret;
    l.store(priv, Uint8Array.of(1));
    const a = l.fork().child!;
    const nr = a.pid.nr;
    libcOf(h, a).exit(0); // its share of the table goes: the restorer owns the table alone again
    expect(l.wait4(nr, 0, 0, 0).ret).toBe(nr);
    l.store(priv, Uint8Array.of(2)); // written in place: nobody else shares the table
    const b = l.fork().child!;
    expect([...libcOf(h, b).load(priv, 1)]).toEqual([2]);
    l.store(priv, Uint8Array.of(3));
    expect([...libcOf(h, b).load(priv, 1)]).toEqual([2]);
    expect([...l.load(priv, 1)]).toEqual([3]);
  });

  it('replacing the address space of children, touched or not, gives their shares of the table back (exec_mmap)', () => {
    for (const arch of ALL_ARCHES) {
      const h = Host.create({ arch });
      const l = libcOf(h, h.init);
      const base = l.mmap(0, SPAN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ret;
      h.init.mm.write(base, Uint8Array.of(7));
      const children = [l.fork().child!, l.fork().child!, l.fork().child!];
      expect(h.init.mm.isShared(base)).toBe(true);
      // one child has touched its memory and has an address space of its own; the others have not
      expect(libcOf(h, children[0]!).load(base, 1)).toEqual(Uint8Array.of(7));
      expect(children.map((c) => (spaceOf(c) as object).constructor.name)).toEqual(['MemoryMap', 'ForkedAddressSpace', 'ForkedAddressSpace']);
      for (const c of children) c.replaceSpace(h.newAddressSpace(c.abi));
      expect(children.map((c) => (spaceOf(c) as object).constructor.name)).toEqual(['MemoryMap', 'MemoryMap', 'MemoryMap']);
      // every share is back: the parent's next write is in place, its page no longer shared
      expect(h.init.mm.isShared(base)).toBe(false);
      expect(libcOf(h, h.init).load(base, 1)).toEqual(Uint8Array.of(7));
    }
  });
});
