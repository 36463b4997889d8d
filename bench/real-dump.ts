/**
 * The real dump's figures (issue 20, "Real dump: per-task cost, and memory
 * read at >= 0.5x of a plain read of the same bytes"):
 * - per-task cost of dumpReal on a real container of many processes (freeze
 *   with SIGSTOP, /proc read and checked against the mirror, memory read,
 *   thaw), against reading the same processes from /proc alone;
 * - memory read throughput: a mapping of real, populated pages of an agent
 *   read through /proc/PID/mem as the dump reads it, against reading a file
 *   of the same size from the page cache, in the same run; both into new
 *   memory (the dump keeps what it reads), best of several runs each.
 * Needs root and the compiled helper; skipped with the reason otherwise.
 */
import { withSession } from '../src/linux/helper.js';
import { mkdtempSync, openSync, closeSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Machine } from '../src/container/machine.js';
import { dumpContainer } from '../src/image/dump.js';
import { HelperSession, probeLinux } from '../src/linux/helper.js';
import { readProcess } from '../src/linux/proc.js';
import { dumpReal } from '../src/linux/real-dump.js';
import { ProcessMemory, readPages } from '../src/linux/real-dump-process-memory.js';
import { parseReply } from '../src/linux/real-executor.js';
import { build } from '../test/linux/real-dump-build.js';
import type { Figure } from './measure.js';

/** a container of `n` processes: an init that forks n - 1 sleeping children */
function fanOut(n: number): string {
  return ['var i, pid', 'program main', 'again:', `  if i >= ${n - 1} goto rest`, '  pid = fork() start kid', '  i = i + 1', '  goto again', 'rest:', '  sleep 100000000', 'end', 'program kid', '  sleep 100000000', 'end'].join('\n');
}

const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

const withHelper = <T>(body: (h: HelperSession) => Promise<T>): Promise<T> => withSession('bench-dump', body);

/** perTaskFigure: dumpReal's cost per task, best of `runs`, against a plain /proc read of the same processes */
async function perTaskFigure(h: HelperSession, tasks: number, runs = 5): Promise<Figure> {
  const m = Machine.create('s', 'x86_64');
  const c = m.run('box', 'box.wl', fanOut(tasks));
  // step by step: once every task sleeps, a further step would move the clock past the sleeps
  for (let n = 0; n < tasks * 10 && [...m.host.tasks].length <= tasks; n++) m.scheduler.run(1);
  const image = dumpContainer(m, c);
  if (image.tasks.length !== tasks) throw new Error(`the fan-out workload made ${image.tasks.length} tasks, not ${tasks}`);
  const b = await build(h, image);
  const pids = image.tasks.map((_, i) => b.pidOf(i));
  let dump = Infinity;
  let plain = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    await dumpReal(b.mirror, { leaveRunning: true, freezer: 'sigstop' });
    dump = Math.min(dump, seconds(t0));
    const t1 = process.hrtime.bigint();
    for (const pid of pids) readProcess(pid);
    plain = Math.min(plain, seconds(t1));
  }
  await h.command('reset');
  return {
    name: `real dump, ${tasks}-task container (SIGSTOP)`,
    value: (dump / tasks) * 1e6,
    unit: 'µs/task',
    baseline: { name: 'reading the same processes from /proc', value: (plain / tasks) * 1e6, unit: 'µs/task' },
  };
}

/** memoryFigure: /proc/PID/mem read throughput of `mib` MiB of populated pages, against a page-cache file read of the same size */
async function memoryFigure(h: HelperSession, mib: number, runs = 8): Promise<Figure> {
  const bytes = mib * 1024 * 1024;
  const init = parseReply(await h.command('init 0 0 0 0'));
  if (init.kind !== 'r' || init.errno) throw new Error(`the helper made no agent: ${JSON.stringify(init)}`);
  const pid = Number(init.fields.get('nspid')!.split(',')[0]);
  // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE: every page allocated, as memory a workload wrote
  const mapped = parseReply(await h.command(`op 0 mmap ${bytes} 3 ${0x8022}`));
  if (mapped.kind !== 'r' || mapped.errno) throw new Error(`the agent could not map ${mib} MiB: ${JSON.stringify(mapped)}`);
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-bench-read-'));
  const file = join(dir, 'pages');
  writeFileSync(file, new Uint8Array(bytes));
  let viaMem = Infinity;
  let viaFile = Infinity;
  try {
    const mem = new ProcessMemory(`/proc/${pid}/task/${pid}`, 4096);
    try {
      for (let r = 0; r < runs; r++) {
        const t0 = process.hrtime.bigint();
        const pages = readPages(mem, mapped.ret, bytes / 4096, new Set());
        viaMem = Math.min(viaMem, seconds(t0));
        if (pages.size !== bytes / 4096) throw new Error(`read ${pages.size} pages, not ${bytes / 4096}`);
        const fd = openSync(file, 'r');
        const t1 = process.hrtime.bigint();
        // into fresh memory, as the dump reads each run of pages into memory the image then holds
        const into = new Uint8Array(bytes);
        for (let at = 0; at < bytes; ) at += readSync(fd, into, at, bytes - at, at);
        viaFile = Math.min(viaFile, seconds(t1));
        closeSync(fd);
      }
    } finally {
      mem.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await h.command('reset');
  }
  return {
    name: `real dump memory read, ${mib} MiB (/proc/PID/mem)`,
    value: mib / viaMem,
    unit: 'MiB/s',
    baseline: { name: 'reading a file of the same size from the page cache into new memory', value: mib / viaFile, unit: 'MiB/s' },
    target: { atLeast: 0.5, of: 'ratio', text: '>= 0.5x a plain read of the same bytes' },
  };
}

/** realDumpFigures: both figures, or none (with the reason printed) when the real kernel cannot be used here. */
export async function realDumpFigures(tasks = 100, mib = 128): Promise<Figure[]> {
  const support = await probeLinux();
  if (!support.ok) {
    console.log(`real dump: skipped, ${support.reason}`);
    return [];
  }
  return withHelper(async (h) => [await perTaskFigure(h, tasks), await memoryFigure(h, mib)]);
}
