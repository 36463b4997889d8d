/**
 * The real restore's speed, against bench/real-clone3.c building the same tree raw in the same run
 * (alternating, so that both see the same machine load): a container of `tasks` tasks over 3
 * levels (three inits, each the next level's parent, the innermost one's children the rest), each
 * process cloned by its parent with set_tid at every container level.
 *
 * - real restore: what `ckpt restore --host linux` makes on the machine, through the command's own
 *   helper transport (SyncHelper: the helper's stdin and stdout as FIFOs, commands sent in
 *   batches): the plan, the checks before anything is made, every process with its pids at every level, its
 *   group and session verified, its memory mapped and written, each one an agent of the helper
 *   that answers on its channel when the restore returns. The raw build makes processes that
 *   pause, with no channel, no controller and no memory. Target: within 1.5x of it.
 * - ckpt restore --host linux work: the whole of what the command does between reading the image
 *   and saving the state directory (restoreReal): the /proc scan for collisions at every level,
 *   the real restore, the mirror (the model's restore of the same plan, named with the kernel's
 *   pids) and the agent table. Not measured: Node's start, reading the image, writing the state
 *   directory, and the end of the command (detach: moving the agents onto FIFOs).
 *
 * Each figure's baseline is the best of the raw runs made just before each of its own runs: both
 * sides the best of the same number of runs (the raw program compiled once, before any of them).
 * The helper's start and the removal of the processes are outside the timings. Skipped with the
 * reason when this is not root, the helper is not built, or there is no cc. `node
 * dist/bench/real-restore.js [TASKS] [RUNS]` prints these figures alone.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { readMirror, restoreReal } from '../src/cli/linux-host.js';
import { dumpContainer } from '../src/image/dump.js';
import { planFor } from '../src/image/restore.js';
import type { ContainerImage } from '../src/image/container-image.js';
import { AgentTable, linuxDirs } from '../src/linux/agents.js';
import { probeLinux } from '../src/linux/helper.js';
import { executeOnLinux, type HelperPort } from '../src/linux/real-executor.js';
import { SyncHelper } from '../src/linux/sync-helper.js';
import { Twin } from '../src/linux/twin.js';
import { HostStore } from '../src/store/host-store.js';
import { bigContainer } from './images.js';
import type { Figure } from './measure.js';

/** buildRaw compiles bench/real-clone3.c (once: a compiler running just before a timed run would load the machine it measures). */
async function buildRaw(benchDir: string): Promise<string> {
  const out = join(benchDir, '.build');
  if (!existsSync(out)) mkdirSync(out, { recursive: true });
  const exe = join(out, 'real-clone3');
  await execa('cc', ['-O2', '-o', exe, join(benchDir, 'real-clone3.c')]);
  return exe;
}

/** rawTree runs real-clone3 N 3: the seconds it takes the raw calls to build the tree. */
async function rawTree(exe: string, tasks: number): Promise<number> {
  const { stdout } = await execa(exe, [String(tasks), '3'], { timeout: 60_000 });
  const [count, seconds] = stdout.trim().split(/\s+/).map(Number);
  if (count !== tasks || !(seconds! > 0)) throw new Error(`real-clone3 printed ${JSON.stringify(stdout)}`);
  return seconds!;
}

/**
 * withMachine runs `body` with a fresh state directory's mirror, agent table and a started
 * SyncHelper (the command's), then quits the helper, which kills and reaps every process it made.
 */
async function withMachine<T>(body: (twin: Twin, store: HostStore) => Promise<T>): Promise<T> {
  const root = mkdtempSync(join(tmpdir(), 'ckpt-bench-real-'));
  const store = new HostStore(root);
  const dirs = linuxDirs(root);
  const agents = AgentTable.load(root);
  const helper = SyncHelper.start(dirs.agents, dirs.base);
  try {
    helper.command('noop'); // started and answering before the clock runs
    return await body(new Twin(readMirror(store), agents, helper), store);
  } finally {
    helper.quit();
    await helper.exited();
    rmSync(root, { recursive: true, force: true });
  }
}

/** realRestoreOnce: the seconds the real restore of `image` takes through the command's helper. */
function realRestoreOnce(image: ContainerImage): Promise<number> {
  return withMachine(async (twin) => {
    const helper = twin.helper as SyncHelper;
    const port: HelperPort = {
      command: async (l) => helper.command(l),
      batch: async (ls) => helper.batch(ls),
      begin: (ls) => {
        const replies = helper.begin(ls);
        return async () => replies();
      },
      pid: helper.pid,
    };
    const t0 = process.hrtime.bigint();
    await executeOnLinux(port, image, planFor(twin.machine, image, { via: 'clone3' }));
    return Number(process.hrtime.bigint() - t0) / 1e9;
  });
}

/** commandOnce: the seconds restoreReal (the command's restore, mirror included) takes for `image`. */
function commandOnce(image: ContainerImage): Promise<number> {
  return withMachine(async (twin) => {
    const t0 = process.hrtime.bigint();
    await restoreReal(twin, twin.machine, image, {});
    return Number(process.hrtime.bigint() - t0) / 1e9;
  });
}

/** realRestoreFigures: tasks/s of the real restore and of the command's whole restore, each with the raw build's processes/s as baseline; [] (and one line why) when skipped. */
export async function realRestoreFigures(benchDir: string, tasks = 1000, runs = 3): Promise<Figure[]> {
  const name = `real restore, ${tasks.toLocaleString('en-US')}-task container, 3 levels`;
  if (process.getuid?.() !== 0) {
    console.log(`${name}: skipped, not root (clone3 set_tid in new pid namespaces needs CAP_SYS_ADMIN)`);
    return [];
  }
  const support = await probeLinux();
  if (!support.ok) {
    console.log(`${name}: skipped, ${support.reason}`);
    return [];
  }
  const m = bigContainer(tasks);
  const image = dumpContainer(m, m.containers.get('ctr')!);
  const real: number[] = [];
  const whole: number[] = [];
  // each figure's baseline: the raw build run just before each of its own runs, so that both sides
  // are the best of the same number of runs, each raw run beside the run it is compared with
  const rawBeforeReal: number[] = [];
  const rawBeforeWhole: number[] = [];
  try {
    const exe = await buildRaw(benchDir);
    for (let i = 0; i < runs; i++) {
      rawBeforeReal.push(await rawTree(exe, tasks));
      real.push(await realRestoreOnce(image));
      rawBeforeWhole.push(await rawTree(exe, tasks));
      whole.push(await commandOnce(image));
    }
  } catch (e) {
    console.log(`${name}: skipped, ${(e as Error).message.split('\n')[0]}`);
    return [];
  }
  const baseline = (raws: number[]) => ({ name: `the same tree built raw (bench/real-clone3.c, best of ${raws.length} runs)`, value: tasks / Math.min(...raws), unit: 'processes/s' });
  return [
    { name, value: tasks / Math.min(...real), unit: 'tasks/s', runs: real.map((s) => tasks / s), baseline: baseline(rawBeforeReal), target: { atLeast: 1 / 1.5, of: 'ratio', text: 'within 1.5x of the raw build' } },
    { name: `ckpt restore --host linux work, ${tasks.toLocaleString('en-US')} tasks (mirror too)`, value: tasks / Math.min(...whole), unit: 'tasks/s', runs: whole.map((s) => tasks / s), baseline: baseline(rawBeforeWhole) },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');
  for (const f of await realRestoreFigures(benchDir, Number(process.argv[2] ?? 1000), Number(process.argv[3] ?? 3))) {
    const ratio = f.baseline ? f.value / f.baseline.value : NaN;
    console.log(`${f.name}: ${Math.round(f.value)} ${f.unit} (runs ${f.runs!.map(Math.round).join(', ')}), baseline ${Math.round(f.baseline!.value)} ${f.baseline!.unit}, ratio ${ratio.toFixed(2)}x${f.target ? `, target ${f.target.text}: ${ratio >= f.target.atLeast! ? 'met' : 'NOT met'}` : ''}`);
  }
}
