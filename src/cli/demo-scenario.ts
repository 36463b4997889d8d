/**
 * The demo: a nested container runs on an i386 host, is checkpointed in the
 * middle of its work, and is restored on an x86_64 host, where its tasks run
 * on as compat tasks with identical pids at every level of the container.
 * Also: the collision errno of each interface.
 */
import { Machine } from '../container/machine.js';
import { dumpContainer } from '../image/dump.js';
import { restoreAtomically } from '../image/restore.js';
import { Host, SIGCHLD } from '../index.js';
import type { Task } from '../kernel/task.js';
import { libcOf } from '../program/libc.js';

export interface DemoRow {
  comm: string;
  before: number[];
  after: number[];
  abiBefore: string;
  abiAfter: string;
}

export interface DemoResult {
  from: string;
  to: string;
  stepsBefore: number;
  rows: DemoRow[];
  identical: boolean;
  consoleBefore: string;
  consoleAfter: string;
  collision: { eclone: string; clone3: string; unchanged: boolean };
}

/** key orders tasks by their pids inside the container. */
const key = (t: Task, level: number): string => t.nspids.slice(level).join('/');

export function runDemo(workload: { path: string; text: string }, from = 'i386', to = 'x86_64', steps = 60): DemoResult {
  const source = Machine.create('old', from);
  const ctr = source.run('web', workload.path, workload.text);
  source.scheduler.run(steps);
  const consoleBefore = ctr.console.text;
  const image = dumpContainer(source, ctr);
  const { machine } = restoreAtomically(Machine.create('new', to), image);
  const restored = machine.containers.get('web')!;
  const level = ctr.init.pid.level;
  const after = new Map(machine.tasksOf(restored).map((t) => [key(t, level), t]));
  const rows = source.tasksOf(ctr).map((t) => {
    const r = after.get(key(t, level));
    return { comm: t.comm, before: t.nspids, after: r?.nspids ?? [], abiBefore: t.abi.name, abiAfter: r?.abi.name ?? '-' };
  });
  const identical = rows.length === after.size && rows.every((r) => r.after.slice(level).join('/') === r.before.slice(level).join('/'));
  machine.scheduler.runUntilIdle(10_000);
  return { from, to, stepsBefore: steps, rows, identical, consoleBefore, consoleAfter: restored.console.text.slice(consoleBefore.length), collision: collide(to) };
}

/** collide takes host pid 2001 first, then asks for it through both interfaces. */
export function collide(arch: string): DemoResult['collision'] {
  const host = Host.create({ arch });
  const l = libcOf(host, host.init);
  l.eclone(SIGCHLD, { nr_pids: 1 }, 48, [2001]);
  const before = JSON.stringify(host.snapshot());
  const e = l.eclone(SIGCHLD, { nr_pids: 1 }, 48, [2001]);
  const c = l.clone3({ exit_signal: SIGCHLD, set_tid: [2001] }, 88);
  return { eclone: e.errno ?? `pid ${e.ret}`, clone3: c.errno ?? `pid ${c.ret}`, unchanged: JSON.stringify(host.snapshot()) === before };
}
