/** A column file gives back the record it was made from, its typed arrays each in a buffer of its own, and refuses what is not one whole. */
import { describe, expect, it } from 'vitest';
import { ByteRuns, ColumnFileError, decodeColumnFile, encodeColumnFile, type ColumnSource } from '../../src/store/column-file.js';

function joined(pieces: readonly Uint8Array[]): Uint8Array {
  return new ByteRuns(pieces).joined();
}

function sourceOf(bytes: Uint8Array): ColumnSource {
  return {
    size: bytes.length,
    readInto(into, at) {
      if (at + into.length > bytes.length) throw new RangeError('read past the end');
      into.set(bytes.subarray(at, at + into.length));
    },
  };
}

describe('column file', () => {
  it('round-trips a record of nested values and columns of every kind, aligned, with the runs of a byte column joined', () => {
    const slab = Uint8Array.from({ length: 40 }, (_, i) => i);
    const record = {
      name: 'part',
      list: [1, 'two', null, [3.5, -4]],
      ints: Int32Array.from([1, -2, 2 ** 31 - 1]),
      nums: Float64Array.from([0.5, NaN, -1e300]),
      flags: Uint8Array.from([0, 1, 255]),
      empty: new Int32Array(0),
      nested: { words: Uint32Array.from([7, 2 ** 32 - 1]), deeper: [Int16Array.from([-5]), Uint16Array.from([65535]), Int8Array.from([-128, 127])] },
      regs: new ByteRuns([slab.subarray(0, 7), slab.subarray(20, 40), new Uint8Array(0)]),
    };
    const pieces = encodeColumnFile(record);
    // the runs are written as they lie: the slab itself is among the pieces
    expect(pieces.some((p) => p.buffer === slab.buffer)).toBe(true);
    const back = decodeColumnFile(sourceOf(joined(pieces))) as typeof record & { regs: Uint8Array };
    expect(back.name).toBe('part');
    expect(back.list).toEqual(record.list);
    expect(back.ints).toEqual(record.ints);
    expect(back.nums).toEqual(record.nums);
    expect(back.flags).toEqual(record.flags);
    expect(back.empty).toEqual(record.empty);
    expect(back.nested.words).toEqual(record.nested.words);
    expect(back.nested.deeper).toEqual(record.nested.deeper);
    expect([...back.regs]).toEqual([...slab.subarray(0, 7), ...slab.subarray(20, 40)]);
    for (const c of [back.ints, back.nums, back.regs]) {
      expect(c.byteOffset).toBe(0);
      expect(c.byteLength).toBe(c.buffer.byteLength);
    }
  });

  it('refuses another file, a truncated one and a column past the end, naming what is wrong', () => {
    const bytes = joined(encodeColumnFile({ a: Float64Array.from([1, 2, 3]) }));
    expect(() => decodeColumnFile(sourceOf(new TextEncoder().encode('not a column file at all')))).toThrow(ColumnFileError);
    expect(() => decodeColumnFile(sourceOf(bytes.subarray(0, 10)))).toThrow(/shorter than its prefix/);
    expect(() => decodeColumnFile(sourceOf(bytes.subarray(0, bytes.length - 8)))).toThrow(/runs past the file/);
    expect(() => encodeColumnFile({ a: new BigInt64Array(1) })).toThrow(/cannot be a BigInt64Array/);
  });
});
