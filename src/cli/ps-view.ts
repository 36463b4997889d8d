/**
 * What `ckpt ps` shows of a container's tasks: every pid level, the ABI a
 * task runs in (a compat i386 task on an x86_64 host shows i386), the
 * program it runs, the syscall it sleeps in, threads under their process;
 * as a table or as the process tree.
 */
import { basename } from 'node:path';
import type { Task } from '../kernel/task.js';
import { printable } from './printable.js';

/** PsRow is one task as ps shows it; ids are as the host's root namespace sees them. */
export interface PsRow {
  container: string;
  nspids: number[];
  tgid: number;
  ppid: number;
  pgid: number;
  sid: number;
  /** the live threads of its process (for a thread: of the process it belongs to) */
  threads: number;
  /** true for a thread that is not its process's leader: it is listed under that process */
  thread: boolean;
  state: string;
  abi: string;
  /** the program file and the program in it that the task runs: nested.wl:main */
  command: string;
  /** the syscall the task sleeps in, or null */
  wait: string | null;
  comm: string;
}

const STATE_LETTER: Record<string, string> = { runnable: 'R', blocked: 'S', stopped: 'T', zombie: 'Z' };

function rowOf(container: string, t: Task, thread: boolean): PsRow {
  return {
    container,
    nspids: t.nspids,
    tgid: t.tgid,
    ppid: t.group.leader.parent?.group.tgid.nr ?? 0,
    pgid: t.pgid,
    sid: t.sid,
    threads: t.group.threadCount,
    thread,
    state: t.state,
    abi: t.abi.name,
    command: t.exePath ? `${basename(t.exePath)}:${t.comm}` : t.comm,
    wait: t.blockedIn,
    comm: t.comm,
  };
}

/** psRows lists the tasks of a container (in pid order) with each process followed by its other threads. */
export function psRows(container: string, tasks: readonly Task[]): PsRow[] {
  const listed = new Set(tasks);
  const rows: PsRow[] = [];
  const shown = new Set<Task>();
  for (const t of tasks) {
    if (shown.has(t)) continue;
    const leader = t.group.leader;
    // a thread is shown under its leader; one whose leader is not listed stands alone
    if (leader !== t && listed.has(leader)) continue;
    rows.push(rowOf(container, t, leader !== t));
    shown.add(t);
    if (leader !== t) continue;
    for (const th of t.group.threadList().sort((a, b) => a.pid.nr - b.pid.nr)) {
      if (th === t || !listed.has(th) || shown.has(th)) continue;
      rows.push(rowOf(container, th, true));
      shown.add(th);
    }
  }
  return rows;
}

const letter = (r: PsRow): string => STATE_LETTER[r.state] ?? '?';

/** psTable lays the rows out as columns; a thread's COMMAND is indented under its process. */
export function psTable(rows: readonly PsRow[]): string[] {
  const cols: Array<[string, (r: PsRow) => string]> = [
    ['CONTAINER', (r) => (r.thread ? '' : r.container)],
    ['NSPID', (r) => r.nspids.join('/')],
    ['PPID', (r) => String(r.ppid)],
    ['PGID', (r) => String(r.pgid)],
    ['SID', (r) => String(r.sid)],
    ['THR', (r) => (r.thread ? '' : String(r.threads))],
    ['ABI', (r) => r.abi],
    ['S', letter],
    ['WAIT', (r) => r.wait ?? '-'],
    ['COMMAND', (r) => `${r.thread ? ' \\_ ' : ''}${printable(r.command)}${r.thread ? ' (thread)' : ''}`],
  ];
  const cells = rows.map((r) => cols.map(([, f]) => f(r)));
  const widths = cols.map(([h], k) => Math.max(h.length, ...cells.map((c) => c[k]!.length)) + 2);
  const line = (c: readonly string[]): string => c.map((s, k) => (k === c.length - 1 ? s : s.padEnd(widths[k]!))).join('');
  return [line(cols.map(([h]) => h)), ...cells.map(line)];
}

/** psTree draws each container's process tree, every pid level of every task shown, threads under their process. */
export function psTree(rows: readonly PsRow[]): string[] {
  const lines: string[] = [];
  const containers = [...new Set(rows.map((r) => r.container))];
  for (const name of containers) {
    const mine = rows.filter((r) => r.container === name);
    const byTgid = new Map(mine.filter((r) => !r.thread).map((r) => [r.tgid, r]));
    const kids = new Map<number, PsRow[]>();
    const roots: PsRow[] = [];
    for (const r of mine) {
      const up = r.thread ? r.tgid : r.ppid;
      if ((r.thread || up !== r.tgid) && byTgid.has(up)) kids.set(up, [...(kids.get(up) ?? []), r]);
      else roots.push(r);
    }
    lines.push(`container ${printable(name)}`);
    const label = (r: PsRow): string => `${r.nspids.join('/')} ${letter(r)} ${printable(r.command)}${r.thread ? ' (thread)' : ''}${r.wait ? ` [${r.wait}]` : ''} ${r.abi}`;
    const walk = (r: PsRow, prefix: string, last: boolean): void => {
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${label(r)}`);
      // threads first, then child processes
      const under = r.thread ? [] : (kids.get(r.tgid) ?? []).sort((a, b) => Number(b.thread) - Number(a.thread) || a.nspids[0]! - b.nspids[0]!);
      under.forEach((k, i) => walk(k, `${prefix}${last ? '   ' : '│  '}`, i === under.length - 1));
    };
    roots.forEach((r, i) => walk(r, '', i === roots.length - 1));
  }
  return lines;
}
