/**
 * A restored real process holds its container's memory: every mapping of
 * the image's address spaces is mapped at its own address in the process
 * (by its agent, never over anything there: MAP_FIXED_NOREPLACE), and the
 * pages the image holds are written into it through /proc/PID/mem.
 * Threads share their process's address space, so each address space is
 * mapped once, by its first live task. A MAP_SHARED mapping that several
 * processes share in the image (they hold the same shared pages) is mapped
 * once and joined by the others through /proc/PID/map_files, so that it is
 * one memory on the real kernel too. A shared mapping no page of which was
 * ever written shows no sharing in the image: each process gets its own.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { ContainerImage } from '../image/container-image.js';
import { pageBytes } from '../codec/image-pages.js';
import type { Problem } from '../image/restore-error.js';
import { refPairs } from '../codec/address-space-record.js';

/** PAGE: the page size of the machine (x86_64) and of the images it restores. */
const PAGE = 4096;
/** TASK_SIZE_MAX of x86_64 with 4-level page tables: user mappings end below it (arch/x86/include/asm/page_64_types.h). */
export const X86_64_TASK_SIZE = 0x7ffffffff000;
const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;

/** MappingStep: how one mapping of an address space is made: fresh, or joining another process's shared one. */
export interface MappingStep {
  /** the image task whose agent maps it */
  task: number;
  start: number;
  end: number;
  prot: number;
  shared: boolean;
  /** for a shared mapping another process maps first: that task (its /proc/PID/map_files link is joined) */
  joins: number | null;
}

/** PageRun: consecutive pages to write into one task's process at `address`. */
export interface PageRun {
  task: number;
  address: number;
  bytes: Uint8Array;
}

export interface MemoryPlan {
  mappings: MappingStep[];
  pages: PageRun[];
}

const hex = (n: number): string => `0x${n.toString(16)}`;
const taskName = (image: ContainerImage, i: number): string => `task ${image.tasks[i]!.numbers.join('/')}`;

/** mapperOf: for each address space (index into image.mms) some live task uses, the first such task. */
function mappersOf(image: ContainerImage): Map<number, number> {
  const mapper = new Map<number, number>();
  image.tasks.forEach((t, i) => {
    if (!t.exited && t.mm >= 0 && !mapper.has(t.mm)) mapper.set(t.mm, i);
  });
  return mapper;
}

/**
 * planMemory says, as data, how the image's memory is rebuilt: the mappings each live address
 * space's first task makes (a shared one joined when an earlier address space holds one of its
 * pages at the same place), and the runs of pages to write.
 */
export function planMemory(image: ContainerImage): MemoryPlan {
  const mappings: MappingStep[] = [];
  const pages: PageRun[] = [];
  /** shared stored page -> [task that mapped it first, its mapping's start and end] */
  const sharedHeld = new Map<number, { task: number; start: number; end: number }>();
  for (const [mm, task] of mappersOf(image)) {
    const [, vmas, flatRefs] = image.mms[mm]!;
    const refs = refPairs(flatRefs);
    const byPage = new Map(refs.map(([index, stored]) => [index, stored]));
    for (const [start, end, prot, shared] of vmas) {
      let joins: number | null = null;
      if (shared) {
        for (let index = start / PAGE; index < end / PAGE && joins === null; index++) {
          const held = sharedHeld.get(byPage.get(index) ?? -1);
          if (held && held.start === start && held.end === end) joins = held.task;
        }
        if (joins === null) for (let index = start / PAGE; index < end / PAGE; index++) if (byPage.has(index)) sharedHeld.set(byPage.get(index)!, { task, start, end });
      }
      mappings.push({ task, start, end, prot, shared, joins });
    }
    // runs of consecutive pages (a joined shared mapping's are written again: the same bytes)
    const sorted = [...refs].sort((a, b) => a[0] - b[0]);
    for (let k = 0; k < sorted.length; ) {
      let j = k + 1;
      while (j < sorted.length && sorted[j]![0] === sorted[j - 1]![0] + 1) j++;
      const bytes = new Uint8Array((j - k) * PAGE);
      for (let m = k; m < j; m++) bytes.set(pageBytes(image.pages, sorted[m]![1]), (m - k) * PAGE);
      pages.push({ task, address: sorted[k]![0] * PAGE, bytes });
      k = j;
    }
  }
  return { mappings, pages };
}

/**
 * memoryProblems lists, before anything is made, what keeps the image's memory from its own
 * addresses on this machine: a mapping beyond the address space, or over one of the helper's own
 * mappings (every agent starts as a copy of the helper: `helperMaps`, as /proc/PID/maps lists them).
 */
export function memoryProblems(image: ContainerImage, helperMaps: ReadonlyArray<{ start: number; end: number; name: string }>): Problem[] {
  const problems: Problem[] = [];
  for (const [mm, task] of mappersOf(image)) {
    for (const [start, end] of image.mms[mm]![1]) {
      const what = (): string => `the mapping ${hex(start)}-${hex(end)} of ${taskName(image, task)}`; // named only when refused
      if (end > X86_64_TASK_SIZE) {
        problems.push({ code: 'CKPT_UNSUPPORTED', message: `${what()} lies beyond this machine's address space (user mappings end at ${hex(X86_64_TASK_SIZE)})` });
        continue;
      }
      const hit = helperMaps.find((h) => h.start < end && start < h.end);
      if (hit) problems.push({ code: 'CKPT_UNSUPPORTED', message: `${what()} would overlap the restoring helper's own mapping ${hex(hit.start)}-${hex(hit.end)}${hit.name ? ` (${hit.name})` : ''}, which every restored process starts with` });
    }
  }
  return problems;
}

/** readMaps reads /proc/PID/maps: each mapping's start, end and name. */
export function readMaps(pid: number): Array<{ start: number; end: number; name: string }> {
  return readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      const [range, , , , , ...name] = line.split(/\s+/);
      const [start, end] = range!.split('-').map((h) => parseInt(h, 16));
      return { start: start!, end: end!, name: name.join(' ') };
    });
}

/** mappingRequest is the agent's request that makes `m`; `pidOf` gives a task's pid as this machine's /proc numbers it. */
export function mappingRequest(m: MappingStep, pidOf: (task: number) => number): string {
  if (m.joins !== null) return `mapfile ${m.start} ${m.end - m.start} ${m.prot} /proc/${pidOf(m.joins)}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`;
  return `map ${m.start} ${m.end - m.start} ${m.prot} ${m.shared ? MAP_SHARED : MAP_PRIVATE}`;
}

/**
 * writePages writes each run into its task's process through /proc/PID/mem (which writes through
 * a mapping's protection, as a debugger's poke does), one write per run.
 */
export function writePages(runs: readonly PageRun[], pidOf: (task: number) => number): void {
  const byTask = new Map<number, PageRun[]>();
  for (const r of runs) (byTask.get(r.task) ?? (byTask.set(r.task, []), byTask.get(r.task)!)).push(r);
  for (const [task, list] of byTask) {
    const fd = openSync(`/proc/${pidOf(task)}/mem`, 'r+');
    try {
      for (const r of list) {
        let done = 0;
        while (done < r.bytes.length) done += writeSync(fd, r.bytes, done, r.bytes.length - done, r.address + done);
      }
    } finally {
      closeSync(fd);
    }
  }
}
