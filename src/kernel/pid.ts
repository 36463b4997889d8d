/**
 * Pid is struct pid: one number per level, from the root namespace (level 0)
 * down to the namespace it was allocated in. It stays allocated while a task
 * uses it as its PID (alive or zombie) or any thread group uses it as its
 * process group or session id; the last user frees its number at every level.
 *
 * Views are named as in include/linux/pid.h: `nr` (the root namespace's
 * number), `vnr` (the number in its own namespace), `nrIn(ns)`.
 */
import type { PidNamespace } from './pid-namespace.js';
import { pidNumberSlabs } from './slabs.js';
import type { Task } from './task.js';

export class Pid {
  /** task attached as PIDTYPE_PID, alive or zombie; null once reaped */
  task: Task | null = null;
  /** how many thread groups use this pid as PGID / as SID */
  pgrpUsers = 0;
  sessionUsers = 0;

  /** the numbers, level 0 first, at `at` in a slab shared with other pids: an array per pid would be two more objects per task */
  private readonly slab: Int32Array;
  private readonly at: number;

  constructor(
    /** the innermost namespace this pid lives in */
    readonly ns: PidNamespace,
    /** numbers[i] is the number at level i, for levels 0..ns.level (copied) */
    numbers: ArrayLike<number>,
    /** given, `numbers` is not copied: it is a block of pids' numbers (a stored host's column, the caller's alone from now on) and this pid's lie in it from `at` on */
    at?: number,
  ) {
    const n = ns.level + 1;
    if (at !== undefined && numbers instanceof Int32Array) {
      if (at < 0 || at + n > numbers.length) tooFewNumbers(ns, numbers.length - at);
      this.slab = numbers;
      this.at = at;
      return;
    }
    if (numbers.length < n) tooFewNumbers(ns, numbers.length);
    this.slab = pidNumberSlabs.withRoom(n);
    this.at = pidNumberSlabs.claim(n);
    for (let i = 0; i < n; i++) this.slab[this.at + i] = numbers[i]!;
  }

  get level(): number {
    return this.ns.level;
  }

  /** numbers lists the number at every level, level 0 first (a copy). */
  get numbers(): number[] {
    return Array.from(this.slab.subarray(this.at, this.at + this.ns.level + 1));
  }

  /** nrAt is the number at `level` (0..this.level). */
  nrAt(level: number): number {
    return this.slab[this.at + level]!;
  }

  /** copyNumbers writes the number at every level, level 0 first, into `out` from `at` on, and returns how many: one call per pid for a serializer of 100,000s. */
  copyNumbers(out: Int32Array, at: number): number {
    const n = this.ns.level + 1;
    for (let i = 0; i < n; i++) out[at + i] = this.slab[this.at + i]!;
    return n;
  }

  /** nr is the number the root namespace sees. */
  get nr(): number {
    return this.slab[this.at]!;
  }

  /** vnr is the number in the pid's own (innermost) namespace. */
  get vnr(): number {
    return this.slab[this.at + this.ns.level]!;
  }

  /** nrIn returns the number `ns` sees, or 0 when this pid is not visible there (pid_nr_ns). */
  nrIn(ns: PidNamespace): number {
    if (ns.level > this.ns.level || this.ns.chain[ns.level] !== ns) return 0;
    return this.slab[this.at + ns.level]!;
  }

  /** inUse reports whether anything still holds this pid. */
  get inUse(): boolean {
    return this.task !== null || this.pgrpUsers > 0 || this.sessionUsers > 0;
  }
}

/**
 * tooFewNumbers throws Pid's RangeError. Kept out of the constructor, which
 * every fork runs: the message's bytecode there would count against what
 * the JIT may inline into its callers.
 */
function tooFewNumbers(ns: PidNamespace, given: number): never {
  throw new RangeError(`a pid in a level-${ns.level} namespace needs ${ns.level + 1} numbers, not ${given}`);
}

/** putPid frees a pid's numbers at every level once nothing uses it (free_pid). */
export function putPid(pid: Pid): void {
  if (pid.inUse) return;
  for (let i = 0; i <= pid.ns.level; i++) {
    const ns = pid.ns.chain[i]!;
    const nr = pid.nrAt(i);
    if (ns.pids.get(nr) === pid) {
      ns.pids.delete(nr);
      ns.bitmap.clear(nr);
    }
  }
}
