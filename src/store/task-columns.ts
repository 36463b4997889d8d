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

/** packTasks lays task records out as columns. */
export function packTasks(tasks: readonly TaskRecord[]): TaskColumns {
  const n = tasks.length;
  const ints = new Int32Array(n * INTS);
  const nums = new Float64Array(n * NUMS);
  const flags = new Uint8Array(n);
  const strs = new Int32Array(n * STRS);
  const strings: string[] = [];
  const stringIndex = new Map<string, number>();
  const str = (s: string | null): number => {
    if (s === null) return -1;
    let i = stringIndex.get(s);
    if (i === undefined) {
      i = strings.push(s) - 1;
      stringIndex.set(s, i);
    }
    return i;
  };
  const regLengths = new Int32Array(n);
  const childCounts = new Int32Array(n);
  let regBytes = 0;
  let childTotal = 0;
  let extraBytes = 0;
  let extras = 0;
  for (const t of tasks) {
    regBytes += t.regs.length;
    childTotal += t.children.length;
    extras += t.extra.length;
    for (const [, b] of t.extra) extraBytes += b.length;
  }
  const regs = new Uint8Array(regBytes);
  const children = new Float64Array(childTotal);
  const extraOf = new Int32Array(extras * 3);
  const extraData = new Uint8Array(extraBytes);
  let [r, c, e, x] = [0, 0, 0, 0];
  tasks.forEach((t, i) => {
    ints.set([t.pid, t.group, t.parent, t.fpu, t.mm, t.cred[3], t.exit[0], t.nsForChildren], i * INTS);
    nums.set([t.seq, t.cred[0], t.cred[1], t.cred[2], t.cred[4], t.cred[5], t.exit[2], t.sleepUntil ?? NaN, t.clearChildTid], i * NUMS);
    flags[i] = (t.exit[1] ? EXITED : 0) | (t.cred[6] ? NONDUMPABLE : 0);
    strs.set([str(t.abi), str(t.comm), str(t.blockedIn), str(t.exePath)], i * STRS);
    regs.set(t.regs, r);
    r += t.regs.length;
    regLengths[i] = t.regs.length;
    children.set(t.children, c);
    c += t.children.length;
    childCounts[i] = t.children.length;
    for (const [name, bytes] of t.extra) {
      extraOf.set([i, str(name), bytes.length], e);
      e += 3;
      extraData.set(bytes, x);
      x += bytes.length;
    }
  });
  return { count: n, ints, nums, flags, strings, strs, regs, regLengths, children, childCounts, extraOf, extraBytes: extraData };
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
