/**
 * Memory on a real restore: every live restored process has each mapping of its image's address
 * space at its own address, with its protection and sharing (/proc/PID/maps), and every byte of it
 * read back through /proc/PID/mem is the image's (its pages, zeros elsewhere); a MAP_SHARED mapping
 * two processes share in the image is one memory in the real processes. Mappings that cannot be
 * at their addresses are refused before anything is made. Needs root and the compiled helper;
 * skipped with the reason otherwise.
 */
import { tryRestoreOnLinux, withCheckedSession } from './with-helper.js';
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { planFor } from '../../src/image/restore.js';
import { HelperSession, probeLinux } from '../../src/linux/helper.js';
import { executeOnLinux, type RealRestore } from '../../src/linux/real-executor.js';
import { memoryProblems, planMemory, X86_64_TASK_SIZE } from '../../src/linux/restore-memory.js';
import { workload as generated } from '../image/generated-workloads.js';
import { DAEMON, imageOf, REAPED, workload } from './restore-images.js';
import { pageBytes, pageCount } from '../../src/codec/image-pages.js';
import { refPairs } from '../../src/codec/address-space-record.js';

const support = await probeLinux();
if (!support.ok) console.log(`test/linux: real memory restores skipped: ${support.reason}`);

const PAGE = 4096;

/** SHARED: a MAP_SHARED mapping written before and after a fork, by both processes, and a private one beside it. */
const SHARED = [
  'var m, p, c',
  'program main',
  '  m = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)',
  '  p = mmap(0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)',
  '  store m, 11',
  '  store p, 22',
  '  c = fork() start kid',
  '  store m + 4096, 33',
  '  sleep 100000000',
  'end',
  'program kid',
  '  store m + 8192, 44',
  '  store p, 55',
  '  sleep 100000000',
  'end',
].join('\n');

/** mapsOf reads /proc/PID/maps as [start, end, perms]. */
function mapsOf(pid: number): Array<[number, number, string]> {
  return readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [range, perms] = l.split(/\s+/);
      const [s, e] = range!.split('-').map((h) => parseInt(h, 16));
      return [s!, e!, perms!];
    });
}

function readMem(pid: number, address: number, length: number): Uint8Array {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, address + done);
      if (n <= 0) throw new Error(`short read at ${address + done}`);
      done += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** checkMemory holds every live process's mappings and bytes against the image. */
function checkMemory(image: ContainerImage, made: RealRestore): number {
  let pagesChecked = 0;
  // A shared mapping is one memory for all who share it: a page one of them wrote is every one's
  // (the model keeps a shared page first written after the fork to its writer alone; the real
  // kernel, the judge, shares it).
  const pagesOf = (task: number) => new Map(refPairs(image.mms[image.tasks[task]!.mm]![2]).map(([index, stored]) => [index, pageBytes(image.pages, stored)]));
  const sharers = new Map<string, number[]>();
  for (const m of planMemory(image).mappings.filter((m) => m.shared)) {
    const key = `${m.joins ?? m.task}:${m.start}`;
    sharers.set(key, [...(sharers.get(key) ?? []), m.task]);
  }
  const sharedPage = (task: number, start: number, index: number): Uint8Array | undefined => {
    const group = [...sharers.values()].find((g) => g.includes(task) && planMemory(image).mappings.some((m) => m.task === task && m.start === start && m.shared));
    for (const member of group ?? [task]) {
      const page = pagesOf(member).get(index);
      if (page) return page;
    }
    return undefined;
  };
  image.tasks.forEach((t, i) => {
    if (t.exited || t.mm < 0) return;
    const pid = made.pids.get(i)!;
    const [, vmas, refs] = image.mms[t.mm]!;
    const mapper = image.tasks.findIndex((u) => !u.exited && u.mm === t.mm);
    const own = new Map(refPairs(refs).map(([index, stored]) => [index, pageBytes(image.pages, stored)]));
    const pageAt = (shared: boolean, start: number, index: number): Uint8Array | undefined => own.get(index) ?? (shared ? sharedPage(mapper, start, index) : undefined);
    const maps = mapsOf(pid);
    for (const [start, end, prot, shared] of vmas) {
      const perms = `${prot & 1 ? 'r' : '-'}${prot & 2 ? 'w' : '-'}${prot & 4 ? 'x' : '-'}${shared ? 's' : 'p'}`;
      // the kernel may merge neighbouring private mappings of the same protection into one line
      const line = maps.find(([s, e]) => s <= start && end <= e);
      expect(line, `task ${t.numbers.join('/')}: ${start.toString(16)}-${end.toString(16)} is mapped`).toBeDefined();
      expect(line![2]).toBe(perms);
      if (shared) expect([line![0], line![1]]).toEqual([start, end]);
      const bytes = readMem(pid, start, end - start);
      const want = new Uint8Array(end - start);
      for (let a = start; a < end; a += PAGE) {
        const page = pageAt(shared, start, a / PAGE);
        if (page) want.set(page, a - start);
      }
      // the first byte that differs, -1 when none
      expect(bytes.findIndex((b, k) => b !== want[k]), `task ${t.numbers.join('/')}: the bytes of ${start.toString(16)}-${end.toString(16)}`).toBe(-1);
      pagesChecked += (end - start) / PAGE;
    }
  });
  return pagesChecked;
}

const withHelper = <T>(body: (h: HelperSession) => Promise<T>): Promise<T> => withCheckedSession('real-memory', body);

/** restoreAndCheck restores `image` on the real kernel and checks its memory: the number of pages checked, or why it was not built. */
async function restoreAndCheck(image: ContainerImage, after?: (made: RealRestore) => void): Promise<number | 'refused' | 'undone'> {
  return tryRestoreOnLinux('real-memory', image, (made) => {
    const pages = checkMemory(image, made);
    after?.(made);
    return pages;
  });
}

describe.skipIf(!support.ok)(`memory on a real restore${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  const CASES: Array<[string, string, number]> = [
    ['a daemon', DAEMON, 8],
    ['a reaped session leader', REAPED, 12],
    ['nested namespaces', workload('nested'), 30],
    ['pidcache', workload('pidcache'), 25],
    ['threads', workload('threads'), 20],
    ['jobs', workload('jobs'), 13],
    ['churn', workload('churn'), 40],
  ];
  for (const [title, text, steps] of CASES) {
    it(`${title}: every mapping at its address, every byte the image's`, { timeout: 30_000 }, async () => {
      const image = imageOf(text, steps);
      expect(pageCount(image.pages)).toBeGreaterThan(0);
      expect(await restoreAndCheck(image)).toBeGreaterThan(0);
    });
  }

  it('a MAP_SHARED mapping two processes share is one memory; the private one beside it is not', { timeout: 30_000 }, async () => {
    const image = imageOf(SHARED, 10); // every store done, both asleep
    const [parent, kid] = [image.init, image.tasks[image.init]!.children[0]!];
    expect(image.tasks.map((t) => t.exited)).toEqual([false, false]);
    const shared = image.mms[image.tasks[parent]!.mm]![1].find((v) => v[3])!;
    const priv = image.mms[image.tasks[parent]!.mm]![1].find((v) => !v[3] && v[1] - v[0] === 2 * PAGE)!;
    const steps = planMemory(image).mappings.filter((m) => m.shared);
    expect(steps.map((m) => [m.task, m.joins])).toEqual([
      [parent, null],
      [kid, parent],
    ]);
    const result = await restoreAndCheck(image, (made) => {
      const poke = (pid: number, address: number, value: number): void => {
        const fd = openSync(`/proc/${pid}/mem`, 'r+');
        writeSync(fd, new Uint8Array([value]), 0, 1, address);
        closeSync(fd);
      };
      poke(made.pids.get(parent)!, shared[0] + 100, 0x5a);
      expect(readMem(made.pids.get(kid)!, shared[0] + 100, 1)[0]).toBe(0x5a);
      poke(made.pids.get(kid)!, priv[0] + 100, 0x6b);
      expect(readMem(made.pids.get(parent)!, priv[0] + 100, 1)[0]).toBe(0);
    });
    expect(result).toBeGreaterThan(0);
  });

  it('generated workloads: each live process holds its image memory, or the restore is refused or undone', { timeout: 240_000 }, async () => {
    const counts = { built: 0, refused: 0, undone: 0, pages: 0 };
    await fc.assert(
      fc.asyncProperty(generated, fc.nat(80), async (text, n) => {
        const r = await restoreAndCheck(imageOf(text, n));
        if (typeof r === 'number') {
          counts.built++;
          counts.pages += r;
        } else counts[r]++;
      }),
      { numRuns: 60, seed: 2027 },
    );
    console.log(`real memory restores of 60 generated workloads: ${JSON.stringify(counts)}`);
    expect(counts.built).toBeGreaterThan(counts.refused + counts.undone);
  });

  it("refuses up front a mapping over the helper's own or beyond the address space, naming both", () => {
    const image = imageOf(workload('pidcache'), 25);
    const [, vmas] = image.mms[image.tasks[image.init]!.mm]!;
    const first = vmas[0]!;
    const problems = memoryProblems(image, [{ start: first[0], end: first[0] + PAGE, name: '/usr/lib/ckpt-helper' }]);
    expect(problems[0]!.message).toMatch(/^the mapping 0x[0-9a-f]+-0x[0-9a-f]+ of task 1 would overlap the restoring helper's own mapping 0x[0-9a-f]+-0x[0-9a-f]+ \(\/usr\/lib\/ckpt-helper\)/);
    const far = { ...image, mms: image.mms.map(([u, v, p]) => [u, v.map(([s, e, ...rest]) => (s === first[0] ? [X86_64_TASK_SIZE, X86_64_TASK_SIZE + PAGE, ...rest] : [s, e, ...rest])), p]) } as ContainerImage;
    expect(memoryProblems(far, []).map((p) => p.message)).toContain(`the mapping 0x${X86_64_TASK_SIZE.toString(16)}-0x${(X86_64_TASK_SIZE + PAGE).toString(16)} of task 1 lies beyond this machine's address space (user mappings end at 0x7ffffffff000)`);
  });

  it("refuses before anything is made an image whose mapping sits on the helper's own", { timeout: 30_000 }, async () => {
    await withHelper(async (h) => {
      const helperText = mapsOf(h.pid!)[0]!;
      const image = imageOf(workload('pidcache'), 25);
      const moved = { ...image, mms: image.mms.map(([u, v, p]) => [u, [...v, [helperText[0], helperText[0] + PAGE, 1, false, 'x']], p]) } as ContainerImage;
      const plan = planFor(Machine.create('t', 'x86_64'), moved, { via: 'clone3' });
      const lines: string[] = [];
      const port = { pid: h.pid, command: (l: string) => (lines.push(l), h.command(l)), batch: (ls: readonly string[]) => (lines.push(...ls), h.batch(ls)) };
      await expect(executeOnLinux(port, moved, plan)).rejects.toThrow(/would overlap the restoring helper's own mapping/);
      expect(lines).toEqual([]);
    });
  });
});
