/**
 * The real restore's speed: a container of `tasks` tasks over 3 levels
 * (three inits, the innermost one's children the rest) restored as real
 * processes through the helper's agents, against bench/real-clone3.c making
 * the same tree raw (each process cloned by its parent with set_tid at every
 * level, no controller, no channels) in the same run. Skipped with the
 * reason when this is not root, the helper is not built, or there is no cc.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { Machine } from '../src/container/machine.js';
import { dumpContainer } from '../src/image/dump.js';
import { planFor } from '../src/image/restore.js';
import { HelperSession, probeLinux } from '../src/linux/helper.js';
import { executeOnLinux } from '../src/linux/real-executor.js';
import { bigContainer } from './images.js';
import type { Figure } from './measure.js';

/** rawTree compiles and runs real-clone3 N 3: the seconds it takes the raw calls to build the tree. */
async function rawTree(benchDir: string, tasks: number): Promise<number> {
  const out = join(benchDir, '.build');
  if (!existsSync(out)) mkdirSync(out, { recursive: true });
  const exe = join(out, 'real-clone3');
  await execa('cc', ['-O2', '-o', exe, join(benchDir, 'real-clone3.c')]);
  const { stdout } = await execa(exe, [String(tasks), '3'], { timeout: 60_000 });
  const [count, seconds] = stdout.trim().split(/\s+/).map(Number);
  if (count !== tasks || !(seconds! > 0)) throw new Error(`real-clone3 printed ${JSON.stringify(stdout)}`);
  return seconds!;
}

/** restoreOnce restores `image` through a fresh helper and returns the seconds the executor took (the helper's start and its reset not counted). */
async function restoreOnce(image: ReturnType<typeof dumpContainer>): Promise<number> {
  const plan = planFor(Machine.create('t', 'x86_64', 4 * 1024 * 1024), image, { via: 'clone3' });
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-bench-real-'));
  const h = HelperSession.start(dir);
  try {
    const t0 = process.hrtime.bigint();
    await executeOnLinux(h, image, plan);
    return Number(process.hrtime.bigint() - t0) / 1e9;
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** realRestoreFigure: tasks/s of the real restore, with the raw build's processes/s as baseline; null (and one line why) when skipped. */
export async function realRestoreFigure(benchDir: string, tasks = 1000, runs = 3): Promise<Figure | null> {
  const name = `real restore, ${tasks.toLocaleString('en-US')}-task container, 3 levels`;
  if (process.getuid?.() !== 0) {
    console.log(`${name}: skipped, not root (clone3 set_tid in new pid namespaces needs CAP_SYS_ADMIN)`);
    return null;
  }
  const support = await probeLinux();
  if (!support.ok) {
    console.log(`${name}: skipped, ${support.reason}`);
    return null;
  }
  const m = bigContainer(tasks);
  const image = dumpContainer(m, m.containers.get('ctr')!);
  const restores: number[] = [];
  const raws: number[] = [];
  try {
    // alternate, so that both see the same machine load
    for (let i = 0; i < runs; i++) {
      raws.push(await rawTree(benchDir, tasks));
      restores.push(await restoreOnce(image));
    }
  } catch (e) {
    console.log(`${name}: skipped, ${(e as Error).message.split('\n')[0]}`);
    return null;
  }
  return {
    name,
    value: tasks / Math.min(...restores),
    unit: 'tasks/s',
    runs: restores.map((s) => tasks / s),
    baseline: { name: 'the same tree built raw (bench/real-clone3.c, best run)', value: tasks / Math.min(...raws), unit: 'processes/s' },
    target: { atLeast: 1 / 1.5, of: 'ratio', text: 'within 1.5x of the raw build' },
  };
}
