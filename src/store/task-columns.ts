/**
 * A part's task records as columns: each field of every task in one typed
 * array (the register sets back to back in one byte string), strings in one
 * table. A host of 100,000 tasks is then a few dozen values to encode, each
 * a block copy, instead of 100,000 maps of eighteen keys.
 */
import type { ArchName } from '../arch/arch.js';
import type { TaskRecord } from './part-codec.js';

/** the integer fields, in this order per task */
const INTS = 8; // pid, group, parent, fpu, mm, cred user namespace, exit signal, pid namespace for children
/** the fields that may exceed 32 bits or be null (NaN), in this order per task */
const NUMS = 9; // seq, uid, euid, suid, effective, permitted, exit status, sleepUntil, clearChildTid
const EXITED = 1;
/** the credentials' not-dumpable flag (commit_creds), one bit rather than a column */
const NONDUMPABLE = 2;
/** the string fields (indices into the table, -1 for null), in this order per task */
const STRS = 4; // abi, comm, blockedIn, exePath

export interface TaskColumns {
  count: number;
  ints: Int32Array;
  nums: Float64Array;
  /** per task: EXITED and NONDUMPABLE bits */
  flags: Uint8Array;
  strings: string[];
  strs: Int32Array;
  regs: Uint8Array;
  regLengths: Int32Array;
  /** every task's children, one after another, and how many each has */
  children: Float64Array;
  childCounts: Int32Array;
  /** per extra state: its task, its name (in the string table) and its length; the bytes back to back */
  extraOf: Int32Array;
  extraBytes: Uint8Array;
}

/**
 * TaskColumnsWriter lays task records out as columns, one record at a time:
 * the caller may hand it the same record object each time, refilled, so
 * that saving 100,000 tasks makes no object per task.
 */
export class TaskColumnsWriter {
  private readonly ints: Int32Array;
  private readonly nums: Float64Array;
  private readonly flags: Uint8Array;
  private readonly strs: Int32Array;
  private readonly regs: Uint8Array;
  private readonly regLengths: Int32Array;
  private readonly childCounts: Int32Array;
  private readonly children: number[] = [];
  private readonly strings: string[] = [];
  private readonly stringIndex = new Map<string, number>();
  private readonly extraOf: number[] = [];
  private readonly extraData: Uint8Array[] = [];
  private i = 0;
  private r = 0;

  /** `regBytes`: the register bytes of all `count` tasks together */
  constructor(
    readonly count: number,
    regBytes: number,
  ) {
    this.ints = new Int32Array(count * INTS);
    this.nums = new Float64Array(count * NUMS);
    this.flags = new Uint8Array(count);
    this.strs = new Int32Array(count * STRS);
    this.regs = new Uint8Array(regBytes);
    this.regLengths = new Int32Array(count);
    this.childCounts = new Int32Array(count);
  }

  private str(s: string | null): number {
    if (s === null) return -1;
    let i = this.stringIndex.get(s);
    if (i === undefined) {
      i = this.strings.push(s) - 1;
      this.stringIndex.set(s, i);
    }
    return i;
  }

  /** add copies the record's fields into the columns: the record may be reused once it returns. */
  add(t: TaskRecord): void {
    const i = this.i++;
    if (i >= this.count) throw new RangeError(`more than the ${this.count} tasks announced`);
    const [I, N, S] = [i * INTS, i * NUMS, i * STRS];
    const { ints, nums, strs } = this;
    ints[I] = t.pid;
    ints[I + 1] = t.group;
    ints[I + 2] = t.parent;
    ints[I + 3] = t.fpu;
    ints[I + 4] = t.mm;
    ints[I + 5] = t.cred[3];
    ints[I + 6] = t.exit[0];
    ints[I + 7] = t.nsForChildren;
    nums[N] = t.seq;
    nums[N + 1] = t.cred[0];
    nums[N + 2] = t.cred[1];
    nums[N + 3] = t.cred[2];
    nums[N + 4] = t.cred[4];
    nums[N + 5] = t.cred[5];
    nums[N + 6] = t.exit[2];
    nums[N + 7] = t.sleepUntil ?? NaN;
    nums[N + 8] = t.clearChildTid;
    this.flags[i] = (t.exit[1] ? EXITED : 0) | (t.cred[6] ? NONDUMPABLE : 0);
    strs[S] = this.str(t.abi);
    strs[S + 1] = this.str(t.comm);
    strs[S + 2] = this.str(t.blockedIn);
    strs[S + 3] = this.str(t.exePath);
    this.regs.set(t.regs, this.r);
    this.r += t.regs.length;
    this.regLengths[i] = t.regs.length;
    for (const c of t.children) this.children.push(c);
    this.childCounts[i] = t.children.length;
    for (const [name, bytes] of t.extra) {
      this.extraOf.push(i, this.str(name), bytes.length);
      this.extraData.push(bytes);
    }
  }

  finish(): TaskColumns {
    if (this.i !== this.count) throw new RangeError(`${this.i} tasks of the ${this.count} announced`);
    let n = 0;
    for (const b of this.extraData) n += b.length;
    const extraBytes = new Uint8Array(n);
    n = 0;
    for (const b of this.extraData) {
      extraBytes.set(b, n);
      n += b.length;
    }
    const { count, ints, nums, flags, strings, strs, regs, regLengths, childCounts } = this;
    return { count, ints, nums, flags, strings, strs, regs, regLengths, children: Float64Array.from(this.children), childCounts, extraOf: Int32Array.from(this.extraOf), extraBytes };
  }
}

/** unpackTasks reads the records back; the byte fields are views of the columns' bytes. */
export function unpackTasks(cols: TaskColumns): TaskRecord[] {
  const { count: n, ints, nums, flags, strings, strs, regs, regLengths, children, childCounts, extraOf, extraBytes } = cols;
  if (ints.length !== n * INTS || nums.length !== n * NUMS || strs.length !== n * STRS || flags.length !== n || regLengths.length !== n || childCounts.length !== n) {
    throw new RangeError(`task columns do not hold ${n} tasks`);
  }
  const str = (i: number): string | null => (i < 0 ? null : strings[i] ?? badString(i));
  const extras: Array<Array<[string, Uint8Array]>> = Array.from({ length: n }, () => []);
  for (let e = 0, x = 0; e < extraOf.length; e += 3) {
    const [task, name, length] = [extraOf[e]!, extraOf[e + 1]!, extraOf[e + 2]!];
    extras[task]?.push([str(name)!, extraBytes.subarray(x, x + length)]);
    x += length;
  }
  const out: TaskRecord[] = new Array(n);
  let [r, c] = [0, 0];
  for (let i = 0; i < n; i++) {
    const [I, N, S] = [i * INTS, i * NUMS, i * STRS];
    const sleep = nums[N + 7]!;
    out[i] = {
      seq: nums[N]!,
      pid: ints[I]!,
      group: ints[I + 1]!,
      parent: ints[I + 2]!,
      children: Array.from(children.subarray(c, c + childCounts[i]!)),
      abi: str(strs[S]!) as ArchName,
      regs: regs.subarray(r, r + regLengths[i]!),
      fpu: ints[I + 3]!,
      extra: extras[i]!,
      mm: ints[I + 4]!,
      cred: (flags[i]! & NONDUMPABLE) !== 0 ? [nums[N + 1]!, nums[N + 2]!, nums[N + 3]!, ints[I + 5]!, nums[N + 4]!, nums[N + 5]!, true] : [nums[N + 1]!, nums[N + 2]!, nums[N + 3]!, ints[I + 5]!, nums[N + 4]!, nums[N + 5]!],
      comm: str(strs[S + 1]!) ?? '',
      exit: [ints[I + 6]!, (flags[i]! & EXITED) !== 0, nums[N + 6]!],
      blockedIn: str(strs[S + 2]!),
      sleepUntil: Number.isNaN(sleep) ? null : sleep,
      exePath: str(strs[S + 3]!),
      clearChildTid: nums[N + 8]!,
      nsForChildren: ints[I + 7]!,
    };
    r += regLengths[i]!;
    c += childCounts[i]!;
  }
  return out;
}

function badString(i: number): never {
  throw new RangeError(`string ${i} of the task columns does not exist`);
}
