/**
 * storePages lays out the distinct page contents of an image as pages.bin:
 * private pages with the same bytes are stored once (copy-on-write makes
 * them interchangeable), shared pages keep their identity. Candidates are
 * found by a hash of a few of the page's words (of all of them where many
 * pages are alike in those) and confirmed byte for byte, so a collision
 * costs a comparison, never a wrong page. pages.bin is given
 * as a list of chunks, views of the pages themselves, neighbours that lie
 * back to back in one buffer (as a dump leaves them) joined into one view:
 * nothing is copied.
 */
import { pageBytes, pageCount, pageRuns, type ImagePages } from '../codec/image-pages.js';

export interface StoredPages {
  /** pages.bin, as chunks to write one after another */
  bin: Uint8Array[];
  /** per stored page: from a MAP_SHARED mapping */
  shared: boolean[];
  /** per input page: its stored index */
  remap: Int32Array;
}

/** words32 views a page as 32-bit words; an unaligned page is copied first, so equal bytes always give equal words. */
function words32(data: Uint8Array): Int32Array {
  const aligned = data.byteOffset % 4 === 0 ? data : data.slice();
  return new Int32Array(aligned.buffer, aligned.byteOffset, aligned.length >>> 2);
}

/**
 * fullHash is FNV-1a over every 32-bit word of the page in four interleaved
 * lanes (independent multiplies run in parallel on the CPU), folded
 * together, then over the bytes after the last whole word.
 */
function fullHash(data: Uint8Array): number {
  const words = words32(data);
  let a = 0x811c9dc5 | 0;
  let b = 0x050c5d1f;
  let c = 0x1b873593;
  let d = 0x2f9be6cd;
  const n = words.length & ~3;
  for (let i = 0; i < n; i += 4) {
    a = Math.imul(a ^ words[i]!, 0x01000193);
    b = Math.imul(b ^ words[i + 1]!, 0x01000193);
    c = Math.imul(c ^ words[i + 2]!, 0x01000193);
    d = Math.imul(d ^ words[i + 3]!, 0x01000193);
  }
  let h = Math.imul(Math.imul(Math.imul(a ^ b, 0x01000193) ^ c, 0x01000193) ^ d, 0x01000193);
  for (let i = n * 4; i < data.length; i++) h = Math.imul(h ^ data[i]!, 0x01000193);
  return h;
}

/** SAMPLES: the words sampleHash reads, spread evenly over the page (one per 512 bytes of a 4 KiB page: each is a cache miss on a page not yet read) */
const SAMPLES = 8;

/** sampleHash is FNV-1a over a few words spread over the `size` bytes at `at` in `bytes`, and their length: far less work than fullHash for pages that differ. */
function sampleHash(bytes: Uint8Array, at: number, size: number): number {
  const stride = Math.max(4, Math.floor(size / SAMPLES) & ~3);
  let h = Math.imul(0x811c9dc5 ^ size, 0x01000193);
  for (let i = at; i + 4 <= at + size; i += stride) h = Math.imul(h ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)), 0x01000193);
  return h;
}

/** sameAt compares `size` bytes at `a` in `x` with those at `b` in `y`. */
function sameAt(x: Uint8Array, a: number, y: Uint8Array, b: number, size: number): boolean {
  for (let i = 0; i < size; i++) if (x[a + i] !== y[b + i]) return false;
  return true;
}

/** a bucket stores more pages than this only split by fullHash: pages alike in the sampled words cost a full hash, not a comparison with each other */
const CROWDED = 8;

/** Bucket: stored pages whose sampled words hash alike (more than one); once crowded, also split by fullHash. */
interface Bucket {
  kept: number[];
  byFullHash: Map<number, number[]> | null;
}

/**
 * FirstBySample maps a sample hash to the first stored page with it: open
 * addressing over two typed arrays, not a Map, since most pages have a
 * sample of their own and a Map entry each is 100,000s of objects for the
 * collector.
 */
class FirstBySample {
  private readonly mask: number;
  private readonly slots: Int32Array;
  private readonly hashes: Int32Array;

  constructor(pages: number) {
    let size = 16;
    while (size < 2 * pages) size *= 2;
    this.mask = size - 1;
    this.slots = new Int32Array(size).fill(-1);
    this.hashes = new Int32Array(size);
  }

  /** firstOr returns the first page stored with sample hash `h`; when there is none, it records `k` as that page and returns -1. */
  firstOr(h: number, k: number): number {
    let i = h & this.mask;
    for (; this.slots[i] !== -1; i = (i + 1) & this.mask) if (this.hashes[i] === h) return this.slots[i]!;
    this.slots[i] = k;
    this.hashes[i] = h;
    return -1;
  }
}

export function storePages(pages: ImagePages): StoredPages {
  const { size, buffers, buffer, at } = pages;
  const n = pageCount(pages);
  // made at their longest (every page stored), not grown a page at a time, and cut to length at the end
  /** the input page each stored page is */
  const kept = new Int32Array(n);
  const shared: boolean[] = new Array<boolean>(n).fill(false);
  let stored = 0;
  const first = new FirstBySample(n);
  // the few samples met by more than one distinct page
  const crowds = new Map<number, Bucket>();
  const keep = (i: number, isShared: boolean): number => {
    shared[stored] = isShared;
    kept[stored] = i;
    return stored++;
  };
  const same = (k: number, i: number): boolean => sameAt(buffers[buffer[kept[k]!]!]!, at[kept[k]!]!, buffers[buffer[i]!]!, at[i]!, size);
  const fullHashOf = (i: number): number => fullHash(pageBytes(pages, i));
  /** find returns the stored page with page i's bytes, storing it if there is none. */
  const find = (i: number): number => {
    const key = sampleHash(buffers[buffer[i]!]!, at[i]!, size);
    const found = first.firstOr(key, stored);
    if (found === -1) return keep(i, false);
    if (same(found, i)) return found;
    const bucket = crowds.get(key);
    if (!bucket) {
      const k = keep(i, false);
      crowds.set(key, { kept: [found, k], byFullHash: null });
      return k;
    }
    if (!bucket.byFullHash) {
      const match = bucket.kept.find((j) => same(j, i));
      if (match !== undefined) return match;
      const k = keep(i, false);
      bucket.kept.push(k);
      if (bucket.kept.length > CROWDED) {
        bucket.byFullHash = new Map();
        for (const j of bucket.kept) pushTo(bucket.byFullHash, fullHashOf(kept[j]!), j);
      }
      return k;
    }
    const h = fullHashOf(i);
    const match = bucket.byFullHash.get(h)?.find((j) => same(j, i));
    if (match !== undefined) return match;
    const k = keep(i, false);
    pushTo(bucket.byFullHash, h, k);
    return k;
  };
  const remap = new Int32Array(n);
  for (let i = 0; i < n; i++) remap[i] = pages.shared[i] ? keep(i, true) : find(i);
  shared.length = stored;
  return { bin: pageRuns(pages, kept.subarray(0, stored)), shared, remap };
}

function pushTo(m: Map<number, number[]>, key: number, value: number): void {
  const list = m.get(key);
  if (list) list.push(value);
  else m.set(key, [value]);
}
