/**
 * MemoryMap is a task's address space: VMAs with protections and anonymous
 * pages allocated on first write. fork() shares every page copy-on-write;
 * the first write through either side copies the page. Kernel accesses
 * (copy_from_user / copy_to_user) fault with EFAULT outside a VMA or against
 * its protection.
 */
import { MAP_FIXED, MAP_SHARED, PROT_READ, PROT_WRITE } from '../abi/mman.js';
import type { Arch } from '../arch/arch.js';
import { fail } from './kernel-error.js';
import { WordViews } from './word-views.js';

/** Vma is one mapping [start, end) with its protection bits and a name for /proc/PID/maps-style listings. */
export interface Vma {
  readonly start: number;
  readonly end: number;
  readonly prot: number;
  /** MAP_SHARED: fork shares the pages themselves, writes are seen by both sides */
  readonly shared: boolean;
  readonly name: string;
}

/**
 * Page is a page frame: the page's bytes lie at `at` in `bytes`, so that
 * frames read or restored together are one buffer rather than a view object
 * each (a 256 MiB address space is 65,536 frames). refs counts the page
 * tables mapping it; `shared` pages are never copied on write.
 */
export interface Page {
  bytes: Uint8Array;
  at: number;
  refs: number;
  shared: boolean;
}

/** frameView is a view of a frame's `size` bytes (for callers that want them as an array of their own; the model itself copies through bytes and at). */
export function frameView(page: Page, size: number): Uint8Array {
  return page.bytes.subarray(page.at, page.at + size);
}

/**
 * PageTable maps page indexes to frames. fork shares the table itself until
 * either side changes it (most forked children of a restorer never write),
 * so `sharers` counts the address spaces using it; a page is private to an
 * address space only when both its table and the page are unshared.
 */
export interface PageTable {
  readonly pages: Map<number, Page>;
  sharers: number;
}

/** AddressSpaceLayout is an ABI's page size, TASK_SIZE and mmap base. */
export interface AddressSpaceLayout {
  readonly pageSize: number;
  readonly taskSize: number;
  readonly mmapBase: number;
  /** what a page never written reads as; never written itself */
  readonly zeroPage: Uint8Array;
  readonly zeroView: DataView;
}

/** one frozen layout per distinct ABI layout, so that every address space points at the same few objects */
const layouts = new Map<string, AddressSpaceLayout>();

/** addressSpaceLayout returns the shared layout with an ABI's values. */
export function addressSpaceLayout({ pageSize, taskSize, mmapBase }: Pick<Arch, 'pageSize' | 'taskSize' | 'mmapBase'>): AddressSpaceLayout {
  const key = `${pageSize}/${taskSize}/${mmapBase}`;
  let layout = layouts.get(key);
  if (!layout) {
    const zeroPage = new Uint8Array(pageSize);
    layout = Object.freeze({ pageSize, taskSize, mmapBase, zeroPage, zeroView: new DataView(zeroPage.buffer) });
    layouts.set(key, layout);
  }
  return layout;
}

/** the mappings of an empty address space: shared, since mappings are replaced, never edited */
const NO_VMAS: readonly Vma[] = Object.freeze([]);

/**
 * ForkedAddressSpace is what fork leaves a child until it first touches its
 * memory: the parent's mappings and page table as they were at the fork,
 * holding one share of the table. A restorer's children, which mostly never
 * run, share one of these while the restorer's own mappings and table stay
 * the same objects, instead of an address space object each: a host holds
 * 100,000s of tasks, and the collector's cost is mostly per object.
 * MemoryMap.fromFork makes a child's own address space from it.
 */
export class ForkedAddressSpace {
  constructor(
    readonly layout: AddressSpaceLayout,
    readonly vmas: readonly Vma[],
    readonly table: PageTable,
    /** the parent's not-dumpable flag at the fork (dup_mm copies mm->flags) */
    public nondumpable = false,
  ) {}

  /** releaseShare is release() for a child that never touched this copy: it gives back the share of the table the fork took. */
  releaseShare(): void {
    releaseTable(this.table);
  }
}

/** releaseTable drops one address space's use of a page table: a share of it, or, for its last user, every page's reference. */
function releaseTable(table: PageTable): void {
  if (table.sharers > 1) table.sharers--;
  else for (const page of table.pages.values()) page.refs--;
}

export class MemoryMap {
  /** sorted, never mutated in place: fork shares the array until either side maps or unmaps */
  private vmas: readonly Vma[] = NO_VMAS;
  private table: PageTable;
  /** users counts the tasks sharing this address space (CLONE_VM), as mm_users. */
  users = 1;
  /**
   * set once a credential change made this address space not dumpable (mm->flags' dumpable bits
   * set to suid_dumpable, 0 by default, by kernel/cred.c commit_creds): every task using it is,
   * whatever its own credentials. A fork copies it; the model has no exec to set it again.
   * docs/semantics.md §12.
   */
  nondumpable = false;
  /** what the last fork handed out: handed out again while `vmas` and `table` are still those objects, dropped when either is replaced (so an old table is not kept alive) */
  private lastFork: ForkedAddressSpace | null = null;
  /** the mapping list whose MAP_SHARED pages all have frames (populateShared) */
  private populatedFor: readonly Vma[] | null = null;
  /**
   * The last page looked up, as a one-entry TLB: the page at [tlbBase,
   * tlbBase + pageSize) of `tlbPages`, or undefined when never written. A
   * restorer copies in and out of the same page on every call, and a lookup
   * costs a division and, above 2^31 pages, the hashing of a heap number.
   * Reset whenever the table changes or is replaced: tables are only changed
   * by their one owner, so no other address space can make it stale.
   */
  private tlbPages: Map<number, Page> | null = null;
  private tlbBase = 0;
  private tlbPage: Page | undefined = undefined;
  /** a view of the TLB's page, made when readView first needs it */
  private tlbView: DataView | null = null;
  /** where the range readView last returned starts in its view */
  viewBase = 0;
  /**
   * The mapping that alone held the last range checked, and the list it was
   * found in (2.6.32's mm->mmap_cache, which find_vma tries first). Mappings
   * are replaced, never edited, so the entry holds while `vmas` is that list.
   */
  private vmaHit: Vma | null = null;
  private vmaHitIn: readonly Vma[] | null = null;

  constructor(
    /** shared with every address space of the ABI: three numbers per address space would be copied by every collection */
    readonly layout: AddressSpaceLayout,
    /** fork passes the table it shares: a child of a restorer makes no table of its own until it writes */
    table?: PageTable,
  ) {
    this.table = table ?? { pages: new Map(), sharers: 1 };
  }

  get pageSize(): number {
    return this.layout.pageSize;
  }

  get taskSize(): number {
    return this.layout.taskSize;
  }

  get mmapBase(): number {
    return this.layout.mmapBase;
  }

  /**
   * restore rebuilds an address space from its mappings and pages: `fill`
   * calls `add` with each page and its index (pages shared between address
   * spaces are passed as the same objects). A callback rather than a list of
   * pairs: an address space may hold 100,000s of pages, and a pair each is
   * that many short-lived objects.
   */
  static restore(layout: AddressSpaceLayout, vmas: readonly Vma[], users: number, fill: (add: (index: number, page: Page) => void) => void): MemoryMap {
    const mm = new MemoryMap(layout);
    mm.vmas = vmas.map((v) => ({ ...v }));
    const table = mm.table.pages;
    fill((index, page) => {
      page.refs++;
      table.set(index, page);
    });
    mm.users = users;
    return mm;
  }

  /** pageObjects lists the page frames by index, for a serializer that stores each shared frame once. */
  pageObjects(): Array<[number, Page]> {
    const out: Array<[number, Page]> = [];
    this.forEachPage((index, page) => void out.push([index, page]));
    return out;
  }

  /**
   * forEachPage calls `fn` with each page frame, lowest index first, and
   * whether no other address space holds it (the frame is in this table
   * alone, and the table is this address space's alone): a serializer need
   * not look such a frame up to store it once. No list of pairs is made.
   */
  forEachPage(fn: (index: number, page: Page, alone: boolean) => void): void {
    const pages = this.table.pages;
    const indexes = new Float64Array(pages.size);
    let n = 0;
    let sorted = true;
    // forEach, not an iterator: no result object per page
    pages.forEach((_, index) => {
      if (n > 0 && index < indexes[n - 1]!) sorted = false;
      indexes[n++] = index;
    });
    if (!sorted) indexes.sort();
    const tableAlone = this.table.sharers === 1;
    for (let k = 0; k < n; k++) {
      const index = indexes[k]!;
      const page = pages.get(index)!;
      fn(index, page, tableAlone && page.refs === 1);
    }
  }

  /** ownTable gives this address space a table of its own before it changes it (the copy-on-write of the table). */
  private ownTable(): Map<number, Page> {
    const t = this.table;
    if (t.sharers === 1) return t.pages;
    t.sharers--;
    for (const page of t.pages.values()) page.refs++;
    this.table = { pages: new Map(t.pages), sharers: 1 };
    this.lastFork = null;
    this.tlbPages = null;
    return this.table.pages;
  }

  /** mappings returns a copy of the VMA list, lowest first. */
  mappings(): Vma[] {
    return this.vmas.map((v) => ({ ...v }));
  }

  /** residentPages counts pages that have been written (allocated) in this address space. */
  residentPages(): number {
    return this.table.pages.size;
  }

  /** isShared reports whether the page holding `addr` is shared copy-on-write with another address space. */
  isShared(addr: number): boolean {
    const page = this.table.pages.get(Math.floor(addr / this.pageSize));
    return page !== undefined && (page.refs > 1 || this.table.sharers > 1);
  }

  private align(n: number): number {
    return Math.ceil(n / this.pageSize) * this.pageSize;
  }

  /** map creates an anonymous mapping and returns its address; `hint` is used only with MAP_FIXED. */
  map(hint: number, length: number, prot: number, flags: number, name = '[anon]'): number {
    const len = this.align(length);
    if (len === 0 || len > this.taskSize) fail('ENOMEM', `cannot map ${length} bytes`);
    let start: number;
    if ((flags & MAP_FIXED) !== 0) {
      if (hint % this.pageSize !== 0) fail('EINVAL', `MAP_FIXED address ${hint} is not page aligned`);
      if (hint + len > this.taskSize) fail('ENOMEM', `mapping ends beyond TASK_SIZE`);
      this.unmap(hint, len);
      start = hint;
    } else {
      start = this.findGap(len);
    }
    const vma: Vma = { start, end: start + len, prot, shared: (flags & MAP_SHARED) !== 0, name };
    const at = this.vmas.findIndex((v) => v.start > start);
    this.vmas = at < 0 ? [...this.vmas, vma] : [...this.vmas.slice(0, at), vma, ...this.vmas.slice(at)];
    this.lastFork = null;
    return start;
  }

  private findGap(len: number): number {
    let candidate = this.mmapBase;
    for (const v of this.vmas) {
      if (v.end <= candidate) continue;
      if (v.start >= candidate + len) break;
      candidate = v.end;
    }
    if (candidate + len > this.taskSize) fail('ENOMEM', 'no room left in the address space');
    return candidate;
  }

  /** unmap removes [addr, addr+length) from every mapping, splitting at the edges, and drops the pages. */
  unmap(addr: number, length: number): void {
    if (addr % this.pageSize !== 0) fail('EINVAL', `munmap address ${addr} is not page aligned`);
    // do_munmap: start beyond TASK_SIZE or a length reaching past it is EINVAL.
    if (addr > this.taskSize || length > this.taskSize - addr) fail('EINVAL', `munmap range ${addr} (+${length}) leaves user space`);
    const len = this.align(length);
    if (len === 0) fail('EINVAL', 'munmap of zero length');
    const end = addr + len;
    const kept: Vma[] = [];
    for (const v of this.vmas) {
      if (v.end <= addr || v.start >= end) {
        kept.push(v);
        continue;
      }
      if (v.start < addr) kept.push({ ...v, end: addr });
      if (v.end > end) kept.push({ ...v, start: end });
    }
    this.vmas = kept;
    this.lastFork = null;
    const first = addr / this.pageSize;
    const last = end / this.pageSize;
    let dropped: number[] | null = null;
    for (const index of this.table.pages.keys()) if (index >= first && index < last) (dropped ??= []).push(index);
    if (!dropped) return;
    const pages = this.ownTable();
    for (const index of dropped) {
      pages.get(index)!.refs--;
      pages.delete(index);
    }
    this.tlbPages = null;
  }

  /** release drops every page and mapping: the last user of the address space has gone. */
  release(): void {
    releaseTable(this.table);
    this.table = { pages: new Map(), sharers: 1 };
    this.vmas = NO_VMAS;
    this.lastFork = null;
    this.tlbPages = null;
  }

  /**
   * fork is dup_mmap: the child's copy shares every page copy-on-write, at
   * first the table itself. It returns the copy as a ForkedAddressSpace that
   * holds one more share of the table; MemoryMap.fromFork makes it an address
   * space. Mappings and tables are replaced, never edited, while shared, so
   * the same objects mean the same contents, and one snapshot serves every
   * fork until either changes.
   */
  fork(): ForkedAddressSpace {
    this.populateShared();
    let snapshot = this.lastFork;
    if (snapshot === null || snapshot.vmas !== this.vmas || snapshot.table !== this.table || snapshot.nondumpable !== this.nondumpable) {
      snapshot = this.lastFork = new ForkedAddressSpace(this.layout, this.vmas, this.table, this.nondumpable);
    }
    this.table.sharers++;
    return snapshot;
  }

  /**
   * populateShared gives every page of every MAP_SHARED mapping a frame
   * before a fork. On Linux a shared anonymous mapping is one shmem object:
   * a page first written after the fork, by either side, is seen by both.
   * Here the frame is the sharing, so each must exist before the address
   * spaces part; once made for a list of mappings, nothing removes them
   * without replacing that list (munmap, mmap, release).
   */
  private populateShared(): void {
    if (this.populatedFor === this.vmas) return;
    let pages: Map<number, Page> | null = null;
    for (const v of this.vmas) {
      if (!v.shared) continue;
      for (let index = v.start / this.pageSize; index < v.end / this.pageSize; index++) {
        if (this.table.pages.has(index)) continue;
        pages ??= this.ownTable();
        pages.set(index, { bytes: new Uint8Array(this.pageSize), at: 0, refs: 1, shared: true });
      }
    }
    if (pages) {
      this.lastFork = null;
      this.tlbPages = null;
    }
    this.populatedFor = this.vmas;
  }

  /** fromFork makes the address space a fork left as `snapshot`, taking over the share of the table it holds. */
  static fromFork(snapshot: ForkedAddressSpace): MemoryMap {
    const mm = new MemoryMap(snapshot.layout, snapshot.table);
    mm.vmas = snapshot.vmas;
    mm.nondumpable = snapshot.nondumpable;
    return mm;
  }

  /** check verifies [addr, addr+len) lies in mappings with `prot`, or throws EFAULT (access_ok plus the VMA walk). */
  private check(addr: number, len: number, prot: number): void {
    if (!Number.isSafeInteger(addr) || addr < 0 || len < 0 || addr + len > this.layout.taskSize) {
      fail('EFAULT', `address ${addr} (+${len}) is outside user space`);
    }
    const end = addr + len;
    const vmas = this.vmas;
    const last = this.vmaHit;
    if (last !== null && this.vmaHitIn === vmas && last.start <= addr && end <= last.end && (last.prot & prot) === prot) return;
    let at = addr;
    for (let i = 0; i < vmas.length; i++) {
      const v = vmas[i]!;
      if (at >= end) break;
      if (v.end <= at) continue;
      if (v.start > at || (v.prot & prot) !== prot) break;
      if (at === addr && end <= v.end) {
        this.vmaHit = v;
        this.vmaHitIn = vmas;
      }
      at = v.end;
    }
    if (at < end) fail('EFAULT', `address ${at} is not mapped ${prot & PROT_WRITE ? 'writable' : 'readable'}`);
  }

  /** read copies `len` bytes out of user memory (copy_from_user); unwritten anonymous memory reads as zero. */
  read(addr: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.readInto(addr, out);
    return out;
  }

  /** readInto fills the first `len` bytes of `out` from user memory at `addr` (copy_from_user into a kernel buffer). */
  readInto(addr: number, out: Uint8Array, len = out.length): void {
    this.check(addr, len, PROT_READ);
    // One copy for present and absent pages alike: a branch that a
    // restorer's calls never take would cost optimised code when first taken.
    const { pageSize, zeroPage } = this.layout;
    let done = 0;
    while (done < len) {
      const a = addr + done;
      const page = this.pageAt(a);
      const offset = a - this.tlbBase;
      const n = Math.min(len - done, pageSize - offset);
      copyBytes(out, done, page ? page.bytes : zeroPage, page ? page.at + offset : offset, n);
      done += n;
    }
  }

  /** write copies bytes into user memory (copy_to_user), allocating pages on first write and breaking copy-on-write sharing. */
  write(addr: number, bytes: Uint8Array): void {
    this.check(addr, bytes.length, PROT_WRITE);
    const pageSize = this.layout.pageSize;
    let done = 0;
    while (done < bytes.length) {
      const a = addr + done;
      const page = this.writablePage(a);
      const offset = a - this.tlbBase;
      const n = Math.min(bytes.length - done, pageSize - offset);
      copyBytes(page.bytes, page.at + offset, bytes, done, n);
      done += n;
    }
  }

  /** pageAt looks up the page holding `a` (undefined: never written) and leaves its start in tlbBase. */
  private pageAt(a: number): Page | undefined {
    const pages = this.table.pages;
    const pageSize = this.layout.pageSize;
    if (pages === this.tlbPages && a >= this.tlbBase && a - this.tlbBase < pageSize) return this.tlbPage;
    const index = Math.floor(a / pageSize);
    const page = pages.get(index);
    this.tlbPages = pages;
    this.tlbBase = index * pageSize;
    this.tlbPage = page;
    this.tlbView = null;
    return page;
  }

  /**
   * readView is copy_from_user for a kernel that reads a struct's fields at
   * once: after the same checks as read, it returns a view holding
   * [addr, addr+len) from viewBase on. That is the page itself when the range
   * lies in one (no copy), else `buffer`, at least `len` bytes with `view`
   * over it, filled by a copy. The view is only good until user memory next
   * changes.
   */
  readView(addr: number, len: number, buffer: Uint8Array, view: DataView): DataView {
    this.check(addr, len, PROT_READ);
    const page = this.pageAt(addr);
    const offset = addr - this.tlbBase;
    if (offset + len > this.layout.pageSize) {
      this.readInto(addr, buffer, len);
      this.viewBase = 0;
      return view;
    }
    this.viewBase = offset;
    return (this.tlbView ??= page ? new DataView(page.bytes.buffer, page.bytes.byteOffset + page.at, this.layout.pageSize) : this.layout.zeroView);
  }

  /** writablePage returns the page holding `a`, ready for a write, and leaves its start in tlbBase. */
  private writablePage(a: number): Page {
    let page = this.pageAt(a);
    // A MAP_SHARED frame is written in place, whoever else maps it.
    if (page?.shared) return page;
    if (page && page.refs === 1 && this.table.sharers === 1) return page;
    const base = this.tlbBase;
    const index = base / this.pageSize;
    const pages = this.ownTable();
    if (!page) {
      page = { bytes: new Uint8Array(this.pageSize), at: 0, refs: 1, shared: this.vmaAt(base)?.shared ?? false };
    } else {
      page.refs--;
      page = { bytes: page.bytes.slice(page.at, page.at + this.pageSize), at: 0, refs: 1, shared: false };
    }
    pages.set(index, page);
    this.tlbPages = pages;
    this.tlbBase = base;
    this.tlbPage = page;
    this.tlbView = null;
    return page;
  }

  private vmaAt(addr: number): Vma | undefined {
    return this.vmas.find((v) => v.start <= addr && addr < v.end);
  }

  /** pageContents lists each allocated page by index with its bytes, lowest first (for snapshots and dumps). */
  pageContents(): Array<[number, Uint8Array]> {
    const out: Array<[number, Uint8Array]> = [];
    this.forEachPage((index, page) => void out.push([index, frameView(page, this.pageSize)]));
    return out;
  }
}

/**
 * Copies of up to a word (a program's variable, a pid) go byte by byte; up to
 * SHORT_COPY bytes (a struct clone_args, a pid array) a 32-bit word at a
 * time when both sides are word aligned, as they are between a page and a
 * kernel buffer on every restorer call; longer ones through a subarray view.
 * Words are copied as they lie in memory, so byte order does not matter.
 */
const WORD_COPY = 8;
const SHORT_COPY = 64;

const words = new WordViews();

/** copyBytes copies `n` bytes from src[srcAt] to dst[dstAt]. */
function copyBytes(dst: Uint8Array, dstAt: number, src: Uint8Array, srcAt: number, n: number): void {
  if (n > SHORT_COPY) {
    dst.set(src.subarray(srcAt, srcAt + n), dstAt);
    return;
  }
  let i = 0;
  if (n > WORD_COPY && ((dstAt | srcAt | dst.byteOffset | src.byteOffset) & 3) === 0) {
    const d = words.wordsOf(dst);
    const s = words.wordsOf(src);
    const to = dstAt >>> 2;
    const from = srcAt >>> 2;
    const count = n >>> 2;
    for (let w = 0; w < count; w++) d[to + w] = s[from + w]!;
    i = count << 2;
  }
  for (; i < n; i++) dst[dstAt + i] = src[srcAt + i]!;
}
