/** ByteRunJoiner: ranges given one after another come back as views of where they lie, joined where they lie back to back. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteRunJoiner, concatBytes } from '../../src/codec/bytes.js';

describe('ByteRunJoiner', () => {
  it('gives the ranges\' bytes in order, one view per stretch lying back to back in one buffer, copying nothing', () => {
    const buffers = [0, 1, 2].map((b) => Uint8Array.from({ length: 64 }, (_, i) => b * 64 + i).subarray(b * 3)); // views at an offset of their buffer
    const range = fc.record({ buffer: fc.integer({ min: 0, max: 2 }), at: fc.integer({ min: 0, max: 38 }), length: fc.integer({ min: 0, max: 20 }) });
    fc.assert(
      fc.property(fc.array(range, { maxLength: 30 }), (ranges) => {
        const runs = new ByteRunJoiner();
        for (const r of ranges) runs.add(buffers[r.buffer]!, r.at, r.length);
        const views = runs.joined();
        expect([...concatBytes(views)]).toEqual(ranges.flatMap((r) => [...buffers[r.buffer]!.subarray(r.at, r.at + r.length)]));
        // a new view where a range does not start where the last ended in the same buffer
        let breaks = 0;
        ranges.forEach((r, i) => {
          const p = ranges[i - 1];
          if (!p || p.buffer !== r.buffer || p.at + p.length !== r.at) breaks++;
        });
        expect(views.length).toBe(breaks);
        expect(views.every((v) => buffers.some((b) => b.buffer === v.buffer))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
