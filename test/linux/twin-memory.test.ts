/**
 * The twin's memory (issue 20 point 2): a workload's munmap unmaps in its real process too, so
 * that what the mirror no longer maps is gone from /proc/PID/maps and a mapping made later at the
 * same addresses starts from zeros, as in the mirror; after every command's sync each mapping of
 * the mirror holds, in the real process, exactly the mirror's bytes. Both for a container started
 * on the machine (its mappings where the kernel put them) and for one restored there (the image's
 * mappings at their own addresses). Needs root and the compiled helper; skipped with the reason
 * otherwise.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { restoreReal } from '../../src/cli/linux-host.js';
import type { Container } from '../../src/container/container.js';
import { Machine } from '../../src/container/machine.js';
import { dumpContainer } from '../../src/image/dump.js';
import type { Task } from '../../src/kernel/task.js';
import { AgentTable, linuxDirs } from '../../src/linux/agents.js';
import { startTime } from '../../src/linux/helper.js';
import { linuxUnavailable, mapIds } from '../../src/linux/real-containers.js';
import { SyncHelper } from '../../src/linux/sync-helper.js';
import { Twin } from '../../src/linux/twin.js';
import { throughBytes } from '../image/container-tree.js';

const why = await linuxUnavailable();
if (why) console.log(`test/linux: the twin's memory skipped: ${why}`);

const PAGE = 4096;

/** four pages written, the second unmapped, then one page mapped again (the model puts it in the hole) and left unwritten */
const HOLE = [
  'var m, p',
  'program main',
  '  m = mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)',
  '  store m, 11',
  '  store m + 4096, 22',
  '  store m + 8192, 33',
  '  store m + 12288, 44',
  '  munmap(m + 4096, 4096)',
  '  p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)',
  '  sleep 100000000',
  'end',
].join('\n');

function readMem(pid: number, address: number, length: number): Uint8Array {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const out = new Uint8Array(length);
    for (let done = 0; done < length; ) {
      const n = readSync(fd, out, done, length - done, address + done);
      if (n <= 0) throw new Error(`short read at 0x${(address + done).toString(16)}`);
      done += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** mapped: whether the real process maps the byte at `address` (/proc/PID/maps) */
function mapped(pid: number, address: number): boolean {
  return readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .some((l) => {
      const [s, e] = l.split(/[-\s]/).map((h) => parseInt(h, 16));
      return s! <= address && address < e!;
    });
}

/** sameBytes holds every mapping of the task's mirror against its real process, byte for byte: the first mapping that differs, or null */
function sameBytes(twin: Twin, t: Task): string | null {
  const at = twin.realAddress([t]);
  const held = new Map(t.mm.pageContents());
  for (const vma of t.mm.mappings()) {
    const want = new Uint8Array(vma.end - vma.start);
    for (let a = vma.start; a < vma.end; a += PAGE) {
      const page = held.get(a / PAGE);
      if (page) want.set(page, a - vma.start);
    }
    const got = readMem(t.nspids[0]!, at(t.mm, vma), want.length);
    const k = got.findIndex((b, i) => b !== want[i]);
    if (k >= 0) return `${vma.name} 0x${vma.start.toString(16)}-0x${vma.end.toString(16)}: byte ${k} is ${got[k]} on the machine, ${want[k]} in the mirror`;
  }
  return null;
}

async function withMirror(body: (twin: Twin, mirror: Machine) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'ckpt-twin-memory-'));
  const dirs = linuxDirs(root);
  mkdirSync(dirs.agents, { recursive: true, mode: 0o700 });
  const helper = SyncHelper.start(dirs.agents, dirs.base);
  try {
    const mirror = Machine.create('linux', 'x86_64', Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')), 'mainline');
    await body(new Twin(mirror, AgentTable.load(root), helper), mirror);
  } finally {
    helper.quit();
    await helper.exited();
    rmSync(root, { recursive: true, force: true });
  }
}

/** steps runs the container's steps as a command does, memory synced at its end */
function steps(twin: Twin, mirror: Machine, c: Container, n: number): void {
  twin.run(n, (t) => c.init.pid.ns.isAncestorOf(t.pid.ns));
  twin.syncMemory(mirror.tasksOf(c));
}

/** followHole runs the munmap and the mmap after it, checking the real process after each */
function followHole(twin: Twin, mirror: Machine, c: Container): void {
  const init = c.init;
  const m = init.mm.mappings().find((v) => v.end - v.start === 4 * PAGE)!;
  const hole = twin.realAddress([init])(init.mm, m) + PAGE;
  const pid = init.nspids[0]!;
  expect(mapped(pid, hole)).toBe(true);
  expect(readMem(pid, hole, 1)[0]).toBe(22);
  steps(twin, mirror, c, 1); // munmap
  expect(init.mm.mappings().some((v) => v.start <= m.start + PAGE && m.start + PAGE < v.end)).toBe(false);
  expect(mapped(pid, hole), 'the page the workload unmapped is unmapped in its real process').toBe(false);
  expect(sameBytes(twin, init)).toBeNull();
  steps(twin, mirror, c, 1); // a new mapping in the hole
  expect(init.mm.mappings().some((v) => v.start === m.start + PAGE)).toBe(true);
  expect(sameBytes(twin, init), 'the new mapping reads zeros, not what the unmapped page held').toBeNull();
}

describe.skipIf(why !== null)(`the twin's memory${why ? ` (skipped: ${why})` : ''}`, () => {
  it('munmap on a container started on the machine: unmapped in its real process, and a later mapping there starts from zeros', { timeout: 60_000 }, async () => {
    await withMirror(async (twin, mirror) => {
      const c = twin.startContainer('c', 'hole.wl', HOLE, mapIds);
      twin.syncMemory(mirror.tasksOf(c));
      steps(twin, mirror, c, 5); // the mmap and the four stores
      expect(sameBytes(twin, c.init)).toBeNull();
      followHole(twin, mirror, c);
    });
  });

  it('a mapping a process makes before it is stopped in the same command holds the mirror\'s bytes at the command\'s end', { timeout: 60_000 }, async () => {
    const text = [
      'var a, b, c',
      'program main',
      '  a = fork() start child',
      '  sleep 3',
      '  b = kill(a, SIGSTOP)',
      '  sleep 100000000',
      'end',
      'program child',
      '  c = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)',
      '  store c, 77',
      '  sleep 100000000',
      'end',
    ].join('\n');
    await withMirror(async (twin, mirror) => {
      const c = twin.startContainer('c', 'stopped.wl', text, mapIds);
      // one command: the child maps and writes, then its parent stops it; the command's end needs nothing of it
      for (let n = 0; n < 12 && !mirror.tasksOf(c).some((t) => t.group.stopped); n++) twin.run(1, (t) => c.init.pid.ns.isAncestorOf(t.pid.ns));
      const child = mirror.tasksOf(c).find((t) => t !== c.init)!;
      expect(child.group.stopped).toBe(true);
      expect(readFileSync(`/proc/${child.nspids[0]}/stat`, 'utf8').split(') ')[1]![0]).toBe('T');
      twin.syncMemory(mirror.tasksOf(c));
      expect(sameBytes(twin, child)).toBeNull();
    });
  });

  it('munmap on a restored container: the image mapping at its own address is unmapped there', { timeout: 60_000 }, async () => {
    const model = Machine.create('model', 'x86_64');
    const source = model.run('c', 'hole.wl', HOLE);
    model.scheduler.run(5, () => true);
    const image = throughBytes(dumpContainer(model, source));
    await withMirror(async (twin, mirror) => {
      const c = await restoreReal(twin, mirror, image, { name: 'r' });
      // the table names each restored process with the start time /proc gives it (the helper's word for it)
      for (const t of mirror.tasksOf(c)) expect(twin.agents.byPid.get(t.nspids[0]!)?.start).toBe(startTime(t.nspids[0]!));
      twin.syncMemory(mirror.tasksOf(c));
      const m = c.init.mm.mappings().find((v) => v.end - v.start === 4 * PAGE)!;
      expect(twin.realAddress([c.init])(c.init.mm, m), "the image's mapping, at its own address").toBe(m.start);
      expect(sameBytes(twin, c.init)).toBeNull();
      followHole(twin, mirror, c);
    });
  });
});
