/**
 * What ckpt ps shows: the ABI each task runs in (a compat i386 task on an
 * x86_64 host says i386), the program it runs, the syscall it sleeps in,
 * threads under their process, and with --tree the process tree with every
 * pid level; `run` steps only its own container.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { dumpContainer } from '../../src/image/dump.js';
import { restoreAtomically } from '../../src/image/restore.js';
import { HostStore } from '../../src/store/host-store.js';
import type { PsRow } from '../../src/cli/ps-view.js';
import { ckptIn } from './run-ckpt.js';

const NESTED = 'images/workloads/nested.wl';
const THREADS = 'images/workloads/threads.wl';
let dir: string;
let root: string;
const ckpt = (...argv: string[]) => ckptIn(root, argv);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ckpt-ps-'));
  root = join(dir, 'state');
  // an i386 container restored on an x86_64 host: its tasks run on as compat tasks
  const old = Machine.create('old', 'i386');
  const c = old.run('web', NESTED, readFileSync(NESTED, 'utf8'));
  old.scheduler.run(40);
  const { machine } = restoreAtomically(Machine.create('compat', 'x86_64'), dumpContainer(old, c));
  new HostStore(root).add(machine);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ckpt ps', () => {
  it('shows the ABI a task runs in: i386 for a compat task on an x86_64 host', async () => {
    const rows = JSON.parse((await ckpt('ps', '--host', 'compat', '--json')).out) as PsRow[];
    expect(rows.length).toBeGreaterThan(3);
    expect(new Set(rows.map((r) => r.abi))).toEqual(new Set(['i386']));
    const table = (await ckpt('ps', '--host', 'compat')).out.split('\n');
    expect(table[0]).toMatch(/^CONTAINER\s+NSPID\s+PPID\s+PGID\s+SID\s+THR\s+ABI\s+S\s+WAIT\s+COMMAND$/);
    expect(table[1]).toMatch(/^web\s+\S+\s+.*\si386\s+[RST]\s+\S+\s+nested\.wl:main$/);
  }, 30_000);

  it('shows the syscall a sleeping task waits in, and threads under their process', async () => {
    expect((await ckpt('run', 'thr', THREADS, '--steps', '12')).code).toBe(0);
    const rows = JSON.parse((await ckpt('ps', 'thr', '--json')).out) as PsRow[];
    // the process first, then its two threads, each with its own tid and the process's tgid
    expect(rows.map((r) => r.thread)).toEqual([false, true, true]);
    expect(rows.every((r) => r.tgid === rows[0]!.tgid)).toBe(true);
    expect(rows[0]!.threads).toBe(3);
    // threads share their process's name, as on Linux
    expect(rows.map((r) => r.command)).toEqual(['threads.wl:main', 'threads.wl:main', 'threads.wl:main']);
    expect(rows.some((r) => r.wait === 'nanosleep' && r.state === 'blocked')).toBe(true);
    const table = (await ckpt('ps', 'thr')).out.split('\n');
    expect(table[2]).toMatch(/^\s+\S+\s+.*\s\\_ threads\.wl:main \(thread\)$/);
    expect(table.some((l) => /\sS\s+nanosleep\s/.test(l))).toBe(true);
  }, 30_000);

  it('--tree draws the process tree with every pid level', async () => {
    const lines = (await ckpt('ps', '--host', 'compat', '--tree')).out.split('\n');
    expect(lines[0]).toBe('container web');
    // the init at the root, its children under it, each line with the task's pid at every level, host first
    expect(lines[1]).toMatch(/^└─ \d+\/1 [RSTZ] nested\.wl:main/);
    expect(lines.some((l) => /^ {3}[├└]─ \d+\/\d+\/1 /.test(l))).toBe(true);
    expect(lines.some((l) => /^ {3}[│ ] {2}[├└]─ \d+\/\d+\/\d+\/1 /.test(l))).toBe(true);
    const rows = JSON.parse((await ckpt('ps', '--host', 'compat', '--json')).out) as PsRow[];
    expect(lines.length - 1).toBe(rows.length);
  }, 30_000);
});

describe('ckpt run', () => {
  it('steps only its own container', async () => {
    for (const h of ['two', 'three']) expect((await ckpt('host', 'create', h, '--arch', 'x86_64')).code).toBe(0);
    expect((await ckpt('run', 'a', NESTED, '--host', 'two')).code).toBe(0);
    const before = JSON.parse((await ckpt('logs', 'a', '--host', 'two', '--json')).out).console;
    const r = JSON.parse((await ckpt('run', 'b', NESTED, '--host', 'two', '--steps', '30', '--json')).out);
    expect(r.steps).toBe(30);
    expect(JSON.parse((await ckpt('logs', 'a', '--host', 'two', '--json')).out).console).toBe(before);
    expect(JSON.parse((await ckpt('logs', 'b', '--host', 'two', '--json')).out).console).not.toBe('');
  }, 30_000);

  it('records its workload by absolute path, so an image made from any directory names the same file', async () => {
    await ckpt('run', 'abs', NESTED, '--host', 'two');
    const image = join(dir, 'abs.tar');
    await ckpt('dump', 'abs', '--host', 'two', '-o', image, '--no-embed-programs');
    const j = JSON.parse((await ckpt('inspect', image, '--json')).out);
    expect(j.programs).toEqual([resolve(NESTED)]);
    // restorable with the program looked up by that path, from wherever ckpt runs
    expect((await ckpt('restore', image, '--host', 'three')).code).toBe(0);
  }, 30_000);
});
