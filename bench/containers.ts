/**
 * Figures for containers that run: scheduler throughput with a 10,000-task
 * container and with one busy task among 10,000 sleepers, and, for a
 * 100,000-task host, ckpt ps and the store's save and load times.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execaSync } from 'execa';
import { Machine } from '../src/container/machine.js';
import { Host } from '../src/index.js';
import { HostStore } from '../src/store/host-store.js';
import { buildTreeRaw } from './eclone-tree.js';
import { median, time, timeEach, type Figure } from './measure.js';
import { libcOf } from '../src/program/libc.js';
import { Pid } from '../src/kernel/pid.js';
import { Task } from '../src/kernel/task.js';

/** A workload whose init forks 10,000 children that then call getpid forever. */
const SPINNERS = ['var i, c', 'program main', 'loop:', '  if i >= 9999 goto spin', '  c = fork()', '  if c == 0 goto spin', '  i = i + 1', '  goto loop', 'spin:', '  c = getpid()', '  goto spin', 'end'].join('\n');

export function schedulerFigure(): Figure {
  const m = Machine.create('bench', 'x86_64');
  const c = m.run('c', 'spin.wl', SPINNERS);
  m.scheduler.run(60_000, (t) => t === c.init); // only the init runs its fork loop: 10,000 tasks
  const tasks = m.host.tasks.size;
  const steps = 200_000;
  // about half the statements of a spinner are syscalls (c = getpid(); goto spin)
  const seconds = time(() => void m.scheduler.run(steps), 1);
  const syscalls = steps / 2;
  const host = Host.create({ arch: 'x86_64' });
  const libc = libcOf(host, host.init);
  const direct = time(() => {
    for (let i = 0; i < syscalls; i++) libc.getpid();
  }, 1);
  return {
    name: `scheduler, ${tasks}-task container`,
    value: syscalls / seconds,
    unit: 'syscalls/s',
    baseline: { name: 'getpid through the C library, no scheduler', value: syscalls / direct, unit: 'syscalls/s' },
  };
}

/** A workload whose init forks 10,000 children that sleep for good, then calls getpid forever itself. */
const SLEEPERS = ['var i, c', 'program main', 'loop:', '  if i >= 10000 goto spin', '  c = fork()', '  if c == 0 goto nap', '  i = i + 1', '  goto loop', 'nap:', '  sleep 1000000000', '  exit(0)', 'spin:', '  c = getpid()', '  goto spin', 'end'].join('\n');

/** BUSY: the same busy loop with no other task. */
const BUSY = ['var c', 'program main', 'spin:', '  c = getpid()', '  goto spin', 'end'].join('\n');

/** sleepersFigure times one busy task among 10,000 sleepers against the same task alone: sleepers should cost nothing. */
export function sleepersFigure(): Figure {
  const m = Machine.create('bench', 'x86_64');
  m.run('c', 'nap.wl', SLEEPERS);
  m.scheduler.run(100_000); // the forks, and every child into its sleep
  const alone = Machine.create('bench', 'x86_64');
  alone.run('c', 'busy.wl', BUSY);
  const steps = 200_000;
  const withSleepers = time(() => void m.scheduler.run(steps), 1);
  const busyAlone = time(() => void alone.scheduler.run(steps), 1);
  return {
    name: `scheduler, 1 busy task among ${m.host.tasks.size - 2} sleepers`,
    value: steps / withSleepers,
    unit: 'steps/s',
    baseline: { name: 'the same busy task alone', value: steps / busyAlone, unit: 'steps/s' },
  };
}

/** makeTasksAlone makes a task and a pid like each of `tasks` (registers and numbers in one block each, as a load makes them), and nothing else. */
function makeTasksAlone(tasks: readonly Task[]): Task[] {
  const regs = new Uint8Array(tasks.reduce((n, t) => n + t.abi.regs.size, 0));
  const numbers = new Int32Array(tasks.reduce((n, t) => n + t.pid.level + 1, 0));
  const out: Task[] = new Array(tasks.length);
  let [r, p] = [0, 0];
  for (let i = 0; i < tasks.length; i++) {
    const t = tasks[i]!;
    const pid = new Pid(t.pid.ns, numbers, p);
    p += t.pid.level + 1;
    out[i] = new Task(pid, t.abi, regs, t.fpu, t.extra, t.addressSpaceOrFork, t.creds, t.comm, r);
    r += t.abi.regs.size;
  }
  return out;
}

/** STORE_RUNS: how many times each of save, load and the two copies is timed; the figures are medians */
const STORE_RUNS = 5;

export async function storeFigures(binPath: string): Promise<Figure[]> {
  const root = mkdtempSync(join(tmpdir(), 'ckpt-bench-'));
  try {
    const { host } = buildTreeRaw('x86_64', 100_000);
    const store = new HostStore(root);
    // the same bytes: the host file and its parts, copied plainly (read, then written) and durably (each copy also fsynced, as a save must)
    const filesOf = (name: string): string[] => [store.path(name), ...readdirSync(store.partsDir(name)).map((f) => join(store.partsDir(name), f))];
    // each copy writes new files (a name never used before), as a save writes new part files: truncating an
    // earlier copy's fsynced blocks would charge the baseline for freeing them
    const copy = (files: readonly string[], durable: boolean, run: number) => () => {
      files.forEach((f, i) => {
        const b = readFileSync(f);
        const fd = openSync(join(root, `copy-${durable ? 'durable' : 'plain'}-${run}-${i}`), 'wx');
        writeSync(fd, new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
        if (durable) fsyncSync(fd);
        closeSync(fd);
      });
    };
    // Each run times a save (of the same host under a new name: a save adds it), a load and both copies one after
    // another, so that each meets the same garbage collector and disk; every figure is the median of its runs.
    const runs = { save: [] as number[], load: [] as number[], plain: [] as number[], durable: [] as number[] };
    let loaded: Machine | null = null;
    for (let i = 0; i < STORE_RUNS; i++) {
      const m = new Machine(`big${i}`, host);
      runs.save.push(time(() => void store.add(m), 1));
      runs.load.push(time(() => void (loaded = store.read(`big${i}`)), 1));
      const files = filesOf(`big${i}`);
      runs.plain.push(time(copy(files, false, i), 1));
      runs.durable.push(time(copy(files, true, i), 1));
    }
    void loaded;
    const [save, load, plain, durable] = [median(runs.save), median(runs.load), median(runs.plain), median(runs.durable)];
    const size = filesOf('big0').reduce((n, f) => n + statSync(f).size, 0);
    // what no load can do without: one task and one pid object per task of the host, made from nothing read and linked to nothing
    const tasks = [...host.tasks];
    const made = median(timeEach(() => void makeTasksAlone(tasks), STORE_RUNS));
    const ps = time(() => {
      execaSync('node', [binPath, 'ps', '--host', 'big0', '--json', '--root', root]);
    }, 1);
    const mb = (size / 1e6).toFixed(1);
    const each = `median of ${STORE_RUNS}`;
    return [
      { name: `store save, 100,000-task host (${each})`, value: save, unit: 's', runs: runs.save, target: { atMost: 2, of: 'ratio', text: '<= 2x a copy of the same bytes' }, baseline: { name: `durable copy of the same ${mb} MB (fsynced, as a save must be; ${each})`, value: durable, unit: 's' } },
      { name: `store load, 100,000-task host (${each})`, value: load, unit: 's', runs: runs.load, target: { atMost: 2, of: 'ratio', text: '<= 2x a copy of the same bytes' }, baseline: { name: `plain copy of the same ${mb} MB (${each})`, value: plain, unit: 's' } },
      { name: `store load, 100,000-task host, against its objects alone (${each})`, value: load, unit: 's', baseline: { name: `making ${tasks.length.toLocaleString('en-US')} tasks and their pids, nothing read or linked`, value: made, unit: 's' } },
      { name: 'ckpt ps --json, 100,000-task host (whole command)', value: ps, unit: 's', baseline: { name: 'store load alone', value: load, unit: 's' } },
    ];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
