/**
 * The plain-data form of address spaces, shared by checkpoint images and
 * host files: each address space as [users, mappings, page references],
 * every page frame stored once and referred to by index, so copy-on-write
 * sharing survives the round trip.
 */
import type { Arch } from '../arch/arch.js';
import { addressSpaceLayout, MemoryMap, type Page } from '../kernel/memory-map.js';
import { byteLength } from './bytes.js';

export type VmaRecord = [start: number, end: number, prot: number, shared: boolean, name: string];
export type AddressSpaceRecord = [users: number, vmas: VmaRecord[], pages: Array<[index: number, page: number]>];
export type PageRecord = [data: Uint8Array, shared: boolean];

/** encodeAddressSpace records `mm`; `pageOf` numbers each page frame (the same frame, the same number). */
export function encodeAddressSpace(mm: MemoryMap, pageOf: (page: Page, alone: boolean) => number): AddressSpaceRecord {
  const refs: Array<[number, number]> = [];
  mm.forEachPage((index, page, alone) => void refs.push([index, pageOf(page, alone)]));
  return [mm.users, mm.mappings().map((v): VmaRecord => [v.start, v.end, v.prot, v.shared, v.name]), refs];
}

/**
 * copiedTogether copies byte arrays into one buffer and returns a view of
 * each copy: one allocation instead of one per page, which at hundreds of
 * thousands of pages costs more in garbage collection than the copying.
 */
function copiedTogether(parts: readonly Uint8Array[]): Uint8Array[] {
  const all = new Uint8Array(byteLength(parts));
  let at = 0;
  return parts.map((p) => {
    all.set(p, at);
    at += p.length;
    return all.subarray(at - p.length, at);
  });
}

/** pageRecords copies page frames into records. */
export function pageRecords(frames: readonly Page[]): PageRecord[] {
  const copies = copiedTogether(frames.map((f) => f.data));
  return frames.map((f, i): PageRecord => [copies[i]!, f.shared]);
}

/**
 * pageFrames makes a page frame for each recorded page. The bytes are
 * copied unless `adopt` says the records' bytes belong to the caller alone
 * and may become the frames themselves.
 */
export function pageFrames(records: readonly PageRecord[], adopt = false): Page[] {
  const bytes = records.map(([data]) => data);
  const data = adopt ? bytes : copiedTogether(bytes);
  return records.map(([, shared], i) => ({ data: data[i]!, refs: 0, shared }));
}

/** decodeAddressSpace rebuilds an address space of ABI `arch` over `frames`; `frameAt` may check an index. */
export function decodeAddressSpace(arch: Arch, [users, vmas, refs]: AddressSpaceRecord, frameAt: (i: number) => Page): MemoryMap {
  return MemoryMap.restore(
    addressSpaceLayout(arch),
    vmas.map(([start, end, prot, shared, name]) => ({ start, end, prot, shared, name })),
    users,
    (add) => {
      for (let k = 0; k < refs.length; k++) add(refs[k]![0], frameAt(refs[k]![1]));
    },
  );
}
