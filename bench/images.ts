/**
 * Figures for checkpoint/restore: a 10,000-task container (3 levels) dumped
 * and restored through the CLI; the in-model restore rate of a
 * 100,000-task image; and 512 MiB of distinct pages dumped and restored,
 * against a durable copy of the same bytes on the same disk (cat, then
 * sync of the copy).
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execaSync } from 'execa';
import { Machine } from '../src/container/machine.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../src/index.js';
import { readImageFile, writeImageFile } from '../src/image/image-file.js';
import { dumpContainer } from '../src/image/dump.js';
import { decodeImage } from '../src/image/image-codec.js';
import { restoreAtomically } from '../src/image/restore.js';
import { HostStore } from '../src/store/host-store.js';
import { time, timeAsync, type Figure } from './measure.js';
import { libcOf } from '../src/program/libc.js';

/** A container three levels deep whose innermost init forks `n` sleepers. */
function sleepers(n: number): string {
  return [
    'var i, c',
    'program main',
    '  clone(CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0) start level2',
    '  sleep 100000000',
    'end',
    'program level2',
    '  clone(CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0) start level3',
    '  sleep 100000000',
    'end',
    'program level3',
    'loop:',
    `  if i >= ${n} goto done`,
    '  fork() start idle',
    '  i = i + 1',
    '  goto loop',
    'done:',
    '  sleep 100000000',
    'end',
    'program idle',
    '  sleep 100000000',
    'end',
  ].join('\n');
}

/**
 * bigContainer makes a container of `tasks` tasks, three levels deep. The
 * innermost init's forks are issued through its C library rather than the
 * scheduler: the scheduler rescans every task once a round, so a round of
 * one runnable task among 100,000 sleepers would make building it quadratic.
 */
export function bigContainer(tasks: number): Machine {
  const m = Machine.create('big', 'x86_64', 4 * 1024 * 1024);
  const c = m.run('ctr', 'sleepers.wl', sleepers(0));
  while (m.tasksOf(c).length < 3) if (!m.scheduler.step()) break;
  const level3 = m.tasksOf(c).find((t) => t.pid.level === 3)!;
  const libc = libcOf(m.host, level3);
  for (let n = m.tasksOf(c).length; n < tasks; n++) if (!libc.fork().child) throw new Error('fork failed');
  return m;
}

export function cliFigures(binPath: string): Figure[] {
  const root = mkdtempSync(join(tmpdir(), 'ckpt-bench-img-'));
  try {
    const m = bigContainer(10_000);
    new HostStore(root).add(m);
    execaSync('node', [binPath, 'host', 'create', 'target', '--arch', 'x86_64', '--pid-max', '4194304', '--root', root]);
    const image = join(root, 'ctr.tar');
    const dump = time(() => void execaSync('node', [binPath, 'dump', 'ctr', '--host', 'big', '-o', image, '--leave-running', '--root', root]), 1);
    const restore = time(() => void execaSync('node', [binPath, 'restore', image, '--host', 'target', '--root', root]), 1);
    const ps = time(() => void execaSync('node', [binPath, 'ps', '--host', 'target', '--json', '--root', root]), 1);
    const bytes = statSync(image).size;
    return [
      { name: 'ckpt dump, 10,000-task container, 3 levels', value: dump, unit: 's', baseline: { name: 'ckpt ps --json of the restored host', value: ps, unit: 's' } },
      { name: 'ckpt restore, 10,000-task container, 3 levels', value: restore, unit: 's', baseline: { name: 'ckpt ps --json of the restored host', value: ps, unit: 's' } },
      { name: 'image bytes per task, 10,000-task container', value: bytes / 10_000, unit: 'bytes', baseline: { name: 'one x86_64 register set', value: 216, unit: 'bytes' } },
    ];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export function restoreRateFigure(): Figure {
  const m = bigContainer(100_000);
  const image = dumpContainer(m, m.containers.get('ctr')!);
  const target = Machine.create('t', 'x86_64', 4 * 1024 * 1024);
  const seconds = time(() => void restoreAtomically(target, image), 1);
  const forks = time(() => void bigContainer(100_000), 1);
  return {
    name: 'in-model restore, 100,000-task image',
    value: image.tasks.length / seconds,
    unit: 'tasks/s',
    baseline: { name: 'the container running its own 100,000 forks', value: 100_000 / forks, unit: 'tasks/s' },
  };
}

export async function pageFigures(): Promise<Figure[]> {
  const root = mkdtempSync(join(tmpdir(), 'ckpt-bench-pages-'));
  try {
    const total = 512 * 1024 * 1024;
    const m = Machine.create('p', 'x86_64');
    const c = m.run('ctr', 'idle.wl', 'program main\n  sleep 100000000\nend\n');
    m.scheduler.run(1);
    const mm = c.init.mm;
    const base = mm.map(0, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const page = new Uint8Array(4096);
    const dv = new DataView(page.buffer);
    for (let i = 0; i < total / 4096; i++) {
      dv.setUint32(0, i, true); // every page distinct
      mm.write(base + i * 4096, page);
    }
    // each dump to a new file, as a dump usually is: replacing an old image would add freeing its blocks
    let file = '';
    let runs = 0;
    const dump = await timeAsync(async () => {
      file = join(root, `pages-${++runs}.tar`);
      await writeImageFile(file, dumpContainer(m, c, { shareFrames: true })); // as ckpt dump does
    }, 2);
    const restore = await timeAsync(async () => {
      const { entries, digests } = await readImageFile(file);
      const img = decodeImage(entries, () => 'program main\n  sleep 100000000\nend\n', digests);
      restoreAtomically(Machine.create('t', 'x86_64'), img, { adoptPages: true }); // as ckpt restore does
    }, 2);
    // best of three, as ckpt's own figures are best of two: the baseline at its fastest. A dump
    // makes its image durable before renaming it into place, so the copy is made durable too; and
    // each copy is a new file, as each dump is (rewriting a file just written is several times
    // faster on this kind of disk, which would flatter neither side).
    let copies = 0;
    const cat = time(() => {
      const copy = join(root, `copy-${++copies}`);
      execaSync('sh', ['-c', `cat '${file}' > '${copy}' && sync '${copy}'`]);
    }, 3);
    const size = statSync(file).size;
    const catFigure = { name: 'cat then sync copying the same bytes on the same disk', value: size / cat / 1e6, unit: 'MB/s' };
    // Two costs ckpt must pay and cat does not, measured alone: fresh memory for the restored
    // pages (one page fault per 4 KiB), and making the image durable before it is renamed into place.
    const faults = time(() => void new Uint8Array(size).fill(1), 2);
    const zeros = new Uint8Array(size).fill(7);
    const fsync = time(() => {
      const fd = openSync(join(root, 'synced'), 'w');
      writeSync(fd, zeros);
      fsyncSync(fd);
      closeSync(fd);
    }, 1);
    return [
      { name: 'dump + restore of 512 MiB of distinct pages', value: (2 * size) / (dump + restore) / 1e6, unit: 'MB/s', target: { atLeast: 0.8, of: 'ratio', text: '>= 0.8x cat then sync' }, baseline: catFigure },
      { name: 'pages: touching 512 MiB of fresh memory alone', value: size / faults / 1e6, unit: 'MB/s', baseline: catFigure },
      { name: 'pages: writing and fsyncing 512 MiB alone', value: size / fsync / 1e6, unit: 'MB/s', baseline: catFigure },
    ];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
