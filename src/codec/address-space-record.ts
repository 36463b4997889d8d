/**
 * The plain-data form of address spaces, shared by checkpoint images and
 * host files: each address space as [users, mappings, page references],
 * every page frame stored once and referred to by index, so copy-on-write
 * sharing survives the round trip.
 */
import type { Arch } from '../arch/arch.js';
import { addressSpaceLayout, MemoryMap, type Page } from '../kernel/memory-map.js';

export type VmaRecord = [start: number, end: number, prot: number, shared: boolean, name: string];
export type AddressSpaceRecord = [users: number, vmas: VmaRecord[], pages: Array<[index: number, page: number]>];
export type PageRecord = [data: Uint8Array, shared: boolean];

/** encodeAddressSpace records `mm`; `pageOf` numbers each page frame (the same frame, the same number). */
export function encodeAddressSpace(mm: MemoryMap, pageOf: (page: Page, alone: boolean) => number): AddressSpaceRecord {
  const refs: Array<[number, number]> = [];
  mm.forEachPage((index, page, alone) => void refs.push([index, pageOf(page, alone)]));
  return [mm.users, mm.mappings().map((v): VmaRecord => [v.start, v.end, v.prot, v.shared, v.name]), refs];
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
