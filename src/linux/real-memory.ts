/**
 * Reading a real process's memory from Node, for a dump: /proc/PID/pagemap
 * says which pages of a range the kernel holds (present or swapped, bits 63
 * and 62 of each 64-bit entry; proc(5), Documentation/admin-guide/mm/pagemap.rst),
 * and /proc/PID/mem reads them, one pread per run of consecutive pages.
 * Pages the kernel does not hold were never touched and read as zeros;
 * reading them through mem would fault the zero page in, so they are not
 * read at all. Reading /proc/PID/mem of another process needs ptrace
 * access to it (PTRACE_MODE_ATTACH); a stopped or frozen process is read as
 * it is.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { parseMaps, type MapsEntry } from './proc.js';

const PRESENT = 1 << 31; // bit 63, in the high word
const SWAPPED = 1 << 30; // bit 62

/** MemoryReadError says which range of which process could not be read, and why. */
export class MemoryReadError extends Error {
  override readonly name = 'MemoryReadError';
  readonly code = 'CKPT_DUMP_REFUSED';
}

/** ProcessMemory is an open handle on one process's memory (its /proc/PID/task/TID directory). */
export class ProcessMemory {
  private readonly mem: number;
  private readonly pagemap: number;

  constructor(
    readonly dir: string,
    readonly pageSize: number,
  ) {
    this.mem = openSync(`${dir}/mem`, 'r');
    try {
      this.pagemap = openSync(`${dir}/pagemap`, 'r');
    } catch (e) {
      closeSync(this.mem);
      throw e;
    }
  }

  /** maps lists the process's mappings. */
  maps(): MapsEntry[] {
    return parseMaps(readFileSync(`${this.dir}/maps`, 'utf8'));
  }

  /** held says, for each page of [start, start + pages * pageSize), whether the kernel holds it (present or swapped). */
  held(start: number, pages: number): boolean[] {
    const buf = new Uint8Array(pages * 8);
    const got = readSync(this.pagemap, buf, 0, buf.length, (start / this.pageSize) * 8);
    if (got !== buf.length) throw new MemoryReadError(`${this.dir}/pagemap gave ${got} of ${buf.length} bytes at page ${start / this.pageSize}`);
    const words = new DataView(buf.buffer);
    const out = new Array<boolean>(pages);
    for (let i = 0; i < pages; i++) out[i] = (words.getUint32(i * 8 + 4, true) & (PRESENT | SWAPPED)) !== 0;
    return out;
  }

  /** read fills `into` with the bytes at `address`; a short read (an unmapped or unreadable page) is an error naming the address. */
  read(address: number, into: Uint8Array): void {
    let done = 0;
    while (done < into.length) {
      let got: number;
      try {
        got = readSync(this.mem, into, done, into.length - done, address + done);
      } catch (e) {
        throw new MemoryReadError(`reading ${into.length - done} bytes at 0x${(address + done).toString(16)} of ${this.dir}/mem failed with ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
      if (got === 0) throw new MemoryReadError(`${this.dir}/mem ends at 0x${(address + done).toString(16)}: nothing is mapped there`);
      done += got;
    }
  }

  close(): void {
    closeSync(this.mem);
    closeSync(this.pagemap);
  }
}

/**
 * readPages reads the pages of [start, start + pages * pageSize) that the
 * kernel holds or that `wanted` names (page numbers counted from `start`),
 * coalescing consecutive pages into one read. Each result is a view of one
 * buffer per run.
 */
export function readPages(mem: ProcessMemory, start: number, pages: number, wanted: ReadonlySet<number>): Map<number, Uint8Array> {
  const held = mem.held(start, pages);
  const size = mem.pageSize;
  const out = new Map<number, Uint8Array>();
  for (let i = 0; i < pages; ) {
    if (!held[i] && !wanted.has(i)) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < pages && (held[j] || wanted.has(j))) j++;
    const run = new Uint8Array((j - i) * size);
    mem.read(start + i * size, run);
    for (let k = i; k < j; k++) out.set(k, run.subarray((k - i) * size, (k - i + 1) * size));
    i = j;
  }
  return out;
}
