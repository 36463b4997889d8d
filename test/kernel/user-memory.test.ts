/**
 * copy_from_user / copy_to_user against a plain byte array: any run of
 * writes and reads, of any length (short ones a word at a time when aligned,
 * long ones through subarrays), at any offset (across page edges), into
 * kernel buffers at any alignment, in an address space and in copies forked
 * from it at any point (copy-on-write), with pages unmapped and mapped again
 * between accesses, reads back exactly what a flat array holding the same
 * writes does. The address space's one-entry page cache must never answer
 * for a page that has since been replaced, dropped or copied, nor its
 * mapping cache for a mapping that has gone or lacks the access's protection.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Host, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE, type Task } from '../../src/index.js';
import { KernelError } from '../../src/kernel/kernel-error.js';
import { libcOf } from '../../src/program/libc.js';

const PAGE = 4096;
const SPAN = 3 * PAGE;

/** firstDifference is the first offset where two equally long byte arrays differ, or -1. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : a.length;
}

const access = fc.oneof(
  fc.record({
    op: fc.constantFrom('write' as const, 'read' as const),
    task: fc.nat(),
    at: fc.integer({ min: 0, max: SPAN - 1 }),
    len: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 200 })),
    seed: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({ op: fc.constant('fork' as const), task: fc.nat() }),
  fc.record({ op: fc.constant('remap' as const), task: fc.nat(), page: fc.integer({ min: 0, max: SPAN / PAGE - 1 }) }),
);

describe('user memory copies', () => {
  it('reads return what a flat array with the same writes holds, in the parent and in children forked at any point', () => {
    fc.assert(
      fc.property(fc.array(access, { maxLength: 40, size: 'max' }), (accesses) => {
        const h = Host.create({ arch: 'x86_64' });
        const base = libcOf(h, h.init).mmap(0, SPAN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ret;
        const tasks: Task[] = [h.init];
        const model = new Map<Task, Uint8Array>([[h.init, new Uint8Array(SPAN)]]);
        for (const a of accesses) {
          const t = tasks[a.task % tasks.length]!;
          const flat = model.get(t)!;
          if (a.op === 'fork') {
            const child = libcOf(h, t).fork().child!;
            tasks.push(child);
            model.set(child, flat.slice());
          } else if (a.op === 'remap') {
            // munmap drops the page; mapping it again gives a page that reads as zero
            const addr = base + a.page * PAGE;
            expect(libcOf(h, t).munmap(addr, PAGE).ret).toBe(0);
            expect(libcOf(h, t).mmap(addr, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0).ret).toBe(addr);
            flat.fill(0, a.page * PAGE, (a.page + 1) * PAGE);
          } else if (a.op === 'write') {
            const len = Math.min(a.len, SPAN - a.at);
            // from a buffer at any alignment
            const bytes = new Uint8Array((a.seed & 3) + len).subarray(a.seed & 3);
            for (let i = 0; i < len; i++) bytes[i] = (a.seed + i * 7) & 0xff;
            t.mm.write(base + a.at, bytes);
            flat.set(bytes, a.at);
          } else {
            const len = Math.min(a.len, SPAN - a.at);
            // a kernel buffer at any alignment, with guard bytes after it
            const skew = a.seed & 3;
            const buffer = new Uint8Array(skew + len + 3).fill(0xee);
            const into = buffer.subarray(skew);
            t.mm.readInto(base + a.at, into, len);
            expect([...into.subarray(0, len)]).toEqual([...flat.subarray(a.at, a.at + len)]);
            expect([...buffer.subarray(0, skew), ...into.subarray(len)]).toEqual(new Array(skew + 3).fill(0xee));
          }
        }
        for (const [t, bytes] of model) expect(firstDifference(t.mm.read(base, SPAN), bytes)).toBe(-1);
      }),
      { numRuns: 300 },
    );
  }, 60_000);

  it('the mapping that held the last access still answers for its protection, its end and its removal (mmap_cache)', () => {
    const h = Host.create({ arch: 'x86_64' });
    const l = libcOf(h, h.init);
    const mm = h.init.mm;
    const efault = expect.objectContaining<Partial<KernelError>>({ errno: 'EFAULT' });
    const ro = l.mmap(0, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ret;
    mm.readInto(ro, new Uint8Array(8));
    expect(() => mm.write(ro, new Uint8Array(8))).toThrow(efault);
    const rw = l.mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ret;
    mm.write(rw + PAGE, Uint8Array.of(1, 2, 3, 4));
    expect(l.munmap(rw + PAGE, PAGE).ret).toBe(0);
    expect(() => mm.readInto(rw + PAGE, new Uint8Array(4))).toThrow(efault);
    mm.write(rw, new Uint8Array(8));
    // a range running past the end of the mapping that held the last one
    expect(() => mm.readInto(rw + PAGE - 4, new Uint8Array(8))).toThrow(efault);
    expect(() => mm.write(rw + PAGE - 4, new Uint8Array(8))).toThrow(efault);
  });
});
