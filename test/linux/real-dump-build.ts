/**
 * A real container and its mirror, made from a model image for the real dump's tests and bench: the
 * real executor builds the image's tree as agents with the image's memory (by the real restore, or
 * by the agents' own stores where the kernel chose to map it); the mirror is the model's restore of
 * the same image.
 */
import { Indexer } from '../../src/codec/indexer.js';
import { Machine } from '../../src/container/machine.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { planFor, restoreAtomically } from '../../src/image/restore.js';
import type { MemoryMap, Vma } from '../../src/kernel/memory-map.js';
import type { Task } from '../../src/kernel/task.js';
import type { HelperSession } from '../../src/linux/helper.js';
import type { RealMirror } from '../../src/linux/real-dump.js';
import { executeOnLinux, parseReply, whatLinuxCannot } from '../../src/linux/real-executor.js';
import { pageBytes } from '../../src/codec/image-pages.js';
import { refPairs } from '../../src/codec/address-space-record.js';

const MAP_PRIVATE_ANONYMOUS = 0x22;
const PROT_WRITE = 2;

export interface Built {
  mirror: RealMirror;
  /** each image task's pids at every level on this machine, outermost first */
  nspids: Map<number, number[]>;
  /** the machine pid of each image task */
  pidOf: (i: number) => number;
}

/**
 * How the image's memory gets into the processes: 'restore', the real restore's own (each mapping at
 * the image's address, pages written through /proc/PID/mem); 'stores', each address space's
 * mappings mapped in one of its agents where the kernel chooses and the page bytes written there by
 * the agent's own stores (the dump is then told where each mapping is).
 */
export type MemoryBy = 'restore' | 'stores';

/** build makes the image's tree and memory on the real kernel; the mirror is the model's restore of the same image. */
export async function build(h: HelperSession, image: ContainerImage, memory: MemoryBy = 'restore'): Promise<Built> {
  const plan = planFor(Machine.create('t', 'x86_64'), image, { via: 'clone3' });
  const cannot = whatLinuxCannot(plan, image);
  if (cannot.length > 0) throw new Error(`the real executor cannot build this image: ${cannot.map((p) => p.message).join('; ')}`);
  const made = await executeOnLinux(h, image, plan, { memory: memory === 'restore' });
  const real = memory === 'stores' ? await writeByStores(h, image) : null;
  const { machine, container } = restoreAtomically(Machine.create('t', 'x86_64'), image, { via: 'clone3' });
  const indexOf = new Map(image.tasks.map((t, i) => [t.numbers.join('/'), i]));
  const mine = [...machine.host.tasks].filter((t) => container.init.pid.ns.isAncestorOf(t.pid.ns));
  const mmIndex = new Indexer<MemoryMap>();
  for (const t of mine) mmIndex.of(t.mm);
  const tids = new Map<Task, number>(mine.map((t) => [t, made.nspids.get(indexOf.get(t.pid.numbers.slice(image.base).join('/'))!)![0]!]));
  return {
    mirror: { machine, container, tids, ...(real ? { realAddress: (mm: MemoryMap, vma: Vma) => real.get(`${mmIndex.of(mm)}:${vma.start}`) ?? vma.start } : {}) },
    nspids: made.nspids,
    pidOf: (i) => made.nspids.get(i)![0]!,
  };
}

/** writeByStores maps and fills every address space in one of its agents and gives "mm:start" -> the address the kernel chose */
async function writeByStores(h: HelperSession, image: ContainerImage): Promise<Map<string, number>> {
  const op = async (agent: number, request: string): Promise<number> => {
    const r = parseReply(await h.command(`op ${agent} ${request}`));
    if (r.kind !== 'r' || r.errno) throw new Error(`op ${agent} ${request.slice(0, 40)}: ${JSON.stringify(r)}`);
    return r.ret;
  };
  const real = new Map<string, number>(); // "mm:start" -> real address
  for (const [k, [, vmas, refs]] of image.mms.entries()) {
    const agent = image.tasks.findIndex((t) => t.mm === k && !t.exited);
    if (vmas.length === 0 || agent < 0) continue;
    for (const [start, end, prot] of vmas) {
      const pages = refPairs(refs).filter(([index]) => index * 4096 >= start && index * 4096 < end);
      if (pages.length > 0 && !(prot & PROT_WRITE)) throw new Error('this test writes pages through the agent: a read-only mapping with pages is not covered');
      const at = await op(agent, `mmap ${end - start} ${prot} ${MAP_PRIVATE_ANONYMOUS}`);
      real.set(`${k}:${start}`, at);
      for (const [index, page] of pages) {
        const bytes = pageBytes(image.pages, page);
        // the non-zero runs, 1 KiB at most per request (a request is one line of at most 4 KiB)
        for (let i = 0; i < bytes.length; ) {
          if (bytes[i] === 0) {
            i++;
            continue;
          }
          let j = i;
          while (j < bytes.length && j - i < 1024 && bytes[j] !== 0) j++;
          await op(agent, `poke ${at + index * 4096 - start + i} ${Buffer.from(bytes.subarray(i, j)).toString('hex')}`);
          i = j;
        }
      }
    }
  }
  return real;
}
