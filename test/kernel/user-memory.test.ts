/**
 * copy_from_user / copy_to_user against a plain byte array: any run of
 * writes and reads, of any length (short ones go word by word through cached
 * views, long ones through subarrays), at any offset (across page edges), in
 * an address space and in a forked copy of it (copy-on-write), reads back
 * exactly what a flat array holding the same writes does.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Host, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/index.js';

const SPAN = 3 * 4096;

const access = fc.record({
  write: fc.boolean(),
  child: fc.boolean(),
  at: fc.integer({ min: 0, max: SPAN - 1 }),
  len: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 200 })),
  seed: fc.integer({ min: 0, max: 255 }),
});

describe('user memory copies', () => {
  it('reads return what a flat array with the same writes holds, in the parent and in a forked child', () => {
    fc.assert(
      fc.property(fc.array(access, { maxLength: 40, size: 'max' }), (accesses) => {
        const h = Host.create({ arch: 'x86_64' });
        const parent = h.init;
        const base = h.libc(parent).mmap(0, SPAN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ret;
        const child = h.libc(parent).fork().child!;
        const model = new Map([
          [parent, new Uint8Array(SPAN)],
          [child, new Uint8Array(SPAN)],
        ]);
        for (const a of accesses) {
          const t = a.child ? child : parent;
          const len = Math.min(a.len, SPAN - a.at);
          if (a.write) {
            const bytes = Uint8Array.from({ length: len }, (_, i) => (a.seed + i * 7) & 0xff);
            t.mm.write(base + a.at, bytes);
            model.get(t)!.set(bytes, a.at);
          } else {
            const into = new Uint8Array(len + 3).fill(0xee);
            t.mm.readInto(base + a.at, into, len);
            expect([...into.subarray(0, len)]).toEqual([...model.get(t)!.subarray(a.at, a.at + len)]);
            expect([...into.subarray(len)]).toEqual([0xee, 0xee, 0xee]);
          }
        }
        for (const [t, bytes] of model) expect([...t.mm.read(base, SPAN)]).toEqual([...bytes]);
      }),
      { numRuns: 300 },
    );
  });
});
