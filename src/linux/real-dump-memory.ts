/**
 * The real dump's memory: every address space of the mirror read from a live
 * process that uses it, for exactly the mirror's mappings (each must lie in
 * anonymous memory of its protection in the process: never the helper's own
 * code, stack or heap), into the image's page list.
 */
import { refPairs, type VmaRecord } from '../codec/address-space-record.js';
import { addBytes, noPages, pageBytes, type ImagePages } from '../codec/image-pages.js';
import { Indexer } from '../codec/indexer.js';
import { refuseDump } from '../image/dump.js';
import type { ContainerImage } from '../image/container-image.js';
import type { MemoryMap, Vma } from '../kernel/memory-map.js';
import type { Task } from '../kernel/task.js';
import type { MapsEntry } from './proc.js';
import { ProcessMemory, readPages } from './real-dump-process-memory.js';


/** anonymous: a mapping of anonymous memory (private, or MAP_SHARED, which the kernel backs with /dev/zero) */
function anonymous(e: MapsEntry): boolean {
  return e.path === '' || (e.perms[3] === 's' && e.path === '/dev/zero (deleted)');
}

/** permsOf spells a mirror mapping's protection and sharing as /proc/PID/maps does */
function permsOf(prot: number, shared: boolean): string {
  return `${prot & 1 ? 'r' : '-'}${prot & 2 ? 'w' : '-'}${prot & 4 ? 'x' : '-'}${shared ? 's' : 'p'}`;
}

/** checkMapping: [start, end) lies wholly in anonymous real mappings of the mirror mapping's protection */
function checkMapping(maps: readonly MapsEntry[], start: number, end: number, perms: string): string | null {
  let at = start;
  for (const e of maps) {
    if (e.end <= at || e.start > at) continue;
    if (!anonymous(e)) return `0x${at.toString(16)} is in ${e.path} on this machine, not in the workload's anonymous memory`;
    if (e.perms !== perms) return `0x${at.toString(16)} is mapped ${e.perms} on this machine, not ${perms}`;
    at = e.end;
    if (at >= end) return null;
  }
  return `0x${at.toString(16)} is not mapped on this machine`;
}

/**
 * PageList builds the image's page list in the order the model's dump lists
 * pages (address space by address space, page by page): a mirror page
 * shared by several address spaces stays one record while the real bytes
 * agree; a page the mirror does not have is kept when it is not all zeros.
 */
class PageList {
  readonly pages: ImagePages;
  /** mirror page -> the records made for it */
  private readonly copies = new Map<number, number[]>();
  private readonly zero: Uint8Array;

  constructor(
    private readonly mirrorPages: ContainerImage['pages'],
    pageSize: number,
  ) {
    this.pages = noPages(pageSize);
    this.zero = new Uint8Array(pageSize);
  }

  /** add records the bytes read for mirror page `mirrorPage` (undefined: not in the mirror) and says which record holds them, or null for a zero page the mirror does not have */
  add(mirrorPage: number | undefined, bytes: Uint8Array, shared: boolean): number | null {
    if (mirrorPage === undefined) return Buffer.compare(bytes, this.zero) === 0 ? null : addBytes(this.pages, bytes, shared);
    const made = this.copies.get(mirrorPage) ?? [];
    const same = made.find((r) => Buffer.compare(pageBytes(this.pages, r), bytes) === 0);
    if (same !== undefined) return same;
    const r = addBytes(this.pages, bytes, this.mirrorPages.shared[mirrorPage]!);
    this.copies.set(mirrorPage, [...made, r]);
    return r;
  }
}

/** RealPlace says where the mirror's mappings are in the real processes. */
type RealPlace = (mm: MemoryMap, vma: Vma) => number;

/**
 * readAddressSpace reads the mappings `vmas` of mirror address space `mm`
 * (pages `refs`) from `mem`, and gives its [page index, record] pairs.
 */
function readAddressSpace(mem: ProcessMemory, mm: MemoryMap, [, vmas, refs]: ContainerImage['mms'][number], place: RealPlace, list: PageList, who: string): Array<[number, number]> {
  const pageSize = mem.pageSize;
  const maps = mem.maps();
  const mirrorPages = new Map(refPairs(refs));
  const out: Array<[number, number]> = [];
  for (const [start, end, prot, shared, vmaName] of vmas as VmaRecord[]) {
    const real = place(mm, { start, end, prot, shared, name: vmaName });
    const cannot = (why: string): never => refuseDump(`the mapping ${vmaName} (0x${start.toString(16)}-0x${end.toString(16)}) of ${who} cannot be read: ${why}`);
    const problem = checkMapping(maps, real, real + (end - start), permsOf(prot, shared));
    if (problem) cannot(problem);
    const first = start / pageSize;
    const count = (end - start) / pageSize;
    const wanted = new Set<number>();
    for (let n = 0; n < count; n++) if (mirrorPages.has(first + n)) wanted.add(n);
    let got: Map<number, Uint8Array> = new Map();
    try {
      got = readPages(mem, real, count, wanted);
    } catch (e) {
      cannot(e instanceof Error ? e.message : String(e));
    }
    for (const [n, bytes] of [...got].sort((a, b) => a[0] - b[0])) {
      const record = list.add(mirrorPages.get(first + n), bytes, shared);
      if (record !== null) out.push([first + n, record]);
    }
  }
  return out;
}

/**
 * readMemory reads every mirror address space from a live process using it
 * (the first in the image's order) and gives the image's pages and address
 * spaces.
 */
export function readMemory(mirror: { container: { name: string }; realAddress?: RealPlace }, tasks: readonly Task[], image: ContainerImage, tids: readonly number[], name: (i: number) => string, onProgress?: (done: number, total: number) => void): { pages: ImagePages; mms: ContainerImage['mms'] } {
  const mmObjects = new Indexer<MemoryMap>();
  const readers = new Map<number, number>(); // mm index -> a live task using it
  tasks.forEach((t, i) => {
    const k = mmObjects.of(t.mm);
    if (k !== image.tasks[i]!.mm) throw new Error('the mirror changed while it was dumped');
    if (!image.tasks[i]!.exited && !readers.has(k)) readers.set(k, i);
  });
  const pageSize = tasks[0]!.mm.pageSize;
  const list = new PageList(image.pages, pageSize);
  const place: RealPlace = mirror.realAddress ?? ((_, vma) => vma.start);
  const mms = image.mms.map((record, k): ContainerImage['mms'][number] => {
    onProgress?.(k + 1, image.mms.length);
    const [users, vmas] = record;
    if (vmas.length === 0) return [users, vmas, []];
    const reader = readers.get(k);
    if (reader === undefined) refuseDump(`an address space of container ${mirror.container.name} has mappings in the mirror but no live process holds it on this machine`);
    const tid = tids[reader]!;
    const who = `${name(reader)} (pid ${tid} on this machine)`;
    let mem: ProcessMemory | undefined;
    try {
      mem = new ProcessMemory(`/proc/${tids[image.tasks[reader]!.leader]!}/task/${tid}`, pageSize);
    } catch (e) {
      refuseDump(`the memory of ${who} cannot be opened: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    try {
      return [users, vmas, readAddressSpace(mem, mmObjects.items[k]!, record, place, list, who)];
    } finally {
      mem.close();
    }
  });
  return { pages: list.pages, mms };
}
