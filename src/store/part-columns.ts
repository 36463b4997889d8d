/**
 * A part's pids, thread groups and address spaces as columns, like its
 * tasks (task-columns.ts): one typed array per field, lists flattened with
 * a count per record, so that 100,000 of each encode as block copies.
 */

/** leader -1: what a fork left of a group never looked at (ForkedGroup), only its process group and session */
export type GroupRecord = { leader: number; pgrp: number; session: number; files: number; threads: number[]; flags: [boolean, boolean, boolean, number, boolean, boolean]; exit: number | null };
export type VmaRecord = [start: number, end: number, prot: number, shared: boolean, name: string];
/** [users, mappings, [page index, frame] pairs flattened, forked]: forked, what a fork left of an address space never used (ForkedAddressSpace), whose users are the tasks holding it */
export type MmRecord = [users: number, vmas: VmaRecord[], pages: ArrayLike<number>, forked: boolean];

export interface PidColumns {
  ns: Int32Array;
  counts: Int32Array;
  /** pid numbers are below pid_max, at most 4,194,304 */
  numbers: Int32Array;
}

export interface GroupColumns {
  /** per group: leader, pgrp, session, files, flag bits, stop signal, exit status (NaN for none) */
  fields: Float64Array;
  threadCounts: Int32Array;
  threads: Int32Array;
}

export interface MmColumns {
  users: Int32Array;
  vmaCounts: Int32Array;
  /** per mapping: start, end, prot, shared */
  vmas: Float64Array;
  vmaNames: string[];
  /** per mapping: its name in vmaNames */
  vmaName: Int32Array;
  pageCounts: Int32Array;
  pages: Float64Array;
  /** 1 for what a fork left (MmRecord's forked); absent in parts of format 1, which have none */
  forked?: Uint8Array;
}

/** flat joins lists into one typed array and their lengths into another. */
function flat<T extends Float64Array | Int32Array>(lists: ReadonlyArray<ArrayLike<number>>, make: (n: number) => T): { counts: Int32Array; all: T } {
  const counts = new Int32Array(lists.length);
  let n = 0;
  lists.forEach((l, i) => {
    counts[i] = l.length;
    n += l.length;
  });
  const all = make(n);
  let at = 0;
  for (const l of lists) {
    all.set(l, at);
    at += l.length;
  }
  return { counts, all };
}

/** views splits what flat joined into views of it: no copy (a part's page references are hundreds of thousands of numbers). */
function views(counts: Int32Array, all: Float64Array): Float64Array[] {
  const out: Float64Array[] = new Array(counts.length);
  let at = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (n < 0 || at + n > all.length) throw new RangeError('a column list runs past its data');
    out[i] = all.subarray(at, at + n);
    at += n;
  }
  return out;
}

/** unflat splits what flat joined. */
function unflat(counts: Int32Array, all: Float64Array | Int32Array): number[][] {
  const out: number[][] = new Array(counts.length);
  let at = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (n < 0 || at + n > all.length) throw new RangeError('a column list runs past its data');
    out[i] = Array.from(all.subarray(at, at + n));
    at += n;
  }
  return out;
}

export function packGroups(groups: readonly GroupRecord[]): GroupColumns {
  const fields = new Float64Array(groups.length * 7);
  groups.forEach((g, i) => {
    const [unkillable, sessionLeader, stopped, stopSignal, stopReport, continueReport] = g.flags;
    const bits = [unkillable, sessionLeader, stopped, stopReport, continueReport].reduce((b, f, k) => b | (f ? 1 << k : 0), 0);
    fields.set([g.leader, g.pgrp, g.session, g.files, bits, stopSignal, g.exit ?? NaN], i * 7);
  });
  const { counts, all } = flat(groups.map((g) => g.threads), (n) => new Int32Array(n));
  return { fields, threadCounts: counts, threads: all };
}

export function unpackGroups(c: GroupColumns): GroupRecord[] {
  if (c.fields.length !== c.threadCounts.length * 7) throw new RangeError('group columns disagree');
  const threads = unflat(c.threadCounts, c.threads);
  return threads.map((t, i): GroupRecord => {
    const f = c.fields.subarray(i * 7, i * 7 + 7);
    const bit = (k: number): boolean => (f[4]! & (1 << k)) !== 0;
    return { leader: f[0]!, pgrp: f[1]!, session: f[2]!, files: f[3]!, threads: t, flags: [bit(0), bit(1), bit(2), f[5]!, bit(3), bit(4)], exit: Number.isNaN(f[6]!) ? null : f[6]! };
  });
}

export function packMms(mms: readonly MmRecord[]): MmColumns {
  // one pass to size the columns, one to fill them: no list per mapping (a part may hold 100,000 address spaces)
  let vmaTotal = 0;
  for (const [, vmas] of mms) vmaTotal += vmas.length;
  const vmas = new Float64Array(vmaTotal * 4);
  const vmaName = new Int32Array(vmaTotal);
  const vmaNames: string[] = [];
  const nameIndex = new Map<string, number>();
  const users = new Int32Array(mms.length);
  const vmaCounts = new Int32Array(mms.length);
  let v = 0;
  mms.forEach(([u, list], i) => {
    users[i] = u;
    vmaCounts[i] = list.length;
    for (const [start, end, prot, shared, name] of list) {
      vmas[v * 4] = start;
      vmas[v * 4 + 1] = end;
      vmas[v * 4 + 2] = prot;
      vmas[v * 4 + 3] = shared ? 1 : 0;
      let k = nameIndex.get(name);
      if (k === undefined) {
        k = vmaNames.push(name) - 1;
        nameIndex.set(name, k);
      }
      vmaName[v++] = k;
    }
  });
  const { counts, all } = flat(mms.map(([, , pages]) => pages), (n) => new Float64Array(n));
  return { users, vmaCounts, vmas, vmaNames, vmaName, pageCounts: counts, pages: all, forked: Uint8Array.from(mms, ([, , , forked]) => (forked ? 1 : 0)) };
}

export function unpackMms(c: MmColumns): MmRecord[] {
  const n = c.users.length;
  if (c.vmaCounts.length !== n || c.pageCounts.length !== n || c.vmas.length !== c.vmaName.length * 4 || (c.forked && c.forked.length !== n)) throw new RangeError('address space columns disagree');
  const pages = views(c.pageCounts, c.pages);
  const out: MmRecord[] = new Array(n);
  let v = 0;
  for (let i = 0; i < n; i++) {
    const vmas: VmaRecord[] = [];
    for (let k = 0; k < c.vmaCounts[i]!; k++, v++) {
      if (v >= c.vmaName.length) throw new RangeError('address space columns run past their mappings');
      const name = c.vmaNames[c.vmaName[v]!];
      if (name === undefined) throw new RangeError(`mapping name ${c.vmaName[v]} does not exist`);
      vmas.push([c.vmas[v * 4]!, c.vmas[v * 4 + 1]!, c.vmas[v * 4 + 2]!, c.vmas[v * 4 + 3] === 1, name]);
    }
    out[i] = [c.users[i]!, vmas, pages[i]!, c.forked?.[i] === 1];
  }
  return out;
}
