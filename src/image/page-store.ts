/**
 * storePages lays out the distinct page contents of an image as pages.bin:
 * private pages with the same bytes are stored once (copy-on-write makes
 * them interchangeable), shared pages keep their identity. Candidates are
 * found by a fast hash of the page's words and confirmed byte for byte, so
 * a collision costs a comparison, never a wrong page. pages.bin is given
 * as a list of chunks, views of the pages themselves, neighbours that lie
 * back to back in one buffer (as a dump leaves them) joined into one view:
 * nothing is copied.
 */
import type { PageRecord } from './address-space-record.js';
import { sameBytes } from './bytes.js';

export interface StoredPages {
  /** pages.bin, as chunks to write one after another */
  bin: Uint8Array[];
  /** per stored page: from a MAP_SHARED mapping */
  shared: boolean[];
  /** per input page: its stored index */
  remap: number[];
}

/**
 * pageHash is FNV-1a over the page's 32-bit words in four interleaved lanes
 * (independent multiplies run in parallel on the CPU), folded together; an
 * unaligned page is copied first, so equal bytes always hash equal.
 */
function pageHash(data: Uint8Array): number {
  const aligned = data.byteOffset % 4 === 0 ? data : data.slice();
  const words = new Int32Array(aligned.buffer, aligned.byteOffset, aligned.length >>> 2);
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
  for (let i = n * 4; i < aligned.length; i++) h = Math.imul(h ^ aligned[i]!, 0x01000193);
  return h;
}

export function storePages(pages: readonly PageRecord[]): StoredPages {
  const kept: Uint8Array[] = [];
  const shared: boolean[] = [];
  const byHash = new Map<number, number[]>();
  const remap = pages.map(([data, isShared]) => {
    if (!isShared) {
      const h = pageHash(data);
      const candidates = byHash.get(h);
      const same = candidates?.find((k) => sameBytes(kept[k]!, data));
      if (same !== undefined) return same;
      const k = kept.push(data) - 1;
      shared.push(false);
      if (candidates) candidates.push(k);
      else byHash.set(h, [k]);
      return k;
    }
    shared.push(true);
    return kept.push(data) - 1;
  });
  return { bin: runs(kept), shared, remap };
}

/** runs joins neighbouring pages that lie back to back in the same buffer into one view each. */
function runs(pages: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start: Uint8Array | null = null;
  let length = 0;
  for (const p of pages) {
    if (start && p.buffer === start.buffer && p.byteOffset === start.byteOffset + length) {
      length += p.length;
      continue;
    }
    if (start) out.push(new Uint8Array(start.buffer, start.byteOffset, length));
    start = p;
    length = p.length;
  }
  if (start) out.push(new Uint8Array(start.buffer, start.byteOffset, length));
  return out;
}
