/**
 * The /proc reader: parsing of status lines and namespace links; a made-up /proc tree (files in a
 * temporary directory) with nested and sibling namespaces, a thread, a zombie and a session whose
 * leader has gone; the test runner's own process, read only; and, where the machine lets us make
 * pid namespaces, a real two-level tree made for the test and ended by it.
 */
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { archByName } from '../../src/arch/registry.js';
import { dumpContainer } from '../../src/image/dump.js';
import { findProblems, type TargetFacts } from '../../src/image/restore-preflight.js';
import { asSeenFrom, levelOf, namespacesOf, parseNsLink, parseStatExitCode, parseStatus, pidHolders, procEnclosing, processState, readProcess, readTree, scanProcesses, statState, ProcError, type ProcProcess } from '../../src/linux/proc.js';

function status(f: { name?: string; state?: string; tgid: number; pid: number; ppid: number; threads?: number; nspid: number[]; nstgid?: number[]; nspgid: number[]; nssid: number[] }): string {
  return [
    `Name:\t${f.name ?? 'task'}`,
    'Umask:\t0022',
    `State:\t${f.state ?? 'S (sleeping)'}`,
    `Tgid:\t${f.tgid}`,
    `Pid:\t${f.pid}`,
    `PPid:\t${f.ppid}`,
    `Threads:\t${f.threads ?? 1}`,
    `NStgid:\t${(f.nstgid ?? f.nspid).join('\t')}`,
    `NSpid:\t${f.nspid.join('\t')}`,
    `NSpgid:\t${f.nspgid.join('\t')}`,
    `NSsid:\t${f.nssid.join('\t')}`,
    '',
  ].join('\n');
}

describe('parseStatus and parseNsLink', () => {
  it('read the pids at every level, outermost first', () => {
    const s = parseStatus(status({ tgid: 64, pid: 64, ppid: 61, state: 'Z (zombie)', nspid: [64, 5, 1], nspgid: [61, 2, 0], nssid: [60, 1, 0] }));
    expect(s).toMatchObject({ state: 'Z', tgid: 64, pid: 64, ppid: 61, nspid: [64, 5, 1], nspgid: [61, 2, 0], nssid: [60, 1, 0] });
    expect(parseNsLink('pid:[4026531836]')).toBe(4026531836);
  });

  it('read a zombie\'s exit_code from stat, whatever its command name holds', () => {
    const rest = Array.from({ length: 47 }, (_, i) => String(i + 5)).join(' ');
    expect(parseStatExitCode(`123 (a) b (c) Z 1 ${rest} 768\n`)).toBe(768);
    expect(() => parseStatExitCode('123 (x) S 1 2')).toThrow(/no exit_code field/);
  });

  it('read the state letter from stat, whatever the command name holds, and a process gone as null', () => {
    expect(statState('123 (a) b (c) T 1 2 3\n')).toBe('T');
    expect(statState('7 (x)')).toBe('?');
    expect(processState(process.pid)).toMatch(/^[RS]$/);
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-state-'));
    try {
      mkdirSync(join(dir, '42'));
      writeFileSync(join(dir, '42', 'stat'), '42 (sh) ) Z 1 0 0\n');
      expect(processState(42, dir)).toBe('Z');
      expect(processState(43, dir)).toBeNull();
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('refuse what they do not understand, saying what', () => {
    expect(() => parseStatus('Name:\tx\nState:\tS (sleeping)\nTgid:\t1\nPid:\t1\nPPid:\t0\nThreads:\t1\n')).toThrow(/no NStgid line/);
    expect(() => parseStatus('State:\tQ (nonsense)\n')).toThrow(ProcError);
    expect(() => parseNsLink('net:[4026531840]')).toThrow(/not a pid namespace link/);
  });
});

/** started is a model container of three tasks, whose image the preflight below checks against a made-up /proc. */
const started = Machine.create('s', 'x86_64');
started.run('box', 'box.wl', ['var a', 'program main', '  a = fork() start kid', '  a = fork() start kid', '  sleep 1000000', 'end', 'program kid', '  sleep 1000000', 'end'].join('\n'));
started.scheduler.run(10);

describe('a made-up /proc', () => {
  const proc = mkdtempSync(join(tmpdir(), 'ckpt-proc-'));
  afterAll(() => rmSync(proc, { recursive: true, force: true }));
  /** a process: its leader's status, its threads, the children of each thread, its namespace links */
  const add = (pid: number, ns: number, f: Omit<Parameters<typeof status>[0], 'tgid' | 'pid'>, threads: Array<{ tid: number; nspid: number[] }> = [], children: Record<number, number[]> = {}): void => {
    const dir = join(proc, String(pid));
    mkdirSync(join(dir, 'ns'), { recursive: true });
    writeFileSync(join(dir, 'status'), status({ ...f, tgid: pid, pid, threads: 1 + threads.length }));
    symlinkSync(`pid:[${ns}]`, join(dir, 'ns', 'pid'));
    symlinkSync(`pid:[${ns}]`, join(dir, 'ns', 'pid_for_children'));
    for (const t of [{ tid: pid, nspid: f.nspid }, ...threads]) {
      mkdirSync(join(dir, 'task', String(t.tid)), { recursive: true });
      writeFileSync(join(dir, 'task', String(t.tid), 'status'), status({ ...f, tgid: pid, pid: t.tid, nspid: t.nspid }));
      writeFileSync(join(dir, 'task', String(t.tid), 'children'), (children[t.tid] ?? []).map((c) => `${c} `).join(''));
    }
  };
  // level 0 (namespace 100): the init and a restorer; container A (200) with a thread, a zombie, a
  // member of a session whose leader has gone, and a nested namespace B (300); a sibling container C (400).
  add(1, 100, { ppid: 0, nspid: [1], nspgid: [1], nssid: [1] }, [], { 1: [50, 70] });
  add(50, 100, { ppid: 1, nspid: [50], nspgid: [50], nssid: [1] }, [], { 50: [60] });
  add(60, 200, { ppid: 50, nspid: [60, 1], nspgid: [50, 0], nssid: [1, 0] }, [], { 60: [61, 63, 65] });
  add(61, 200, { ppid: 60, nspid: [61, 2], nspgid: [61, 2], nssid: [61, 2] }, [{ tid: 62, nspid: [62, 3] }], { 62: [64] });
  add(63, 200, { ppid: 60, state: 'Z (zombie)', nspid: [63, 4], nspgid: [61, 2], nssid: [61, 2] });
  add(64, 300, { ppid: 61, nspid: [64, 5, 1], nspgid: [61, 2, 0], nssid: [61, 2, 0] });
  add(65, 200, { ppid: 60, nspid: [65, 6], nspgid: [66, 7], nssid: [66, 7] });
  add(70, 400, { ppid: 1, nspid: [70, 1], nspgid: [70, 1], nssid: [70, 1] }, [], { 70: [71] });
  add(71, 400, { ppid: 70, nspid: [71, 2], nspgid: [70, 1], nssid: [70, 1] });

  it('reads every process with its threads, leader first, and their children', () => {
    const all = scanProcesses(proc);
    expect(all.map((p) => p.pid)).toEqual([1, 50, 60, 61, 63, 64, 65, 70, 71]);
    const p61 = all.find((p) => p.pid === 61)!;
    expect(p61.threads.map((t) => [t.tid, t.nspid, t.children])).toEqual([[61, [61, 2], []], [62, [62, 3], [64]]]);
    expect(p61.pidNs).toBe(200);
    expect(levelOf(all.find((p) => p.pid === 64)!)).toBe(2);
    expect(readProcess(62, proc)).toBeNull(); // a thread, not a process
    expect(readProcess(999, proc)).toBeNull(); // gone
  });

  it('reads a tree through the children files, parents first, a thread\'s children included', () => {
    expect(readTree(60, proc).map((p) => p.pid)).toEqual([60, 61, 63, 65, 64]);
  });

  it('tells which namespace sits inside which from the parents', () => {
    const ns = namespacesOf(scanProcesses(proc));
    expect(ns.get(300)).toEqual({ inode: 300, level: 2, chain: [100, 200, 300] });
    expect(ns.get(400)).toEqual({ inode: 400, level: 1, chain: [100, 400] });
  });

  it("puts a namespace whose first process's parent cannot be read (another user's) below the /proc's own", () => {
    // as a reader without privilege sees it: the parent of container C's init (pid 1, root's) shows no namespace
    const unreadable = scanProcesses(proc).map((p) => (p.pid === 1 ? { ...p, pidNs: 0 } : p));
    expect(namespacesOf(unreadable).get(400)).toEqual({ inode: 400, level: 1, chain: [100, 400] });
    const restorerUnreadable = scanProcesses(proc).map((p) => (p.pid === 50 ? { ...p, pidNs: 0 } : p));
    expect(namespacesOf(restorerUnreadable).get(200)).toEqual({ inode: 200, level: 1, chain: [100, 200] });
    // with no process of level 0 whose namespace can be read, /proc does not tell
    expect(namespacesOf(unreadable.map((p) => (p.pid === 50 ? { ...p, pidNs: 0 } : p))).get(200)!.chain[0]).toBeNull();
  });

  it('says who holds each pid of a namespace: tasks, a zombie, a thread, a nested task, a session and group whose leader has gone; a sibling\'s pids are not its', () => {
    const all = scanProcesses(proc);
    const holders = pidHolders(all, namespacesOf(all), 200, 1);
    expect(Object.fromEntries(holders)).toEqual({
      1: { kind: 'task', nr: 1 },
      2: { kind: 'task', nr: 2 },
      3: { kind: 'thread', nr: 3, process: 2 },
      4: { kind: 'zombie', nr: 4 },
      5: { kind: 'task', nr: 5 },
      6: { kind: 'task', nr: 6 },
      7: { kind: 'group', nr: 7 },
    });
    const e = procEnclosing(all, 300, { host: 'here', levels: new Map([[1, 'container a']]) });
    expect(e.level).toBe(2);
    expect(e.holderAt(0, 62)).toEqual({ kind: 'thread', nr: 62, process: 61 });
    expect(e.holderAt(1, 2)).toEqual({ kind: 'task', nr: 2 });
    expect(e.holderAt(1, 8)).toBeNull();
    expect(e.holderAt(2, 1)).toEqual({ kind: 'task', nr: 1 });
    expect(e.levelName(0)).toBe('host here');
    expect(e.levelName(1)).toBe('container a');
    expect(() => procEnclosing(all, 999, { host: 'here' })).toThrow(/no process lives in pid namespace 999/);
  });

  it('shows a namespace as its own /proc would: its processes and those below, pids and parents as it numbers them, a parent outside it as 0', () => {
    const seen = asSeenFrom(scanProcesses(proc), 200);
    expect(seen.map((p) => [p.procPid, p.pid, p.ppid, p.nspid, p.nspgid, p.nssid])).toEqual([
      [60, 1, 0, [1], [0], [0]],
      [61, 2, 1, [2], [2], [2]],
      [63, 4, 1, [4], [2], [2]],
      [64, 5, 2, [5, 1], [2, 0], [2, 0]],
      [65, 6, 1, [6], [7], [7]],
    ]);
    expect(seen[1]!.threads.map((t) => [t.tid, t.nspid, t.children])).toEqual([[2, [2], []], [3, [3], [5]]]);
    // seen from there, namespace 200 is level 0 and 300 inside it
    expect(namespacesOf(seen).get(300)).toEqual({ inode: 300, level: 1, chain: [200, 300] });
    expect(() => asSeenFrom(scanProcesses(proc), 999)).toThrow(/no process lives in pid namespace 999/);
  });

  it('gives a preflight the facts it lists collisions from: every taken pid, its level and its holder', () => {
    const all = scanProcesses(proc);
    const image = dumpContainer(started, started.containers.get('box')!);
    // the image's tasks asked, at the host level, for pids the made-up machine has taken
    const wanted = [61, 63, 62];
    const moved = { ...image, base: 1, tasks: image.tasks.map((t, i) => ({ ...t, outer: [wanted[i] ?? 900 + i] })) };
    const target: TargetFacts = { name: 'here', arch: archByName('x86_64')!, kernel: 'mainline', pidMax: 32768, perNsPidMax: true, pidMaxLimit: 4_194_304, hasContainer: () => false, enclosing: procEnclosing(all, 100, { host: 'here' }) };
    expect(findProblems(target, moved, { via: 'clone3', hostPids: true }).map((p) => p.message)).toEqual(
      image.tasks.slice(0, 3).map((t, i) => `host pid ${wanted[i]} (task ${t.numbers.join('/')} of the image) is held by ${['task 61', 'zombie 63', 'thread 62 of process 61'][i]} on host here: clone3 would fail with EEXIST`),
    );
  });
});

describe('the real /proc, read only', () => {
  it('reads the test runner\'s own process: its pid, its threads, its pid namespace', () => {
    const me = readProcess(process.pid);
    expect(me).not.toBeNull();
    // NSpid ends with the pid in the process's own namespace: the one it knows itself by
    expect(me!.nspid[me!.nspid.length - 1]).toBe(process.pid);
    expect(me!.ppid).toBe(process.ppid);
    expect(me!.threads[0]!.tid).toBe(process.pid);
    expect(me!.threads.length).toBeGreaterThan(1); // V8 and libuv run threads of their own
    expect(me!.pidNs).toBe(parseNsLink(readlinkSync('/proc/self/ns/pid')));
    expect(scanProcesses().some((p) => p.pid === process.pid)).toBe(true);
  });
});

/** canUnshare says why `unshare` cannot make a pid namespace in a user namespace of its own here, or null when it can. */
async function canUnshare(): Promise<string | null> {
  const r = await execa('unshare', ['--user', '--map-root-user', '--pid', '--fork', 'true'], { reject: false, timeout: 10_000 });
  return r.exitCode === 0 ? null : `cannot make pid namespaces here (unshare: ${String(r.stderr || r.message || 'it failed').split('\n')[0] ?? ''})`;
}
const why = await canUnshare();
if (why) console.log(`skipping the real nested tree: ${why}`);

describe.skipIf(why !== null)('a real tree in two nested pid namespaces, made for the test', () => {
  it('is read with its pids at every level and its namespaces inside each other, and is gone after', { timeout: 30_000 }, async () => {
    const nested = ['--user', '--map-root-user', '--pid', '--fork', '--kill-child'];
    const child = execa('unshare', [...nested, 'unshare', '--pid', '--fork', '--kill-child', 'sleep', '60'], { reject: false });
    try {
      let tree = readTree(child.pid!);
      for (let i = 0; i < 200 && tree.length < 3; i++) {
        await new Promise((r) => setTimeout(r, 25));
        tree = readTree(child.pid!);
      }
      expect(tree.map(levelOf)).toEqual([0, 1, 2]);
      const [outer, first, second] = tree as [ProcProcess, ProcProcess, ProcProcess];
      expect(first.nspid.slice(1)).toEqual([1]);
      expect(second.nspid.slice(1)).toEqual([2, 1]);
      expect(second.ppid).toBe(first.pid);
      const ns = namespacesOf(scanProcesses());
      expect(ns.get(second.pidNs)!.chain).toEqual([outer.pidNs, first.pidNs, second.pidNs]);
      const holders = pidHolders(tree, namespacesOf(tree), first.pidNs, 1);
      expect(holders.get(1)).toEqual({ kind: 'task', nr: 1 });
      expect(holders.get(2)).toEqual({ kind: 'task', nr: 2 });
    } finally {
      child.kill('SIGKILL');
      await child;
    }
    // --kill-child ends each level when the one above dies; the namespaces' inits take the rest with them.
    for (let i = 0; i < 200 && readTree(child.pid!).length > 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(readTree(child.pid!)).toEqual([]);
  });
});
