/**
 * ImagePages: an image's distinct page frames as columns, not an object per
 * page. A 256 MiB container is 65,536 pages, and an object (or a view) each
 * is what the collector, and the peak memory of dump and restore, pay for:
 * here page i is `size` bytes at offset at[i] of buffers[buffer[i]], from a
 * MAP_SHARED mapping when shared[i]. Frames that lie back to back in one
 * buffer (a store's pages file, an image's pages.bin) share that buffer's
 * entry.
 */
import type { Page } from '../kernel/memory-map.js';
import { ByteRunJoiner } from './bytes.js';

export interface ImagePages {
  /** every page's length: the image's page size */
  readonly size: number;
  readonly buffers: Uint8Array[];
  /** per page: its buffer in `buffers` */
  readonly buffer: number[];
  /** per page: where it starts in its buffer */
  readonly at: number[];
  /** per page: from a MAP_SHARED mapping */
  readonly shared: boolean[];
}

/** noPages is an empty list of pages of `size` bytes. */
export function noPages(size: number): ImagePages {
  return { size, buffers: [], buffer: [], at: [], shared: [] };
}

/** pageCount is how many pages the list holds. */
export function pageCount(pages: ImagePages): number {
  return pages.shared.length;
}

/** addPage appends the page at `at` in `bytes` and returns its number. */
export function addPage(pages: ImagePages, bytes: Uint8Array, at: number, shared: boolean): number {
  const last = pages.buffers.length - 1;
  pages.buffer.push(last >= 0 && pages.buffers[last] === bytes ? last : pages.buffers.push(bytes) - 1);
  pages.at.push(at);
  return pages.shared.push(shared) - 1;
}

/** addBytes appends a page of its own (`bytes` is the page) and returns its number. */
export function addBytes(pages: ImagePages, bytes: Uint8Array, shared: boolean): number {
  if (bytes.length !== pages.size) throw new RangeError(`a page of ${bytes.length} bytes in an image of ${pages.size}-byte pages`);
  return addPage(pages, bytes, 0, shared);
}

/** pageBytes is a view of page i (for the few callers that want one page as an array). */
export function pageBytes(pages: ImagePages, i: number): Uint8Array {
  const bytes = pages.buffers[pages.buffer[i]!]!;
  const at = pages.at[i]!;
  return bytes.subarray(at, at + pages.size);
}

/** uniformPages lists the pages that lie back to back in `bin`, with their shared flags (an image's pages.bin). */
export function uniformPages(size: number, bin: Uint8Array, shared: boolean[]): ImagePages {
  const n = shared.length;
  const at: number[] = new Array(n);
  for (let i = 0; i < n; i++) at[i] = i * size;
  return { size, buffers: [bin], buffer: new Array<number>(n).fill(0), at, shared };
}

/** framePages lists page frames, not copied: each page is its frame's bytes. */
export function framePages(size: number, frames: readonly Page[]): ImagePages {
  const n = frames.length;
  // the columns made at their length, not grown a page at a time
  const pages: ImagePages = { size, buffers: [], buffer: new Array<number>(n).fill(0), at: new Array<number>(n).fill(0), shared: new Array<boolean>(n).fill(false) };
  for (let i = 0; i < n; i++) {
    const { bytes, at, shared } = frames[i]!;
    const last = pages.buffers.length - 1;
    pages.buffer[i] = last >= 0 && pages.buffers[last] === bytes ? last : pages.buffers.push(bytes) - 1;
    pages.at[i] = at;
    pages.shared[i] = shared;
  }
  return pages;
}

/**
 * copiedPages lists copies of page frames, in one buffer: one allocation
 * instead of one per page, which at hundreds of thousands of pages costs
 * more in garbage collection than the copying.
 */
export function copiedPages(size: number, frames: readonly Page[]): ImagePages {
  const all = new Uint8Array(size * frames.length);
  const shared: boolean[] = new Array(frames.length);
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    all.set(f.bytes.subarray(f.at, f.at + size), i * size);
    shared[i] = f.shared;
  }
  return uniformPages(size, all, shared);
}

/**
 * pageFrames makes a page frame for each page. The bytes are copied (into
 * one buffer) unless `adopt` says the pages' buffers belong to the caller
 * alone and may hold the frames themselves.
 */
export function pageFrames(pages: ImagePages, adopt = false): Page[] {
  const n = pageCount(pages);
  const frames: Page[] = new Array(n);
  if (adopt) {
    for (let i = 0; i < n; i++) frames[i] = { bytes: pages.buffers[pages.buffer[i]!]!, at: pages.at[i]!, refs: 0, shared: pages.shared[i]! };
    return frames;
  }
  const all = new Uint8Array(pages.size * n);
  for (let i = 0; i < n; i++) {
    all.set(pageBytes(pages, i), i * pages.size);
    frames[i] = { bytes: all, at: i * pages.size, refs: 0, shared: pages.shared[i]! };
  }
  return frames;
}

/**
 * pageRuns gives the bytes of pages (all, or those `order` lists) one after
 * another as views: neighbours that lie back to back in one buffer are
 * joined into one view, so nothing is copied.
 */
export function pageRuns(pages: ImagePages, order?: ArrayLike<number>): Uint8Array[] {
  const runs = new ByteRunJoiner();
  const n = order ? order.length : pageCount(pages);
  for (let k = 0; k < n; k++) {
    const i = order ? order[k]! : k;
    runs.add(pages.buffers[pages.buffer[i]!]!, pages.at[i]!, pages.size);
  }
  return runs.joined();
}
