/** pages.bin layout: distinct private contents once, shared pages kept apart, no copy when a dump already laid them out. */
import { describe, expect, it } from 'vitest';
import { storePages as storeList } from '../../src/image/page-store.js';
import { addBytes, noPages } from '../../src/codec/image-pages.js';

const page = (fill: number, size = 64): Uint8Array => new Uint8Array(size).fill(fill);

/** storePages of pages given as [bytes, shared] pairs, each its own array */
const storePages = (records: ReadonlyArray<readonly [Uint8Array, boolean]>) => {
  const list = noPages(records[0]![0].length);
  for (const [bytes, shared] of records) addBytes(list, bytes, shared);
  return storeList(list);
};

describe('storePages', () => {
  it('stores equal private pages once and keeps every shared page', () => {
    const s = storePages([[page(1), false], [page(2), false], [page(1), false], [page(1), true], [page(1), true]] as const);
    expect([...s.remap]).toEqual([0, 1, 0, 2, 3]);
    expect(s.shared).toEqual([false, false, true, true]);
    const bin = Uint8Array.from(s.bin.flatMap((c) => [...c]));
    expect(bin.length).toBe(4 * 64);
    expect([...bin.subarray(64, 128)]).toEqual([...page(2)]);
  });

  it('tells pages apart by their bytes, not their hash: pages differing in one byte are both kept', () => {
    const a = page(0);
    const b = page(0);
    b[63] = 1;
    expect([...storePages([[a, false], [b, false]]).remap]).toEqual([0, 1]);
  });

  it('copies nothing: pages that lie back to back in one buffer become one view of it', () => {
    const all = new Uint8Array(4 * 64).map((_, i) => i % 251);
    all.fill(7, 192);
    const pages: Array<[Uint8Array, boolean]> = [0, 1, 2, 3].map((i) => [all.subarray(i * 64, (i + 1) * 64), false]);
    pages.push([all.subarray(0, 64), false]); // a repeat of the first page: stored once
    const s = storePages(pages);
    expect(s.bin.map((c) => [c.buffer === all.buffer, c.byteOffset, c.length])).toEqual([[true, 0, 256]]);
    expect([...s.remap]).toEqual([0, 1, 2, 3, 0]);
  });

  it('tells apart many pages alike in every sampled word, and still finds their repeats (a crowded bucket is split by a hash of every word)', () => {
    // 4 KiB pages differing only in byte 5, which no sampled word covers (they start at bytes 0, 512, ...); each appears twice, the repeats in reverse order
    const alike = Array.from({ length: 40 }, (_, i) => {
      const p = new Uint8Array(4096).fill(3);
      p[5] = i;
      return p;
    });
    const s = storePages([...alike, ...alike.map((p) => p.slice()).reverse()].map((p): [Uint8Array, boolean] => [p, false]));
    expect([...s.remap]).toEqual([...alike.keys(), ...[...alike.keys()].reverse()]);
    expect(s.shared.length).toBe(40);
  });

  it('finds equal pages whatever their alignment in memory', () => {
    const backing = new Uint8Array(129);
    backing.set(page(9), 1);
    const odd = backing.subarray(1, 65);
    expect([...storePages([[odd, false], [page(9), false]]).remap]).toEqual([0, 0]);
  });
});
