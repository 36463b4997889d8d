/**
 * The plain-data form of address spaces, shared by checkpoint images and
 * host files: each address space as [users, mappings, page references],
 * every page frame stored once and referred to by index, so copy-on-write
 * sharing survives the round trip.
 */
import type { Arch } from '../arch/arch.js';
import { addressSpaceLayout, MemoryMap, type Page } from '../kernel/memory-map.js';

export type VmaRecord = [start: number, end: number, prot: number, shared: boolean, name: string];
/**
 * PageRefs: an address space's pages, lowest index first, as [page index,
 * page number] pairs, or as the same pairs flattened into one array (what
 * dump and the image reader make: 65,536 pairs are as many objects for the
 * collector, and what a 256 MiB container's dump and restore peak at).
 */
export type PageRefs = Array<[index: number, page: number]> | Float64Array;
export type AddressSpaceRecord = [users: number, vmas: VmaRecord[], pages: PageRefs];

/** refCount is how many pages `refs` lists. */
export function refCount(refs: PageRefs): number {
  return refs instanceof Float64Array ? refs.length >>> 1 : refs.length;
}

/** refIndex is the page index of the k-th page `refs` lists. */
export function refIndex(refs: PageRefs, k: number): number {
  return refs instanceof Float64Array ? refs[2 * k]! : refs[k]![0];
}

/** refPage is the page number of the k-th page `refs` lists. */
export function refPage(refs: PageRefs, k: number): number {
  return refs instanceof Float64Array ? refs[2 * k + 1]! : refs[k]![1];
}

/** refPairs lists `refs` as pairs (for the callers that want few of them as objects). */
export function refPairs(refs: PageRefs): Array<[number, number]> {
  if (!(refs instanceof Float64Array)) return refs;
  const out: Array<[number, number]> = [];
  for (let k = 0; k < refs.length; k += 2) out.push([refs[k]!, refs[k + 1]!]);
  return out;
}
export type PageRecord = [data: Uint8Array, shared: boolean];

/** encodeAddressSpace records `mm`; `pageOf` numbers each page frame (the same frame, the same number). */
export function encodeAddressSpace(mm: MemoryMap, pageOf: (page: Page, alone: boolean) => number): AddressSpaceRecord {
  const refs = new Float64Array(2 * mm.residentPages());
  let k = 0;
  mm.forEachPage((index, page, alone) => {
    refs[k++] = index;
    refs[k++] = pageOf(page, alone);
  });
  return [mm.users, mm.mappings().map((v): VmaRecord => [v.start, v.end, v.prot, v.shared, v.name]), refs];
}

/** decodeAddressSpace rebuilds an address space of ABI `arch` over `frames`; `frameAt` may check an index. */
export function decodeAddressSpace(arch: Arch, [users, vmas, refs]: AddressSpaceRecord, frameAt: (i: number) => Page): MemoryMap {
  return MemoryMap.restore(
    addressSpaceLayout(arch),
    vmas.map(([start, end, prot, shared, name]) => ({ start, end, prot, shared, name })),
    users,
    (add) => {
      for (let k = 0, n = refCount(refs); k < n; k++) add(refIndex(refs, k), frameAt(refPage(refs, k)));
    },
  );
}
