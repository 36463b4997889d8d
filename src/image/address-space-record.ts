/**
 * The plain-data form of address spaces, shared by checkpoint images and
 * host files: each address space as [users, mappings, page references],
 * every page frame stored once and referred to by index, so copy-on-write
 * sharing survives the round trip.
 */
import type { Arch } from '../arch/arch.js';
import { MemoryMap, type Page } from '../kernel/memory-map.js';

export type VmaRecord = [start: number, end: number, prot: number, shared: boolean, name: string];
export type AddressSpaceRecord = [users: number, vmas: VmaRecord[], pages: Array<[index: number, page: number]>];
export type PageRecord = [data: Uint8Array, shared: boolean];

/** encodeAddressSpace records `mm`; `pageOf` numbers each page frame (the same frame, the same number). */
export function encodeAddressSpace(mm: MemoryMap, pageOf: (page: Page) => number): AddressSpaceRecord {
  return [mm.users, mm.mappings().map((v): VmaRecord => [v.start, v.end, v.prot, v.shared, v.name]), mm.pageObjects().map(([index, page]) => [index, pageOf(page)])];
}

/** pageFrames makes a fresh page frame for each recorded page (the records' bytes are copied, never shared). */
export function pageFrames(records: readonly PageRecord[]): Page[] {
  return records.map(([data, shared]) => ({ data: data.slice(), refs: 0, shared }));
}

/** decodeAddressSpace rebuilds an address space of ABI `arch` over `frames`; `frameAt` may check an index. */
export function decodeAddressSpace(arch: Arch, [users, vmas, refs]: AddressSpaceRecord, frameAt: (i: number) => Page): MemoryMap {
  return MemoryMap.restore(
    arch.pageSize,
    arch.taskSize,
    arch.mmapBase,
    vmas.map(([start, end, prot, shared, name]) => ({ start, end, prot, shared, name })),
    refs.map(([index, p]): [number, Page] => [index, frameAt(p)]),
    users,
  );
}
