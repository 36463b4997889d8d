/**
 * PidTable maps a namespace's numbers to struct pids (find_pid_ns), in pages
 * of 32768 slots allocated on first use, like the pid bitmap beside it.
 * Iteration is in ascending pid order, which is the order the kernel walks a
 * namespace in (zap_pid_ns_processes, kill(-1)).
 */
import type { Pid } from './pid.js';

const SHIFT = 15;
const PAGE = 1 << SHIFT;

export class PidTable {
  /**
   * Pages, and the slots of each, are made full (of null, of undefined) at
   * their final length: an array that later had to grow or go from holey
   * small integers to objects would change map, and code optimised for one
   * namespace's table would be thrown away at the next namespace's.
   */
  private readonly pages: Array<Array<Pid | undefined> | null>;
  private count = 0;

  /** Makes an empty table for numbers 0..limit-1. */
  constructor(limit: number) {
    this.pages = new Array<Array<Pid | undefined> | null>(Math.ceil(limit / PAGE)).fill(null);
  }

  get size(): number {
    return this.count;
  }

  get(nr: number): Pid | undefined {
    if (nr < 0) return undefined;
    return this.pages[nr >>> SHIFT]?.[nr & (PAGE - 1)];
  }

  set(nr: number, pid: Pid): void {
    const p = nr >>> SHIFT;
    let page = this.pages[p];
    if (!page) {
      page = new Array<Pid | undefined>(PAGE).fill(undefined);
      this.pages[p] = page;
    }
    if (page[nr & (PAGE - 1)] === undefined) this.count++;
    page[nr & (PAGE - 1)] = pid;
  }

  delete(nr: number): void {
    const page = this.pages[nr >>> SHIFT];
    if (!page || page[nr & (PAGE - 1)] === undefined) return;
    page[nr & (PAGE - 1)] = undefined;
    this.count--;
  }

  /** entries yields [nr, pid] in ascending nr. */
  *entries(): IterableIterator<[number, Pid]> {
    for (let p = 0; p < this.pages.length; p++) {
      const page = this.pages[p];
      if (!page) continue;
      for (let i = 0; i < PAGE; i++) {
        const pid = page[i];
        if (pid !== undefined) yield [p * PAGE + i, pid];
      }
    }
  }

  *keys(): IterableIterator<number> {
    for (const [nr] of this.entries()) yield nr;
  }

  *values(): IterableIterator<Pid> {
    for (const [, pid] of this.entries()) yield pid;
  }
}
