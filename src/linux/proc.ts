/**
 * The /proc reader: a tree of real processes as plain data, read only
 * (proc(5)). For each process: its pid at every pid-namespace level from the
 * namespace of the /proc mount down (NSpid, NStgid, NSpgid, NSsid in
 * /proc/PID/status, since Linux 4.1), its parent, state, threads (task/),
 * the inodes of its pid namespace and of the one its children go to
 * (ns/pid, ns/pid_for_children, since Linux 4.12), and its children
 * (task/TID/children, CONFIG_PROC_CHILDREN). From those, which namespace
 * sits inside which, and who holds each pid of a namespace: the facts a
 * restore's preflight checks an image against.
 *
 * Levels here count from the namespace of the /proc that is read (level 0),
 * as the NS* fields do. Processes come and go while /proc is read: one that
 * is gone before it is read is left out, not an error.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Enclosing, Holder } from '../image/restore-preflight.js';

/** A process state letter as /proc shows it: R running, S sleeping, D disk sleep, T stopped, t tracing stop, Z zombie, X dead, I idle, P parked. */
export type ProcState = 'R' | 'S' | 'D' | 'T' | 't' | 'Z' | 'X' | 'I' | 'P';

/** StatusFields are the fields of /proc/PID/status a restore reads; the NS* arrays go from the /proc's namespace (level 0) inward. */
export interface StatusFields {
  name: string;
  state: ProcState;
  tgid: number;
  pid: number;
  ppid: number;
  threads: number;
  nstgid: number[];
  nspid: number[];
  nspgid: number[];
  nssid: number[];
}

export interface ProcThread {
  /** the thread's id in the /proc's namespace */
  tid: number;
  /** its id at every level, outermost first */
  nspid: number[];
  state: ProcState;
  /** processes whose real parent is this very thread */
  children: number[];
  /** inode of the thread's own ns/pid_for_children (each thread has its own; 0 when unreadable) */
  pidNsForChildren: number;
}

export interface ProcProcess {
  /** the process id (its thread-group id) in the /proc's namespace */
  pid: number;
  name: string;
  /** the leader's state: Z for a zombie (or a leader that exited while other threads run) */
  state: ProcState;
  ppid: number;
  nspid: number[];
  nspgid: number[];
  nssid: number[];
  /** every thread, the leader first */
  threads: ProcThread[];
  /** inode of ns/pid: the pid namespace the process lives in (0 when it can no longer be read, as for a zombie) */
  pidNs: number;
  /** inode of ns/pid_for_children: where its next children go (0 when unreadable) */
  pidNsForChildren: number;
  /** the wait status a zombie leaves its parent (exit_code, the last field of /proc/PID/stat, since Linux 3.5); 0 while it runs */
  exitCode: number;
}

/** ProcError says what in /proc could not be understood. */
export class ProcError extends Error {
  override readonly name = 'ProcError';
}

const STATES = new Set(['R', 'S', 'D', 'T', 't', 'Z', 'X', 'I', 'P']);

function numbers(value: string | undefined, field: string): number[] {
  if (value === undefined) throw new ProcError(`/proc status has no ${field} line (Linux 4.1 and later have it)`);
  const out = value.trim().split(/\s+/).map(Number);
  if (out.some((n) => !Number.isInteger(n) || n < 0)) throw new ProcError(`/proc status ${field} is not a list of numbers: ${JSON.stringify(value)}`);
  return out;
}

/** parseStatus reads the text of /proc/PID/status (or task/TID/status). */
export function parseStatus(text: string): StatusFields {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const state = fields.get('State')?.[0];
  if (!state || !STATES.has(state)) throw new ProcError(`/proc status has no state it knows: ${JSON.stringify(fields.get('State'))}`);
  const one = (field: string): number => numbers(fields.get(field), field)[0]!;
  return {
    name: fields.get('Name') ?? '',
    state: state as ProcState,
    tgid: one('Tgid'),
    pid: one('Pid'),
    ppid: one('PPid'),
    threads: one('Threads'),
    nstgid: numbers(fields.get('NStgid'), 'NStgid'),
    nspid: numbers(fields.get('NSpid'), 'NSpid'),
    nspgid: numbers(fields.get('NSpgid'), 'NSpgid'),
    nssid: numbers(fields.get('NSsid'), 'NSsid'),
  };
}

/** parseNsLink reads a namespace link's target, `pid:[4026531836]`, as its inode number. */
export function parseNsLink(link: string): number {
  const m = /^pid:\[(\d+)\]$/.exec(link);
  if (!m) throw new ProcError(`not a pid namespace link: ${JSON.stringify(link)}`);
  return Number(m[1]);
}

/** gone reports whether an error means the process went away while it was read. */
function gone(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ESRCH';
}

/** readOr reads a file, or gives `otherwise` when the process is gone or the file cannot be read (a zombie's ns links). */
function readOr<T>(read: () => T, otherwise: T): T {
  try {
    return read();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (gone(e) || code === 'EACCES' || code === 'EPERM' || code === 'EINVAL') return otherwise;
    throw e;
  }
}

function childrenFile(path: string): number[] {
  return readOr(() => readFileSync(path, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number), []);
}

/** statState is the state letter of a stat file's text (task/TID/stat too): the field after the command in parentheses, which may hold spaces. */
export function statState(text: string): string {
  return text[text.lastIndexOf(')') + 2] ?? '?';
}

/** processState reads a process's state letter from its stat file (cheaper than status when the state is all a poll wants); null when it is gone. */
export function processState(pid: number, proc = '/proc'): string | null {
  return readOr(() => statState(readFileSync(join(proc, String(pid), 'stat'), 'utf8')), null);
}

/** parseStatExitCode reads exit_code, the last field of /proc/PID/stat (after the command in parentheses, which may hold spaces). */
export function parseStatExitCode(text: string): number {
  const fields = text.slice(text.lastIndexOf(')') + 2).trim().split(/\s+/);
  // fields[0] is field 3 (state); exit_code is field 52
  const code = Number(fields[49]);
  if (!Number.isInteger(code)) throw new ProcError(`/proc stat has no exit_code field (Linux 3.5 and later have it): ${JSON.stringify(text.slice(0, 80))}`);
  return code;
}

/** readProcess reads one process and its threads; null when it is gone (or `pid` names a thread that is not a leader). */
export function readProcess(pid: number, proc = '/proc'): ProcProcess | null {
  const dir = join(proc, String(pid));
  const status = readOr(() => parseStatus(readFileSync(join(dir, 'status'), 'utf8')), null);
  if (!status || status.tgid !== status.pid) return null;
  const threads: ProcThread[] = [];
  const tids = readOr(() => readdirSync(join(dir, 'task')).map(Number), [pid]).sort((a, b) => (a === pid ? -1 : b === pid ? 1 : a - b));
  for (const tid of tids) {
    const t = tid === pid ? status : readOr(() => parseStatus(readFileSync(join(dir, 'task', String(tid), 'status'), 'utf8')), null);
    if (!t) continue;
    const forChildren = readOr(() => parseNsLink(readlinkSync(join(dir, 'task', String(tid), 'ns', 'pid_for_children'))), 0);
    threads.push({ tid, nspid: t.nspid, state: t.state, children: childrenFile(join(dir, 'task', String(tid), 'children')), pidNsForChildren: forChildren });
  }
  const link = (name: string): number => readOr(() => parseNsLink(readlinkSync(join(dir, 'ns', name))), 0);
  return {
    pid,
    name: status.name,
    state: status.state,
    ppid: status.ppid,
    nspid: status.nspid,
    nspgid: status.nspgid,
    nssid: status.nssid,
    threads,
    pidNs: link('pid'),
    // /proc/PID/ns is the leader thread's: already read with the threads
    pidNsForChildren: threads[0]?.tid === pid ? threads[0].pidNsForChildren : link('pid_for_children'),
    exitCode: readOr(() => parseStatExitCode(readFileSync(join(dir, 'stat'), 'utf8')), 0),
  };
}

/** scanProcesses reads every process of the /proc, in pid order. */
export function scanProcesses(proc = '/proc'): ProcProcess[] {
  const pids = readdirSync(proc)
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
  return pids.map((p) => readProcess(p, proc)).filter((p): p is ProcProcess => p !== null);
}

/** readTree reads `root` and every process below it (through the children files), parents before children. */
export function readTree(root: number, proc = '/proc'): ProcProcess[] {
  const out: ProcProcess[] = [];
  const queue = [root];
  const seen = new Set<number>();
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const p = readProcess(pid, proc);
    if (!p) continue;
    out.push(p);
    for (const t of p.threads) queue.push(...t.children);
  }
  return out;
}

/** levelOf is a process's pid-namespace level, counted from the /proc's namespace. */
export function levelOf(p: ProcProcess): number {
  return p.nspid.length - 1;
}

/** ProcNamespace is a pid namespace seen through /proc: its inode, its level, and the inodes of the namespaces above it as far as they can be told (null where not). */
export interface ProcNamespace {
  inode: number;
  level: number;
  /** chain[k] is the inode of its ancestor at level k (chain[level] is itself), null where /proc does not tell */
  chain: Array<number | null>;
}

/**
 * namespacesOf finds the pid namespaces the processes live in and, as far as
 * /proc tells, which sits inside which. A live process's real parent lives in
 * its own namespace or one above it (a child goes into a namespace at or
 * below its creator's, and an orphan goes to a reaper of its parent's
 * namespace or a thread of its parent's process), so a parent at a
 * shallower level names the child's ancestor at that level; ancestors
 * inherit the chains of what they are known to sit in.
 */
export function namespacesOf(processes: readonly ProcProcess[]): Map<number, ProcNamespace> {
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  const out = new Map<number, ProcNamespace>();
  for (const p of processes) {
    if (p.pidNs === 0 || out.has(p.pidNs)) continue;
    const level = levelOf(p);
    const chain = new Array<number | null>(level + 1).fill(null);
    chain[level] = p.pidNs;
    out.set(p.pidNs, { inode: p.pidNs, level, chain });
  }
  for (const p of processes) {
    const parent = byPid.get(p.ppid);
    const ns = out.get(p.pidNs);
    if (!parent || !ns || parent.pidNs === 0 || levelOf(parent) >= ns.level) continue;
    ns.chain[levelOf(parent)] = parent.pidNs;
  }
  // Level 0 is the namespace of the /proc read: every process it shows has its first NSpid there. A
  // process there whose namespace can be read names it, where the parent of a namespace's first
  // process cannot be read (another user's, to a reader without privilege).
  const root = processes.find((p) => p.nspid.length === 1 && p.pidNs !== 0)?.pidNs;
  if (root !== undefined) for (const ns of out.values()) if (ns.chain[0] === null) ns.chain[0] = root;
  // Fill each chain from what its known ancestors know, until nothing changes.
  for (let changed = true; changed; ) {
    changed = false;
    for (const ns of out.values()) {
      for (let k = ns.level - 1; k >= 0; k--) {
        const known = ns.chain[k];
        const above = known === null || known === undefined ? undefined : out.get(known);
        if (!above) continue;
        for (let j = 0; j < k; j++) {
          if (ns.chain[j] === null && above.chain[j] !== null) {
            ns.chain[j] = above.chain[j]!;
            changed = true;
          }
        }
      }
    }
  }
  return out;
}

/** within reports whether a process lives in namespace `inode` (at `level`) or below it, as far as /proc tells. */
function within(p: ProcProcess, namespaces: ReadonlyMap<number, ProcNamespace>, inode: number, level: number): boolean {
  if (p.pidNs === inode) return true;
  const ns = namespaces.get(p.pidNs);
  return ns !== undefined && ns.level > level && ns.chain[level] === inode;
}

/**
 * pidHolders says who holds each pid of namespace `inode` at `level`: the
 * processes and threads that live in it or below (a zombie as a zombie), and
 * the process groups and sessions whose leader has gone but whose id is
 * still in use there. Keys are the pids as that namespace numbers them.
 */
export function pidHolders(processes: readonly ProcProcess[], namespaces: ReadonlyMap<number, ProcNamespace>, inode: number, level: number): Map<number, Holder> {
  const holders = new Map<number, Holder>();
  const members = processes.filter((p) => p.nspid.length > level && within(p, namespaces, inode, level));
  for (const p of members) {
    const nr = p.nspid[level]!;
    holders.set(nr, { kind: p.state === 'Z' ? 'zombie' : 'task', nr });
    for (const t of p.threads) if (t.tid !== p.pid && t.nspid[level] !== undefined) holders.set(t.nspid[level]!, { kind: 'thread', nr: t.nspid[level]!, process: nr });
  }
  for (const p of members) {
    const pgid = p.nspgid[level] ?? 0;
    const sid = p.nssid[level] ?? 0;
    if (pgid > 0 && !holders.has(pgid)) holders.set(pgid, { kind: 'group', nr: pgid });
    if (sid > 0 && !holders.has(sid)) holders.set(sid, { kind: 'session', nr: sid });
  }
  return holders;
}

/**
 * procEnclosing gives a preflight the facts of the levels from the /proc's
 * namespace down to namespace `inode`: who holds each pid at each of those
 * levels. A level whose namespace /proc cannot tell is refused up front.
 * Whether a namespace made inside it must be made from its user namespace
 * is the caller's to say (`needsItsUserNs`).
 */
export function procEnclosing(processes: readonly ProcProcess[], inode: number, names: { host: string; levels?: ReadonlyMap<number, string>; needsItsUserNs?: boolean }): Enclosing {
  const namespaces = namespacesOf(processes);
  const ns = namespaces.get(inode);
  if (!ns) throw new ProcError(`no process lives in pid namespace ${inode}`);
  const unknown = ns.chain.findIndex((c) => c === null);
  if (unknown >= 0) throw new ProcError(`/proc does not tell which namespace at level ${unknown} pid namespace ${inode} sits in`);
  const holders = ns.chain.map((c, level) => pidHolders(processes, namespaces, c!, level));
  return {
    level: ns.level,
    holderAt: (level, nr) => holders[level]?.get(nr) ?? null,
    levelName: (level) => (level === 0 ? `host ${names.host}` : names.levels?.get(level) ?? `pid-namespace level ${level}`),
    // /proc does not show a pid namespace's owning user namespace (that takes the NS_GET_USERNS ioctl): the caller says
    needsItsUserNs: names.needsItsUserNs ?? false,
  };
}

/** MapsEntry is one line of /proc/PID/maps: [start, end), the permission letters (rwxp or rwxs) and the path (empty for anonymous memory). */
export interface MapsEntry {
  start: number;
  end: number;
  perms: string;
  path: string;
}

/** parseMaps reads the text of /proc/PID/maps (proc(5)): `start-end perms offset dev inode path`. */
export function parseMaps(text: string): MapsEntry[] {
  const out: MapsEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) ([-r][-w][-x][ps]) \S+ \S+ \S+ *(.*)$/.exec(line);
    if (!m) {
      if (line.trim() !== '') throw new ProcError(`/proc maps line not understood: ${JSON.stringify(line)}`);
      continue;
    }
    out.push({ start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), perms: m[3]!, path: m[4]! });
  }
  return out;
}

/** SeenProcess is a process as a namespace's own /proc shows it, with its pid in the /proc that was read (to read more of it there). */
export type SeenProcess = ProcProcess & { procPid: number };

/**
 * asSeenFrom gives the processes as a /proc mounted in pid namespace `inode`
 * would show them: only those living in it or below, their NS* fields from
 * its level inward, pids and parents as it numbers them (a parent outside it
 * shows as 0, as PPid does), children it cannot see left out. Levels then
 * count from that namespace: it can play the host (tests build a host's
 * state in a namespace of their own; ckpt run inside a container sees the
 * same through its own /proc).
 */
export function asSeenFrom(processes: readonly ProcProcess[], inode: number): SeenProcess[] {
  const namespaces = namespacesOf(processes);
  const ns = namespaces.get(inode);
  if (!ns) throw new ProcError(`no process lives in pid namespace ${inode}`);
  const base = ns.level;
  const inside = processes.filter((p) => p.nspid.length > base && within(p, namespaces, inode, base));
  const there = new Map(inside.map((p) => [p.pid, p.nspid[base]!]));
  for (const p of inside) for (const t of p.threads) if (t.nspid[base] !== undefined) there.set(t.tid, t.nspid[base]!);
  return inside.map((p) => ({
    ...p,
    procPid: p.pid,
    pid: p.nspid[base]!,
    ppid: there.get(p.ppid) ?? 0,
    nspid: p.nspid.slice(base),
    nspgid: p.nspgid.slice(base),
    nssid: p.nssid.slice(base),
    threads: p.threads.map((t) => ({ ...t, tid: t.nspid[base]!, nspid: t.nspid.slice(base), children: t.children.filter((c) => there.has(c)).map((c) => there.get(c)!) })),
  }));
}
