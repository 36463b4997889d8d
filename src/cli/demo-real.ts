/**
 * `ckpt demo --real`: one container goes model host → real processes →
 * model host. It runs on a model x86_64 host, is checkpointed and restored
 * on the machine itself as real processes (their NSpid lines read from
 * /proc beside the model's pids), runs on there, is checkpointed from the
 * real processes and restored on a model host again, where it runs on. A
 * model host that ran the workload straight through is the reference for
 * the console. Everything happens in a private temporary state directory,
 * in one helper session that ends by killing and reaping whatever it made.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Machine } from '../container/machine.js';
import { dumpContainer } from '../image/dump.js';
import { restoreAtomically } from '../image/restore.js';
import type { Task } from '../kernel/task.js';
import { HostStore } from '../store/host-store.js';
import { dumpRealContainer, realRemove, requireLinux, restoreReal, withTwin } from './linux-host.js';

export interface RealDemoRow {
  comm: string;
  /** pids on the first model host, host level first */
  model: number[];
  /** pids of the real process, the machine's level first, as the mirror has them */
  real: number[];
  /** the NSpid line of its /proc status */
  procNSpid: string;
  /** pids on the model host it came back to */
  back: number[];
}

export interface RealDemoResult {
  stepsBefore: number;
  stepsOnLinux: number;
  rows: RealDemoRow[];
  /** every pid of the container's levels the same on all three */
  identical: boolean;
  /** the console the container printed, and whether it is the one of a model host that ran straight through */
  console: string;
  sameConsole: boolean;
  /** at each stage, whether the console so far is the one of the model host that ran straight through */
  stages: Array<{ stage: string; sameConsole: boolean }>;
}

const inside = (t: Task, level: number): string => t.nspids.slice(level).join('/');

function nsPidLine(pid: number): string {
  try {
    return /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.trim().replace(/\s+/g, ' ') ?? '?';
  } catch {
    return 'gone';
  }
}

export async function runRealDemo(workload: { path: string; text: string }, steps = 30, onLinux = 20, after = 40): Promise<RealDemoResult> {
  await requireLinux();
  const root = mkdtempSync(join(tmpdir(), 'ckpt-demo-real-'));
  try {
    // the reference runs straight through; its console at each stage's end
    const reference = Machine.create('reference', 'x86_64');
    const straight = reference.run('web', workload.path, workload.text);
    const expected = [steps, onLinux, after].map((n) => (reference.scheduler.run(n), straight.console.text));
    const stages: RealDemoResult['stages'] = [];
    const stage = (name: string, text: string, i: number): void => void stages.push({ stage: name, sameConsole: text === expected[i] });

    const source = Machine.create('model', 'x86_64');
    const ctr = source.run('web', workload.path, workload.text);
    source.scheduler.run(steps);
    stage(`${steps} steps on a model host`, ctr.console.text, 0);
    const level = ctr.init.pid.level;
    const first = dumpContainer(source, ctr);

    const store = new HostStore(root);
    const { rows, second } = await withTwin(
      store,
      async (twin, m) => {
        const c = await restoreReal(twin, m, first, {});
        const real = new Map(m.tasksOf(c).map((t) => [inside(t, level), t]));
        const rows = source.tasksOf(ctr).map((t) => {
          const r = real.get(inside(t, level));
          return { comm: t.comm, model: t.nspids, real: r?.nspids ?? [], procNSpid: r ? nsPidLine(r.nspids[0]!) : 'gone', back: [] as number[] };
        });
        stage('restored on this machine', c.console.text, 0);
        twin.run(onLinux, (t) => c.init.pid.ns.isAncestorOf(t.pid.ns));
        stage(`${onLinux} steps as real processes`, c.console.text, 1);
        const { image } = await dumpRealContainer(twin, m, c, false);
        realRemove(root, m, c, twin.agents);
        return { rows, second: image };
      },
      'quit',
    );

    const { machine, container } = restoreAtomically(Machine.create('back', 'x86_64'), second);
    const back = new Map(machine.tasksOf(container).map((t) => [inside(t, level), t]));
    for (const r of rows) r.back = back.get(r.model.slice(level).join('/'))?.nspids ?? [];
    stage('restored on a model host', container.console.text, 1);
    machine.scheduler.run(after);
    stage(`${after} steps on the model host`, container.console.text, 2);
    // a task that ended on the machine (and was reaped there) does not come back
    const same = (p: number[], r: RealDemoRow): boolean => p.slice(level).join('/') === r.model.slice(level).join('/');
    const identical = rows.every((r) => same(r.real, r) && r.procNSpid === r.real.join(' ') && (r.back.length === 0 || same(r.back, r))) && rows.some((r) => r.back.length > 0);
    const text = container.console.text;
    return { stepsBefore: steps, stepsOnLinux: onLinux, rows, identical, console: text, sameConsole: stages.every((x) => x.sameConsole), stages };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
