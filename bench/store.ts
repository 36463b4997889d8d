/**
 * Figures for state that scales with what a command touches (issue 19):
 * ps, step and dump of one 1,000-task container on a host of 100 such
 * containers against the same on a host holding it alone; and the peak
 * memory of dumping and restoring a container of 256 MiB of pages against
 * its page data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execaSync } from 'execa';
import { Machine } from '../src/container/machine.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../src/index.js';
import { HostStore } from '../src/store/host-store.js';
import { libcOf } from '../src/program/libc.js';
import { time, type Figure } from './measure.js';

const SLEEPER = 'program main\n  sleep 100000000\nend\n';

/** addSleepers starts container `name` whose init has forked until it holds `tasks` tasks, all asleep. */
function addSleepers(m: Machine, name: string, tasks: number): void {
  const c = m.run(name, 'sleeper.wl', SLEEPER);
  const ns = c.init.pid.ns;
  m.scheduler.run(1, (t) => ns.isAncestorOf(t.pid.ns));
  // through the C library, as bench/images.ts's bigContainer: a scheduler round per fork would be quadratic
  const libc = libcOf(m.host, c.init);
  for (let n = 1; n < tasks; n++) if (!libc.fork().child) throw new Error('fork failed');
}

export function partsFigures(binPath: string): Figure[] {
  const root = mkdtempSync(join(tmpdir(), 'ckpt-bench-parts-'));
  try {
    const store = new HostStore(root);
    const many = Machine.create('many', 'x86_64', 4 * 1024 * 1024);
    for (let i = 0; i < 100; i++) addSleepers(many, `c${i}`, 1000);
    store.add(many);
    const alone = Machine.create('alone', 'x86_64', 4 * 1024 * 1024);
    addSleepers(alone, 'c50', 1000);
    store.add(alone);
    const ckpt = (host: string, ...argv: string[]) => () => void execaSync('node', [binPath, ...argv, '--host', host, '--root', root]);
    const figure = (what: string, argv: string[]): Figure => {
      const value = time(ckpt('many', ...argv), 3);
      const baseline = time(ckpt('alone', ...argv), 3);
      return {
        name: `ckpt ${what}, 1,000-task container among 100`,
        value,
        unit: 's',
        target: { atMost: 1.5, of: 'ratio', text: '<= 1.5x the host holding it alone' },
        baseline: { name: 'the same container alone on its host', value: baseline, unit: 's' },
      };
    };
    return [
      figure('ps', ['ps', 'c50', '--json']),
      figure('step', ['step', 'c50', '--steps', '10']),
      figure('dump', ['dump', 'c50', '-o', join(root, 'c50.tar'), '--leave-running']),
    ];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** peakOf runs a ckpt command through bench/peak-memory.ts and returns its peak resident memory in bytes. */
function peakOf(peakPath: string, argv: string[]): number {
  const { stdout } = execaSync('node', [peakPath, ...argv]);
  const m = /peak-rss-bytes (\d+)\s*$/.exec(stdout);
  if (!m) throw new Error(`no peak memory from ckpt ${argv.join(' ')}: ${stdout.slice(-200)}`);
  return Number(m[1]);
}

export function peakMemoryFigures(peakPath: string): Figure[] {
  const root = mkdtempSync(join(tmpdir(), 'ckpt-bench-peak-'));
  try {
    const total = 256 * 1024 * 1024;
    const m = Machine.create('p', 'x86_64');
    const c = m.run('ctr', 'idle.wl', SLEEPER);
    m.scheduler.run(1);
    const base = c.init.mm.map(0, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const page = new Uint8Array(4096);
    const dv = new DataView(page.buffer);
    for (let i = 0; i < total / 4096; i++) {
      dv.setUint32(0, i, true); // every page distinct
      c.init.mm.write(base + i * 4096, page);
    }
    new HostStore(root).add(m);
    const image = join(root, 'ctr.tar');
    const dump = peakOf(peakPath, ['dump', 'ctr', '--host', 'p', '-o', image, '--leave-running', '--root', root]);
    // a second copy beside the first, on the same host (it finds the program there)
    const restore = peakOf(peakPath, ['restore', image, '--host', 'p', '--name', 'copy', '--root', root]);
    const pages = { name: 'its page data', value: total / 1e6, unit: 'MB' };
    const target = { atMost: 1.5, of: 'ratio' as const, text: '< 1.5x its page data' };
    return [
      { name: 'peak memory of ckpt dump, 256 MiB container', value: dump / 1e6, unit: 'MB', target, baseline: pages },
      { name: 'peak memory of ckpt restore, 256 MiB container', value: restore / 1e6, unit: 'MB', target, baseline: pages },
    ];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
