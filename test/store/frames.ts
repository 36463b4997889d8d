/**
 * Page sharing as data, for comparing two hosts: which of their tasks'
 * pages are one frame, and whether each frame's reference count is the
 * number of page tables holding it.
 */
import type { Machine } from '../../src/container/machine.js';
import { ForkedAddressSpace, type MemoryMap, type Page, type PageTable } from '../../src/kernel/memory-map.js';

/** the page table behind a task's address space (a MemoryMap's is private: read here for the check alone) */
function tableOf(mm: MemoryMap | ForkedAddressSpace): PageTable {
  return mm instanceof ForkedAddressSpace ? mm.table : (mm as unknown as { table: PageTable }).table;
}

/**
 * frameClasses lists, task by task in root pid order and page by page, each
 * resident page as 'pid:index:frame', frames numbered in the order first
 * met: two hosts list the same when their tasks' pages are shared alike.
 */
export function frameClasses(m: Machine): string[] {
  const numbers = new Map<Page, number>();
  const out: string[] = [];
  for (const t of [...m.host.tasks].sort((a, b) => a.pid.nr - b.pid.nr)) {
    const pages = [...tableOf(t.addressSpaceOrFork).pages.entries()].sort((a, b) => a[0] - b[0]);
    for (const [index, page] of pages) {
      let n = numbers.get(page);
      if (n === undefined) numbers.set(page, (n = numbers.size));
      out.push(`${t.pid.nr}:${index}:${n}`);
    }
  }
  return out;
}

/** frameRefsAgree lists the frames of a wholly loaded host whose reference count is not the number of page tables holding them (none, when all is well). */
export function frameRefsAgree(m: Machine): string[] {
  const holders = new Map<Page, Set<PageTable>>();
  for (const t of m.host.tasks) {
    const table = tableOf(t.addressSpaceOrFork);
    for (const page of table.pages.values()) {
      const set = holders.get(page) ?? new Set<PageTable>();
      set.add(table);
      holders.set(page, set);
    }
  }
  return [...holders].filter(([page, tables]) => page.refs !== tables.size).map(([page, tables]) => `a frame of refs ${page.refs} held by ${tables.size} tables`);
}
