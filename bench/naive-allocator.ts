/**
 * A baseline for the allocator benchmarks: alloc_pidmap's algorithm with a
 * byte per pid and a pid-by-pid scan, the way it reads before any word-level
 * optimisation. Same semantics as src/kernel/pid-allocator.ts allocAuto.
 */
import { RESERVED_PIDS } from '../src/abi/limits.js';

export class NaiveAllocator {
  readonly used: Uint8Array;
  lastPid = 0;

  constructor(readonly pidMax: number) {
    this.used = new Uint8Array(pidMax);
    this.used[0] = 1;
  }

  alloc(): number {
    let start = this.lastPid + 1;
    if (start >= this.pidMax) start = RESERVED_PIDS;
    for (let nr = start; nr < this.pidMax; nr++) if (this.take(nr)) return nr;
    if (start > RESERVED_PIDS) for (let nr = RESERVED_PIDS; nr < this.lastPid; nr++) if (this.take(nr)) return nr;
    return -1;
  }

  private take(nr: number): boolean {
    if (this.used[nr]) return false;
    this.used[nr] = 1;
    this.lastPid = nr;
    return true;
  }

  setTarget(nr: number): boolean {
    if (this.used[nr]) return false;
    this.used[nr] = 1;
    return true;
  }

  free(nr: number): void {
    this.used[nr] = 0;
  }
}
