/** memory.cbor's own codec: the bytes cbor-x writes for the same record, and read back with the page references flattened. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decode, encode } from 'cbor-x';
import { refPairs, type VmaRecord } from '../../src/codec/address-space-record.js';
import { decodeMemory, encodeMemory } from '../../src/image/memory-record.js';

const natural = fc.oneof(fc.nat(30), fc.nat(70_000), fc.nat(2 ** 32 - 1), fc.integer({ min: 2 ** 32 - 2, max: 2 ** 32 + 2 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
const vma = fc.tuple(natural, natural, fc.nat(7), fc.boolean(), fc.string()).map((v): VmaRecord => v);
const pairs = fc.array(fc.tuple(natural, natural), { maxLength: 300 });
const record = fc.record({
  mms: fc.array(fc.tuple(fc.nat(5), fc.array(vma, { maxLength: 4 }), pairs), { maxLength: 4 }),
  shared: fc.array(fc.boolean(), { maxLength: 40 }),
  fpus: fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 3 }),
});
const flat = (p: Array<[number, number]>): Float64Array => Float64Array.from(p.flat());
const bytes = (b: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

describe('memory.cbor', () => {
  it('is written byte for byte as cbor-x writes the record with its references as pairs, from pairs or flattened, renumbered or not', () => {
    fc.assert(
      fc.property(record, (r) => {
        const expected = bytes(encode(r));
        expect(encodeMemory(r)).toEqual(expected);
        expect(encodeMemory({ ...r, mms: r.mms.map(([u, v, p]) => [u, v, flat(p)]) })).toEqual(expected);
        const pages = Math.max(0, ...r.mms.flatMap(([, , p]) => p.map(([, page]) => page))) + 1;
        if (pages > 100_000) return;
        const remap = Int32Array.from({ length: pages }, (_, i) => (i * 7) % 1000);
        const renumbered = { ...r, mms: r.mms.map(([u, v, p]) => [u, v, p.map(([index, page]) => [index, remap[page]!])]) };
        expect(encodeMemory({ ...r, mms: r.mms.map(([u, v, p]) => [u, v, flat(p)]) }, remap)).toEqual(bytes(encode(renumbered)));
      }),
      { numRuns: 200 },
    );
  }, 60_000);

  it('reads back what cbor-x reads, with every address space\'s references flattened', () => {
    fc.assert(
      fc.property(record, (r) => {
        const encoded = encodeMemory(r);
        const read = decodeMemory(encoded) as { mms: Array<[number, VmaRecord[], Float64Array]> };
        expect(read.mms.every(([, , refs]) => refs instanceof Float64Array)).toBe(true);
        expect({ ...read, mms: read.mms.map(([u, v, refs]) => [u, v, refPairs(refs)]) }).toEqual(decode(encoded));
      }),
      { numRuns: 200 },
    );
  }, 60_000);

  it('leaves references that are not all pairs of naturals as cbor-x reads them, and what it does not read to cbor-x', () => {
    const odd = bytes(encode({ mms: [[1, [], [[1, 2], [3, -4], [5]]]], shared: [], fpus: [] }));
    expect(decodeMemory(odd)).toEqual(decode(odd));
    // a float32, an indefinite-length array, trailing bytes, a truncated record
    for (const b of [Uint8Array.of(0xa1, 0x63, 0x6d, 0x6d, 0x73, 0xfa, 0x3f, 0x80, 0, 0), Uint8Array.of(0xa1, 0x63, 0x6d, 0x6d, 0x73, 0x9f, 0xff), Uint8Array.of(0xa0, 0), odd.subarray(0, odd.length - 3)]) {
      expect(decodeMemory(b)).toBeNull();
    }
  });
});
