/**
 * npm run bench: every figure of the model kernel issue, each printed with
 * its ratio to a baseline measured in the same run, written to
 * bench/results.json.
 */
import { kernelRules } from '../src/kernel/personality.js';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { UserNamespace } from '../src/kernel/credentials.js';
import { allocAuto } from '../src/kernel/pid-allocator.js';
import { PidNamespace } from '../src/kernel/pid-namespace.js';
import { schedulerFigure, sleepersFigure, storeFigures } from './containers.js';
import { buildTreeLibc, buildTreeRaw } from './eclone-tree.js';
import { differentialFigure } from './differential.js';
import { realDumpFigures } from './real-dump.js';
import { realRestoreFigures } from './real-restore.js';
import { cliFigures, pageFigures, restoreRateFigure } from './images.js';
import { startupFigures } from './startup.js';
import { partsFigures, peakMemoryFigures } from './store.js';
import { cpus, loadavg } from 'node:os';
import { median, targetMet, time, timeEach, type Figure } from './measure.js';
import { NaiveAllocator } from './naive-allocator.js';

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = join(here, '..', '..', 'bench');
const figures: Figure[] = [];

function record(f: Figure): void {
  if (f.baseline) f.ratio = f.value / f.baseline.value;
  if (f.target) f.met = targetMet(f, f.target);
  figures.push(f);
  const base = f.baseline ? `  baseline ${fmt(f.baseline.value)} ${f.baseline.unit} (${f.baseline.name})  ratio ${f.ratio!.toFixed(2)}x` : '';
  const spread = f.runs ? `  (runs ${fmt(Math.min(...f.runs))}..${fmt(Math.max(...f.runs))})` : '';
  console.log(`${f.name.padEnd(48)} ${fmt(f.value).padStart(12)} ${f.unit}${spread}${base}${f.target ? `  target ${f.target.text}: ${f.met ? 'met' : 'NOT met'}` : ''}`);
}

function fmt(v: number): string {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3);
}

/** the allocator benchmarks compare alloc_pidmap with its naive form: 2.6.32's rules (personality.ts cyclicIdr) */
const PIDMAP = kernelRules('2.6.32');

/** A deterministic pseudo-random sequence (LCG) so both allocators see the same churn. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
}

/** churn: fill a namespace to 90%, then free and allocate `ops` times at random places. */
function autoChurn(pidMax: number, ops: number): void {
  const userNs = new UserNamespace(null, 0);
  const ns = new PidNamespace(null, userNs, pidMax, PIDMAP);
  const naive = new NaiveAllocator(pidMax);
  const fill = Math.floor(pidMax * 0.9);
  for (let i = 0; i < fill; i++) {
    allocAuto(ns);
    naive.alloc();
  }
  const model = time(() => {
    const r = lcg(1);
    for (let i = 0; i < ops; i++) {
      const victim = 300 + (r() % (pidMax - 300));
      ns.bitmap.clear(victim);
      allocAuto(ns);
    }
  }, 1);
  const base = time(() => {
    const r = lcg(1);
    for (let i = 0; i < ops; i++) {
      const victim = 300 + (r() % (pidMax - 300));
      naive.free(victim);
      naive.alloc();
    }
  }, 1);
  record({ name: `alloc auto, 90% full, pid_max ${pidMax}`, value: ops / model, unit: 'allocs/s', baseline: { name: 'pid-by-pid scan', value: ops / base, unit: 'allocs/s' } });
}

function targeted(pidMax: number, ops: number): void {
  const ns = new PidNamespace(null, new UserNamespace(null, 0), pidMax, PIDMAP);
  const naive = new NaiveAllocator(pidMax);
  const model = time(() => {
    const r = lcg(7);
    for (let i = 0; i < ops; i++) {
      const nr = 1 + (r() % (pidMax - 1));
      if (!ns.bitmap.set(nr)) ns.bitmap.clear(nr);
    }
  }, 1);
  const base = time(() => {
    const r = lcg(7);
    for (let i = 0; i < ops; i++) {
      const nr = 1 + (r() % (pidMax - 1));
      if (!naive.setTarget(nr)) naive.free(nr);
    }
  }, 1);
  record({ name: `alloc targeted, pid_max ${pidMax}`, value: ops / model, unit: 'allocs/s', baseline: { name: 'byte-per-pid table', value: ops / base, unit: 'allocs/s' } });
}

function oneFree(): void {
  const pidMax = 4 * 1024 * 1024;
  const ns = new PidNamespace(null, new UserNamespace(null, 0), pidMax, PIDMAP);
  const naive = new NaiveAllocator(pidMax);
  for (let nr = 1; nr < pidMax; nr++) {
    ns.bitmap.set(nr);
    naive.used[nr] = 1;
  }
  const hole = 1234;
  const rounds = 20;
  const model = time(() => {
    for (let i = 0; i < rounds; i++) {
      ns.bitmap.clear(hole);
      ns.lastPid = hole + 1;
      if (allocAuto(ns) !== hole) throw new Error('model missed the free pid');
    }
  }, 1);
  const base = time(() => {
    for (let i = 0; i < rounds; i++) {
      naive.free(hole);
      naive.lastPid = hole + 1;
      if (naive.alloc() !== hole) throw new Error('naive missed the free pid');
    }
  }, 1);
  record({ name: 'alloc auto, 4,194,304 pids with one free', value: rounds / model, unit: 'allocs/s', baseline: { name: 'pid-by-pid scan', value: rounds / base, unit: 'allocs/s' } });
}

async function realKernel(n: number): Promise<number | null> {
  if (process.getuid?.() !== 0) {
    console.log('real kernel clone3 set_tid: skipped, not root (clone3 set_tid in a new pid namespace needs CAP_SYS_ADMIN)');
    return null;
  }
  const out = join(benchDir, '.build');
  if (!existsSync(out)) mkdirSync(out, { recursive: true });
  const exe = join(out, 'real-clone3');
  try {
    await execa('cc', ['-O2', '-o', exe, join(benchDir, 'real-clone3.c')]);
    const { stdout } = await execa(exe, [String(n)]);
    const [count, seconds] = stdout.trim().split(/\s+/).map(Number);
    return count! / seconds!;
  } catch (e) {
    console.log(`real kernel clone3 set_tid: skipped, ${(e as Error).message.split('\n')[0]}`);
    return null;
  }
}

async function main(): Promise<void> {
  console.log(`ckpt benchmarks (node ${process.version}, ${process.arch})\n`);
  autoChurn(32768, 200_000);
  autoChurn(4 * 1024 * 1024, 200_000);
  targeted(32768, 2_000_000);
  targeted(4 * 1024 * 1024, 2_000_000);
  oneFree();

  // eclone throughput is measured as JIT benchmark harnesses measure it: the first builds of
  // a process pay for V8 compiling the syscall path, then throwing away and re-optimising code
  // when each new host's setup takes branches the loop never did; those builds are reported on
  // their own. The target figure is the median of the builds after them, so that neither the
  // warm-up nor one lucky or unlucky build decides it.
  const tasks = 100_000;
  const cold = timeEach(() => void buildTreeRaw('x86_64', tasks), 2);
  const steady = timeEach(() => void buildTreeRaw('x86_64', tasks), 5);
  const viaLibc = time(() => void buildTreeLibc('x86_64', tasks), 1);
  const real = await realKernel(1000);
  const rawRate = tasks / median(steady);
  const coldRate = tasks / Math.min(...cold);
  record({
    name: 'eclone, 100,000-task tree, 3 levels (registers)',
    value: rawRate,
    unit: 'calls/s',
    target: { atLeast: 500_000, of: 'value', text: '>= 500,000 calls/s (median of builds 3-7)' },
    runs: steady.map((s) => tasks / s),
    baseline: real ? { name: 'real kernel clone3 set_tid, 1,000 processes', value: real, unit: 'processes/s' } : { name: 'same tree through the C library', value: tasks / viaLibc, unit: 'calls/s' },
  });
  record({
    name: 'eclone, 100,000-task tree, 3 levels (registers, cold: best of builds 1-2)',
    value: coldRate,
    unit: 'calls/s',
    runs: cold.map((s) => tasks / s),
    baseline: { name: 'median of builds 3-7, the figure above', value: rawRate, unit: 'calls/s' },
  });
  record({ name: 'eclone, 100,000-task tree, 3 levels (C library)', value: tasks / viaLibc, unit: 'calls/s', baseline: { name: 'register path', value: rawRate, unit: 'calls/s' } });
  record(schedulerFigure());
  record(sleepersFigure());
  const store = await storeFigures(join(benchDir, '..', 'bin', 'ckpt.js'));
  // The store figures must exist before they can be saved: build them first.
  for (const f of store) record(f);
  for (const f of startupFigures(join(benchDir, '..', 'bin', 'ckpt.js'))) record(f);
  for (const f of cliFigures(join(benchDir, '..', 'bin', 'ckpt.js'))) record(f);
  for (const f of partsFigures(join(benchDir, '..', 'bin', 'ckpt.js'))) record(f);
  for (const f of peakMemoryFigures(join(here, 'peak-memory.js'))) record(f);
  record(restoreRateFigure());
  for (const f of await pageFigures()) record(f);
  const diff = await differentialFigure();
  if (diff) record(diff);
  for (const f of await realDumpFigures()) record(f);
  for (const f of await realRestoreFigures(benchDir)) record(f);
  const targets = figures.filter((f) => f.target);
  const missed = targets.filter((f) => !f.met);
  console.log(`\ntargets: ${targets.length - missed.length} of ${targets.length} met${missed.length ? ` (not met: ${missed.map((f) => f.name).join('; ')})` : ''}`);
  // Figures from one machine at one moment: say which machine, and how busy it was, so runs can be compared.
  const machine = { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', loadavg: loadavg() };
  writeFileSync(join(benchDir, 'results.json'), `${JSON.stringify({ node: process.version, machine, figures }, null, 2)}\n`);
  console.log(`wrote ${join('bench', 'results.json')}`);
}

await main();
