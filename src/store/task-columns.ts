/**
 * A part's tasks as columns: each field of every task in one typed array
 * (the register sets back to back in one byte string), strings in one
 * table. A host of 100,000 tasks is then a few dozen values to encode, each
 * a block copy. Both ways go straight between the columns and the tasks,
 * with no record per task in between: saving or loading 100,000 tasks
 * makes no object a task does not keep.
 */
import type { ArchName, Arch } from '../arch/arch.js';
import { SIGCHLD } from '../abi/signals.js';
import type { SyscallName } from '../abi/syscall-names.js';
import type { Credentials, UserNamespace } from '../kernel/credentials.js';
import { ForkedAddressSpace, type MemoryMap } from '../kernel/memory-map.js';
import type { Pid } from '../kernel/pid.js';
import type { PidNamespace } from '../kernel/pid-namespace.js';
import { copyExtraState, NO_EXTRA, Task } from '../kernel/task.js';
import type { ForkedGroup, ThreadGroup } from '../kernel/thread-group.js';
import { ByteRuns } from './column-file.js';
import { concatBytes } from '../codec/bytes.js';

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
  /** ByteRuns as encoded (the slabs' runs, written as they lie), a Uint8Array as read back */
  regs: Uint8Array | ByteRuns;
  regLengths: Int32Array;
  /** every task's children, one after another, and how many each has */
  children: Float64Array;
  childCounts: Int32Array;
  /** per extra state: its task, its name (in the string table) and its length; the bytes back to back */
  extraOf: Int32Array;
  extraBytes: Uint8Array;
}

/** TaskRefs numbers what a task refers to, as the part being encoded records it. */
export interface TaskRefs {
  pid(p: Pid): number;
  group(g: ThreadGroup | ForkedGroup): number;
  task(t: Task | null): number;
  fpu(f: Uint8Array): number;
  space(s: MemoryMap | ForkedAddressSpace): number;
  userNs(u: UserNamespace): number;
  pidNs(ns: PidNamespace): number;
  /** appends the task's children to `out` (a core task's as [part, seq] pairs) */
  children(t: Task, out: number[]): void;
}

/** encodeTasks lays the tasks out as columns, reading each task's fields as they are: an address space or thread group a fork left unmade stays unmade. */
export function encodeTasks(tasks: readonly Task[], seqs: readonly number[], refs: TaskRefs): TaskColumns {
  const count = tasks.length;
  const ints = new Int32Array(count * INTS);
  const nums = new Float64Array(count * NUMS);
  const flags = new Uint8Array(count);
  const strs = new Int32Array(count * STRS);
  const regLengths = new Int32Array(count);
  const childCounts = new Int32Array(count);
  const regs = new ByteRuns(Task.regRuns(tasks));
  const children: number[] = [];
  const strings: string[] = [];
  const stringIndex = new Map<string, number>();
  let [lastString, lastIndex] = ['', -1];
  const str = (s: string | null): number => {
    if (s === null) return -1;
    if (s === lastString && lastIndex >= 0) return lastIndex;
    let i = stringIndex.get(s);
    if (i === undefined) {
      i = strings.push(s) - 1;
      stringIndex.set(s, i);
    }
    [lastString, lastIndex] = [s, i];
    return i;
  };
  const extraOf: number[] = [];
  const extraData: Uint8Array[] = [];
  let lastAbi: [string | null, number] = [null, -1];
  let lastComm: [string | null, number] = [null, -1];
  for (let i = 0; i < count; i++) {
    const t = tasks[i]!;
    const I = i * INTS;
    const N = i * NUMS;
    const S = i * STRS;
    const c: Credentials = t.creds;
    ints[I] = refs.pid(t.pid);
    ints[I + 1] = refs.group(t.groupOrFork);
    ints[I + 2] = refs.task(t.parent);
    ints[I + 3] = refs.fpu(t.fpu);
    ints[I + 4] = refs.space(t.addressSpaceOrFork);
    ints[I + 5] = refs.userNs(c.userNs);
    // the fields most tasks have at their defaults (task.ts TaskRare), read from the record itself when it exists
    const rare = t.rareState;
    ints[I + 6] = rare ? rare.exitSignal : SIGCHLD;
    ints[I + 7] = refs.pidNs(rare?.nsForChildren ?? t.pid.ns);
    nums[N] = seqs[i]!;
    nums[N + 1] = c.uid;
    nums[N + 2] = c.euid;
    nums[N + 3] = c.suid;
    nums[N + 4] = c.effective;
    nums[N + 5] = c.permitted;
    nums[N + 6] = rare ? rare.exitStatus : 0;
    nums[N + 7] = rare?.sleepUntil ?? NaN;
    nums[N + 8] = rare ? rare.clearChildTid : 0;
    flags[i] = (rare?.exited ? EXITED : 0) | (t.nondumpable ? NONDUMPABLE : 0);
    // the ABI and the command alternate in every task: each keeps its own last answer
    const abiName = t.abi.name;
    if (abiName !== lastAbi[0]) lastAbi = [abiName, str(abiName)];
    strs[S] = lastAbi[1];
    const comm = t.comm;
    if (comm !== lastComm[0]) lastComm = [comm, str(comm)];
    strs[S + 1] = lastComm[1];
    strs[S + 2] = rare ? str(rare.blockedIn) : -1;
    strs[S + 3] = rare ? str(rare.exePath) : -1;
    regLengths[i] = t.abi.regs.size;
    const before = children.length;
    refs.children(t, children);
    childCounts[i] = children.length - before;
    if (t.extra !== NO_EXTRA) for (const name in t.extra) {
      const bytes = t.extra[name]!;
      extraOf.push(i, str(name), bytes.length);
      extraData.push(bytes);
    }
  }
  return { count, ints, nums, flags, strings, strs, regs, regLengths, children: Float64Array.from(children), childCounts, extraOf: Int32Array.from(extraOf), extraBytes: concatBytes(extraData) };
}

/** Lists are one kind of object a part refers to: its own, and the core's (null when decoding the core), as PartRecord references them. */
export interface Lists<T> {
  mine: readonly T[];
  core: readonly T[] | null;
}

/** refTo resolves a stored reference: i >= 0 is the part's own i-th object, -2 - i the core's i-th; anything else is a RangeError. */
export function refTo<T>(lists: Lists<T>, i: number, what: string): T {
  const v = i >= 0 ? lists.mine[i] : i <= -2 && lists.core !== null ? lists.core[-2 - i] : undefined;
  if (v === undefined) return noSuch(what, i);
  return v;
}

function noSuch(what: string, i: number): never {
  throw new RangeError(`${what} ${i >= -1 ? i : `core ${-2 - i}`} does not exist`);
}

/** TaskObjects are what stored tasks refer to, as the part being decoded has them. */
export interface TaskObjects {
  pids: Lists<Pid>;
  fpus: Lists<Uint8Array>;
  /** address spaces, or a fork's copies: a task holding a copy holds one share of its table (counted here) */
  spaces: Lists<MemoryMap | ForkedAddressSpace>;
  userNs: Lists<UserNamespace>;
  pidNs: Lists<PidNamespace>;
  abi(name: string): Arch | undefined;
}

/**
 * decodeTasks makes the tasks the columns hold (not yet linked to their
 * groups, parents and children: TaskColumnsReader reads those). The
 * register sets are used in place in the column, or with `adopt` false in
 * one copy of it. One loop of plain reads from the columns and lists, with
 * no function made per load in it: a load runs it once, mostly before the
 * JIT has seen it, over 100,000s of tasks.
 */
export function decodeTasks(cols: TaskColumns, objects: TaskObjects, adopt: boolean): Task[] {
  const { count: n, ints, nums, flags, strings, strs, regs, regLengths, extraOf, extraBytes } = checked(cols);
  const str = (i: number): string | null => (i < 0 ? null : strings[i] ?? badString(i));
  const extras = new Map<number, Array<[string, Uint8Array]>>();
  for (let e = 0, x = 0; e < extraOf.length; e += 3) {
    const [task, name, length] = [extraOf[e]!, extraOf[e + 1]!, extraOf[e + 2]!];
    if (x + length > extraBytes.length) throw new RangeError('the extra states run past their bytes');
    let list = extras.get(task);
    if (!list) extras.set(task, (list = []));
    list.push([str(name)!, extraBytes.subarray(x, x + length)]);
    x += length;
  }
  const slab = regs instanceof ByteRuns ? regs.joined() : ownCopy(regs, adopt);
  const out: Task[] = new Array(n);
  // The number fields are compared and tested through their bits: code the JIT has not compiled yet (a load runs
  // this loop once) boxes every double it reads from a Float64Array, 100,000s of objects for the collector.
  const words = new Int32Array(nums.buffer, nums.byteOffset, nums.length * 2);
  // tasks made by the same fork share one credentials object (copy_process shares the parent's): consecutive equal ones share it again
  let creds: Credentials | null = null;
  let credsFrom = 0;
  let abi: Arch | undefined;
  let abiName = -2;
  // most tasks of a part share their FPU state, address space and namespaces with the one before: each is looked up again only when its reference changes
  let [fpuRef, fpu] = [NaN, null as Uint8Array | null];
  let [spaceRef, space] = [NaN, null as MemoryMap | ForkedAddressSpace | null];
  let [userRef, userNs] = [NaN, null as UserNamespace | null];
  let [nsRef, ns] = [NaN, null as PidNamespace | null];
  let r = 0;
  for (let i = 0; i < n; i++) {
    const I = i * INTS;
    const N = i * NUMS;
    const S = i * STRS;
    if (strs[S] !== abiName) {
      abiName = strs[S]!;
      abi = objects.abi(str(abiName) as ArchName);
      if (!abi) throw new RangeError(`unknown task ABI ${str(abiName)}`);
    }
    if (regLengths[i] !== abi!.regs.size || r + regLengths[i]! > slab.length) throw new RangeError(`task ${i}'s registers are ${regLengths[i]} bytes, not ${abi!.regs.size}`);
    const nondumpable = (flags[i]! & NONDUMPABLE) !== 0;
    if (ints[I + 5] !== userRef) [userRef, userNs] = [ints[I + 5]!, refTo(objects.userNs, ints[I + 5]!, 'user namespace')];
    if (creds === null || creds.userNs !== userNs || !sameWords(words, 2 * N + 2, 2 * credsFrom + 2, 10)) {
      creds = { uid: nums[N + 1]!, euid: nums[N + 2]!, suid: nums[N + 3]!, userNs: userNs!, effective: nums[N + 4]!, permitted: nums[N + 5]! };
      credsFrom = N;
    }
    const pid = refTo(objects.pids, ints[I]!, 'pid');
    if (ints[I + 3] !== fpuRef) [fpuRef, fpu] = [ints[I + 3]!, refTo(objects.fpus, ints[I + 3]!, 'fpu state')];
    if (ints[I + 4] !== spaceRef) [spaceRef, space] = [ints[I + 4]!, refTo(objects.spaces, ints[I + 4]!, 'address space')];
    if (space instanceof ForkedAddressSpace) space.table.sharers++;
    const extra = extras.size === 0 ? undefined : extras.get(i);
    const t = new Task(pid, abi!, slab, fpu!, extra ? copyExtraState(extra) : NO_EXTRA, space!, creds, str(strs[S + 1]!) ?? '', r);
    r += regLengths[i]!;
    pid.task = t;
    // what most tasks have (task.ts TaskRare's defaults) is left as it is: each setter below would only compare
    const exitSignal = ints[I + 6]!;
    if (exitSignal !== SIGCHLD) t.exitSignal = exitSignal;
    if ((flags[i]! & EXITED) !== 0) t.exited = true;
    if (nondumpable) t.recordNotDumpable();
    if (!zeroWords(words, 2 * N + 12) && nums[N + 6] !== 0) t.exitStatus = nums[N + 6]!;
    if (strs[S + 2]! >= 0) t.blockedIn = str(strs[S + 2]!) as SyscallName | null;
    if (words[2 * N + 14] !== NAN_WORDS[0] || words[2 * N + 15] !== NAN_WORDS[1]) {
      const sleep = nums[N + 7]!;
      if (!Number.isNaN(sleep)) t.sleepUntil = sleep;
    }
    if (strs[S + 3]! >= 0) t.exePath = str(strs[S + 3]!);
    if (!zeroWords(words, 2 * N + 16) && nums[N + 8] !== 0) t.clearChildTid = nums[N + 8]!;
    if (ints[I + 7] !== nsRef) [nsRef, ns] = [ints[I + 7]!, refTo(objects.pidNs, ints[I + 7]!, 'pid namespace')];
    if (ns !== pid.ns) t.pidNsForChildren = ns!;
    out[i] = t;
  }
  return out;
}

/** the bits of the NaN a Float64Array stores for NaN, as two 32-bit words in this machine's order (the encoder writes null as NaN) */
const NAN_WORDS = new Int32Array(new Float64Array([NaN]).buffer);

/** sameWords compares `n` 32-bit words at `a` and at `b`. */
function sameWords(words: Int32Array, a: number, b: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (words[a + k] !== words[b + k]) return false;
  return true;
}

/** zeroWords: the double whose two words are at `at` is +0 (a -0 is read and compared as a number, as 0) */
function zeroWords(words: Int32Array, at: number): boolean {
  return words[at] === 0 && words[at + 1] === 0;
}

/** TaskColumnsReader reads the fields decodeTasks leaves to its caller: how the tasks link to each other. */
export class TaskColumnsReader {
  private readonly childStart: Int32Array;

  constructor(private readonly cols: TaskColumns) {
    checked(cols);
    this.childStart = new Int32Array(cols.count + 1);
    for (let i = 0; i < cols.count; i++) this.childStart[i + 1] = this.childStart[i]! + cols.childCounts[i]!;
    if (this.childStart[cols.count]! > cols.children.length) throw new RangeError('the children run past their column');
  }

  get count(): number {
    return this.cols.count;
  }

  seq(i: number): number {
    return this.cols.nums[i * NUMS]!;
  }

  group(i: number): number {
    return this.cols.ints[i * INTS + 1]!;
  }

  parent(i: number): number {
    return this.cols.ints[i * INTS + 2]!;
  }

  /** childCount is how many children the task has stored */
  childCount(i: number): number {
    return this.cols.childCounts[i]!;
  }

  /** children is the task's children as stored: local indices, or in the core [part, seq] pairs */
  children(i: number): Float64Array {
    return this.cols.children.subarray(this.childStart[i]!, this.childStart[i + 1]!);
  }
}

/**
 * ownCopy is a column to keep for good: with `adopt`, the column itself when
 * it is a buffer of its own (as a column file reads it), else a copy (a view
 * into a larger buffer would keep all of that alive).
 */
export function ownCopy<T extends Uint8Array | Int32Array>(column: T, adopt: boolean): T {
  const whole = column.byteOffset === 0 && column.byteLength === column.buffer.byteLength && column.buffer instanceof ArrayBuffer;
  return adopt && whole ? column : (column.slice() as T);
}

function checked(cols: TaskColumns): TaskColumns {
  const { count: n, ints, nums, flags, strs, regLengths, childCounts } = cols;
  if (ints.length !== n * INTS || nums.length !== n * NUMS || strs.length !== n * STRS || flags.length !== n || regLengths.length !== n || childCounts.length !== n) {
    throw new RangeError(`task columns do not hold ${n} tasks`);
  }
  return cols;
}

function badString(i: number): never {
  throw new RangeError(`string ${i} of the task columns does not exist`);
}
