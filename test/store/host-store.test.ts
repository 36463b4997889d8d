/**
 * Issue 19 point 4: a command reads and writes only the containers it
 * touches, and what it does is what it would do on the whole host.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from 'cbor-x';
import { afterAll, describe, expect, it } from 'vitest';
import { O_RDWR } from '../../src/kernel/files.js';
import { Machine } from '../../src/container/machine.js';
import type { Task } from '../../src/kernel/task.js';
import { HostStore } from '../../src/store/host-store.js';
import { dumpContainer } from '../../src/image/dump.js';
import { restoreAtomically } from '../../src/image/restore.js';
import { libcOf } from '../../src/program/libc.js';
import { decodeLegacyMachine, type LegacyRecord } from '../../src/store/legacy-host-file.js';
import { StoreError } from '../../src/store/store-error.js';
import { HOST_FORMAT } from '../../src/store/machine-codec.js';
import { PART_FORMAT } from '../../src/store/part-codec.js';

const NESTED = readFileSync('images/workloads/nested.wl', 'utf8');
const PIDCACHE = readFileSync('images/workloads/pidcache.wl', 'utf8');
const JOBS = readFileSync('images/workloads/jobs.wl', 'utf8');

/** threeContainers: a host running three workloads, some way in. */
function threeContainers(name: string): Machine {
  const m = Machine.create(name, 's390x');
  m.run('a', 'nested.wl', NESTED);
  m.run('b', 'pidcache.wl', PIDCACHE);
  m.scheduler.run(40);
  m.run('c', 'nested.wl', NESTED);
  m.scheduler.run(25);
  return m;
}

const only = (m: Machine, name: string) => {
  const ns = m.containers.get(name)!.init.pid.ns;
  return (t: Task) => ns.isAncestorOf(t.pid.ns);
};

/** partFiles lists the files of a host's parts directory. */
const partFiles = (root: string, host: string): string[] => readdirSync(join(root, 'hosts', `${host}.parts`)).sort();

describe('a host stored in parts', () => {
  const root = mkdtempSync(join(tmpdir(), 'ckpt-parts-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('steps one container loaded alone exactly as on the whole host, and writes only its part and the host file', () => {
    for (const [k, name] of ['a', 'b', 'c'].entries()) {
      const host = `h${k}`;
      const store = new HostStore(root);
      const whole = threeContainers(host);
      store.add(threeContainers(host));
      const before = new Map(partFiles(root, host).map((f) => [f, readFileSync(join(root, 'hosts', `${host}.parts`, f)).toString('base64')]));
      whole.scheduler.run(30, only(whole, name));
      const loaded = store.update(host, (m) => {
        expect([...m.containers.keys()]).toEqual([name]);
        expect([...m.unloaded].sort()).toEqual(['a', 'b', 'c'].filter((c) => c !== name));
        m.scheduler.run(30, only(m, name));
        return m.host.tasks.size;
      }, undefined, [name]);
      expect(loaded).toBeLessThan(whole.host.tasks.size);
      const back = store.read(host);
      expect(back.host.snapshot()).toEqual(whole.host.snapshot());
      for (const c of ['a', 'b', 'c']) expect(back.containers.get(c)!.console.text, c).toBe(whole.containers.get(c)!.console.text);
      // the other containers' files are the very ones written before; only the stepped one's were replaced
      const after = partFiles(root, host);
      const kept = after.filter((f) => before.has(f));
      expect(after.length).toBe(before.size);
      expect(kept.length).toBe(before.size - 2);
      for (const f of kept) expect(readFileSync(join(root, 'hosts', `${host}.parts`, f)).toString('base64') === before.get(f)).toBe(true);
    }
  }, 30_000);

  it('allocates host pids exactly as the whole host would: the absent containers\' pids stay taken', () => {
    const store = new HostStore(root);
    const whole = threeContainers('alloc');
    store.add(threeContainers('alloc'));
    const started = whole.run('d', 'nested.wl', NESTED);
    whole.scheduler.run(20, only(whole, 'd'));
    const pid = store.update('alloc', (m) => {
      const c = m.run('d', 'nested.wl', NESTED);
      m.scheduler.run(20, only(m, 'd'));
      return c.init.pid.nr;
    }, undefined, []);
    expect(pid).toBe(started.init.pid.nr);
    expect(store.read('alloc').host.snapshot()).toEqual(whole.host.snapshot());
    // a name an absent container holds is still taken
    expect(() => store.update('alloc', (m) => m.run('a', 'nested.wl', NESTED), undefined, [])).toThrow(/container a already exists/);
  }, 30_000);

  it('reads no part to list or show a host, and only the named container\'s part to load it', () => {
    const store = new HostStore(root);
    const m = threeContainers('lazy');
    store.add(m);
    const tasksOfB = m.tasksOf(m.containers.get('b')!).length;
    // spoil every part but b's: a command that read one would fail
    const dir = join(root, 'hosts', 'lazy.parts');
    const entries = (decode(readFileSync(join(root, 'hosts', 'lazy.host'))) as { parts: Array<{ id: number; gen: number; containers: Array<[string]> }> }).parts;
    for (const e of entries) if (e.containers[0]![0] !== 'b') for (const ext of ['part', 'pages']) writeFileSync(join(dir, `${e.id}.${e.gen}.${ext}`), 'spoilt');
    const s = store.summary('lazy');
    expect(s.containers.map((c) => [c.name, c.tasks])).toEqual([...m.containers.values()].map((c) => [c.name, m.tasksOf(c).length]));
    expect(s.tasks).toBe(m.host.tasks.size);
    const b = store.read('lazy', ['b']);
    expect(b.tasksOf(b.containers.get('b')!).length).toBe(tasksOfB);
    expect(() => store.read('lazy')).toThrow(StoreError);
    expect(() => store.read('lazy', ['a'])).toThrow(/is unreadable/);
  }, 30_000);

  it('ignores and sweeps the torn files of a save killed before its host file, and writes that generation again whole', () => {
    const store = new HostStore(root);
    const m = threeContainers('torn');
    store.add(m);
    const before = partFiles(root, 'torn');
    const record = decode(readFileSync(join(root, 'hosts', 'torn.host'))) as { gen: number; parts: Array<{ id: number }> };
    // what a save killed while writing the next generation leaves: part files no host file names, one cut short
    const dir = join(root, 'hosts', 'torn.parts');
    const next = record.gen + 1;
    for (const e of record.parts) writeFileSync(join(dir, `${e.id}.${next}.part`), 'ckptcol1 cut');
    writeFileSync(join(dir, `${record.parts[0]!.id}.${next}.pages`), new Uint8Array(7));
    expect(store.read('torn').host.snapshot()).toEqual(m.host.snapshot());
    expect(partFiles(root, 'torn')).toEqual(before);
    // the next save writes that generation in full over whatever lies there
    for (const e of record.parts) writeFileSync(join(dir, `${e.id}.${next}.part`), 'ckptcol1 cut');
    store.update('torn', () => undefined);
    expect(partFiles(root, 'torn').every((f) => f.split('.')[1] === String(next))).toBe(true);
    expect(store.read('torn').host.snapshot()).toEqual(m.host.snapshot());
  });

  it('keeps containers that refer to each other in one part', () => {
    const store = new HostStore(root);
    const m = Machine.create('joined', 'x86_64');
    const p = m.run('p', 'nested.wl', NESTED);
    m.run('lone', 'nested.wl', NESTED);
    const q = m.run('q', 'nested.wl', NESTED);
    m.scheduler.run(10);
    p.init.group.files.install({ kind: 'pidfd', flags: O_RDWR, pid: q.init.pid });
    store.add(m);
    expect(partFiles(root, 'joined').length).toBe(4);
    expect([...store.read('joined', ['q']).containers.keys()].sort()).toEqual(['p', 'q']);
    expect(store.read('joined').host.snapshot()).toEqual(m.host.snapshot());
  }, 30_000);

  it('loads every container while one of them is stopped in the host init\'s process group (an exit anywhere may signal it)', () => {
    const store = new HostStore(root);
    const m = Machine.create('stopped', 'x86_64');
    m.run('j', 'jobs.wl', JOBS);
    const k = m.run('k', 'nested.wl', NESTED);
    m.scheduler.run(5);
    libcOf(m.host, m.host.init).kill(k.init.pid.nr, 19);
    store.add(m);
    expect([...store.read('stopped', ['j']).containers.keys()].sort()).toEqual(['j', 'k']);
  }, 30_000);

  it('keeps the containers it did not load when a change returns another machine in place of the one loaded', () => {
    const store = new HostStore(root);
    const whole = threeContainers('swap');
    store.add(threeContainers('swap'));
    whole.run('d', 'nested.wl', NESTED);
    store.replace('swap', (m) => {
      // a machine built around the loaded kernel, as a restore working on its own copy might return
      const other = new Machine(m.name, m.host);
      for (const [path, text] of m.sources) other.addProgram(path, text);
      other.run('d', 'nested.wl', NESTED);
      return { machine: other, out: undefined };
    }, undefined, []);
    const back = store.read('swap');
    expect([...back.containers.keys()].sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(back.host.snapshot()).toEqual(whole.host.snapshot());
  }, 30_000);

  it('restores onto a host loaded without its containers exactly as onto the whole host (the copy a restore works on keeps their pids taken)', () => {
    const store = new HostStore(root);
    const source = threeContainers('source');
    const image = dumpContainer(source, source.containers.get('b')!);
    const whole = threeContainers('onto');
    store.add(threeContainers('onto'));
    const expected = restoreAtomically(whole, image, { name: 'r' });
    const initPid = store.replace('onto', (m) => {
      const { machine, container } = restoreAtomically(m, image, { name: 'r' });
      return { machine, out: container.init.pid.nr };
    }, undefined, []);
    expect(initPid).toBe(expected.container.init.pid.nr);
    expect(store.read('onto').host.snapshot()).toEqual(expected.machine.host.snapshot());
    // a name an absent container holds is refused by the restore too
    expect(() => store.replace('onto', (m) => ({ machine: restoreAtomically(m, image, { name: 'a' }).machine, out: undefined }), undefined, [])).toThrow(/a container named a already exists/);
  }, 30_000);

  it('rewrites a host file of the single-file layout on first use, keeping its state', () => {
    const store = new HostStore(root);
    mkdirSync(join(root, 'hosts'), { recursive: true });
    copyFileSync('test/fixtures/format1-host.host', join(root, 'hosts', 'old.host'));
    const legacy = decodeLegacyMachine(decode(readFileSync('test/fixtures/format1-host.host')) as LegacyRecord);
    const m = store.read('old', ['a']);
    expect([...m.containers.keys()]).toEqual(['a']);
    expect((decode(readFileSync(join(root, 'hosts', 'old.host'))) as { format: number }).format).toBe(HOST_FORMAT);
    expect(partFiles(root, 'old').length).toBe(4);
    const all = store.read('old');
    expect(all.host.snapshot()).toEqual(legacy.host.snapshot());
    for (const c of ['a', 'b']) expect(all.containers.get(c)!.console.text).toBe(legacy.containers.get(c)!.console.text);
  }, 30_000);

  it('loads a single-file host written with a kernel personality, a namespace\'s own pid_max, an open pid_max file and a not-dumpable process, keeping its state', () => {
    // written by the single-file store as it was just before the layout of parts, with the snapshot it then loaded back
    const expected = JSON.parse(readFileSync('test/fixtures/mainline-host.json', 'utf8')) as { kernel: string; snapshotSha256: string; consoles: Record<string, string> };
    const store = new HostStore(root);
    mkdirSync(join(root, 'hosts'), { recursive: true });
    copyFileSync('test/fixtures/mainline-host.host', join(root, 'hosts', 'now.host'));
    const m = store.read('now');
    expect(m.host.kernel).toBe(expected.kernel);
    expect(createHash('sha256').update(JSON.stringify(m.host.snapshot())).digest('hex')).toBe(expected.snapshotSha256);
    for (const [name, text] of Object.entries(expected.consoles)) expect(m.containers.get(name)!.console.text).toBe(text);
    // what the fixture was made to hold, stated plainly
    expect(m.containers.get('a')!.init.pid.ns.pidMax).toBe(5000);
    expect([...m.host.tasks].some((t) => t.nondumpable)).toBe(true);
    expect(m.host.snapshot().files.some((f) => f.fds.some(([, kind]) => kind === 'pid_max'))).toBe(true);
    // and it was rewritten in parts, which load to the same state, one container alone too
    expect((decode(readFileSync(join(root, 'hosts', 'now.host'))) as { format: number }).format).toBe(HOST_FORMAT);
    expect(store.read('now').host.snapshot()).toEqual(m.host.snapshot());
    expect(store.read('now', ['a']).containers.get('a')!.init.pid.ns.pidMax).toBe(5000);
  }, 30_000);

  it('loads a host of the first layout of parts (its part records of format 1), keeping its state', () => {
    // test/fixtures/parts-v1: the single-file fixture above as the store of parts first wrote it (host file format 2)
    const expected = JSON.parse(readFileSync('test/fixtures/mainline-host.json', 'utf8')) as { snapshotSha256: string; consoles: Record<string, string> };
    // a root of its own: the single-file test above made a host of the same name
    const own = mkdtempSync(join(tmpdir(), 'ckpt-parts-v1-'));
    cpSync('test/fixtures/parts-v1', join(own, 'hosts'), { recursive: true });
    expect((decode(readFileSync(join(own, 'hosts', 'now.host'))) as { format: number }).format).toBe(2);
    const store = new HostStore(own);
    const m = store.read('now');
    expect(createHash('sha256').update(JSON.stringify(m.host.snapshot())).digest('hex')).toBe(expected.snapshotSha256);
    for (const [name, text] of Object.entries(expected.consoles)) expect(m.containers.get(name)!.console.text).toBe(text);
    expect(store.read('now', ['b']).containers.get('b')!.console.text).toBe(expected.consoles['b']);
    // a command that saves writes the parts it loaded in the current format, and the others still load beside them
    store.update('now', (h) => void h.scheduler.run(0), undefined, ['a']);
    const rewritten = decode(readFileSync(join(own, 'hosts', 'now.host'))) as { format: number; parts: Array<{ containers: Array<[string]>; format?: number }> };
    expect(rewritten.format).toBe(HOST_FORMAT);
    expect(rewritten.parts.map((e) => [e.containers[0]![0], e.format ?? 1])).toEqual([['a', PART_FORMAT], ['b', 1]]);
    const again = store.read('now');
    expect(createHash('sha256').update(JSON.stringify(again.host.snapshot())).digest('hex')).toBe(expected.snapshotSha256);
    rmSync(own, { recursive: true, force: true });
  }, 30_000);
});
