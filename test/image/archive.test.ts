/**
 * Image format v1: golden images restore and re-encode byte for byte;
 * broken images are refused with a stable code before anything changes.
 */
import { readFileSync } from 'node:fs';
import { decode } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { tarBytes, untar } from '../../src/image/archive.js';
import { dumpContainer } from '../../src/image/dump.js';
import { ImageError } from '../../src/image/format.js';
import { decodeImage, encodeImage } from '../../src/image/image-codec.js';
import { restoreAtomically } from '../../src/image/restore.js';
import type { Task } from '../../src/kernel/task.js';
import { LINUX_CAPABILITY_VERSION_3 } from '../../src/abi/capabilities.js';
import { CLONE_SIGHAND, CLONE_THREAD, CLONE_VM } from '../../src/abi/clone-flags.js';
import { libcOf } from '../../src/program/libc.js';
import { decodeMachine, encodeMachine } from '../../src/store/machine-codec.js';
import { GOLDEN_ARCHES, goldenImage } from '../fixtures/make-golden-images.js';

const golden = (arch: string) => new Uint8Array(readFileSync(`images/golden/${arch}-nested.tar`));

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ImageError) return e.code;
    throw e;
  }
  return 'accepted';
}

describe.each(GOLDEN_ARCHES)('golden image %s', (arch) => {
  it('decodes and re-encodes to the same bytes', () => {
    const bytes = golden(arch);
    const img = decodeImage(untar(bytes));
    expect(tarBytes(encodeImage(img, { embedPrograms: true }))).toEqual(bytes);
  });

  it('is what the committed generator makes', () => {
    expect(goldenImage(process.cwd(), arch)).toEqual(golden(arch));
  });

  it('restores, with identical pids at every container level, and runs to completion', () => {
    const img = decodeImage(untar(golden(arch)));
    // the golden images predate personalities: they are 2.6.32 images
    const { machine, container } = restoreAtomically(Machine.create('t', arch, undefined, '2.6.32'), img);
    expect(machine.tasksOf(container).map((t) => t.nspids.slice(1)).sort()).toEqual(img.tasks.map((t) => t.numbers).sort());
    machine.scheduler.runUntilIdle(10_000);
    expect(container.console.text).toContain('L1 init: no children left\n');
  });
});

describe('broken images are refused with a stable code', () => {
  const base = () => [...untar(golden('x86_64')).entries()];
  const rebuild = (entries: Array<[string, Uint8Array]>) => tarBytes(entries);
  const cases: Array<[string, () => Uint8Array, string]> = [
    ['a flipped byte in tasks.cbor', () => rebuild(base().map(([n, b]) => [n, n === 'tasks.cbor' ? b.map((x, i) => (i === 40 ? x ^ 1 : x)) : b])), 'CKPT_BAD_CHECKSUM'],
    ['an entry missing', () => rebuild(base().filter(([n]) => n !== 'memory.cbor')), 'CKPT_BAD_ARCHIVE'],
    ['an unexpected entry', () => rebuild([...base(), ['../evil', new Uint8Array(3)]]), 'CKPT_BAD_ARCHIVE'],
    ['an entry twice', () => rebuild([...base(), base()[1]!]), 'CKPT_BAD_ARCHIVE'],
    ['the manifest not first', () => rebuild(base().reverse()), 'CKPT_NOT_AN_IMAGE'],
    ['truncated', () => golden('x86_64').slice(0, 1000), 'CKPT_TRUNCATED'],
    ['not an image at all', () => rebuild([['manifest.cbor', new Uint8Array([0xa1, 0x61, 0x78, 0x01])]]), 'CKPT_NOT_AN_IMAGE'],
  ];
  for (const [what, make, code] of cases) it(what, () => expect(codeOf(() => decodeImage(untar(make())))).toBe(code));

  it('a program referred to by path that the target does not have', () => {
    const m = Machine.create('s', 'ppc');
    const c = m.run('c', 'images/workloads/nested.wl', readFileSync('images/workloads/nested.wl', 'utf8'));
    const entries = untar(tarBytes(encodeImage(dumpContainer(m, c), { embedPrograms: false })));
    expect(codeOf(() => decodeImage(entries))).toBe('CKPT_MISSING_PROGRAM');
    expect(codeOf(() => decodeImage(entries, () => 'program main\nend\n'))).toBe('CKPT_MISSING_PROGRAM');
    expect(codeOf(() => decodeImage(entries, () => readFileSync('images/workloads/nested.wl', 'utf8')))).toBe('accepted');
  });
});

describe('the kernel personality in the manifest', () => {
  const nested = readFileSync('images/workloads/nested.wl', 'utf8');
  const dumped = (kernel: 'mainline' | '2.6.32') => {
    const m = Machine.create('s', 'x86_64', undefined, kernel);
    const c = m.run('c', 'images/workloads/nested.wl', nested);
    m.scheduler.run(30);
    return dumpContainer(m, c);
  };
  const manifestOf = (img: ReturnType<typeof dumped>) => decode(untar(tarBytes(encodeImage(img, { embedPrograms: true }))).get('manifest.cbor')!) as Record<string, unknown>;

  it('a mainline host\'s image says mainline; a 2.6.32 host\'s leaves it out, as images written before personalities do', () => {
    expect(manifestOf(dumped('mainline')).kernel).toBe('mainline');
    expect('kernel' in manifestOf(dumped('2.6.32'))).toBe(false);
    const back = decodeImage(untar(tarBytes(encodeImage(dumped('mainline'), { embedPrograms: true }))));
    expect(back.kernel).toBe('mainline');
  });

  it('last_pid -1 (a mainline namespace before any automatic pid) is kept; in a 2.6.32 image it is inconsistent', () => {
    for (const kernel of ['mainline', '2.6.32'] as const) {
      const img = dumped(kernel);
      img.pidNs[1]![2] = -1;
      const bytes = tarBytes(encodeImage(img, { embedPrograms: true }));
      if (kernel === 'mainline') expect(decodeImage(untar(bytes)).pidNs[1]![2]).toBe(-1);
      else expect(codeOf(() => decodeImage(untar(bytes)))).toBe('CKPT_INCONSISTENT');
    }
  });
});

describe('a namespace\'s own pid_max (mainline)', () => {
  it('is recorded only where /proc/sys/kernel/pid_max changed it, and restored', () => {
    const m = Machine.create('s', 'x86_64');
    const c = m.run('c', 'images/workloads/nested.wl', readFileSync('images/workloads/nested.wl', 'utf8'));
    m.scheduler.run(30);
    expect(dumpContainer(m, c).pidNs.every((n) => n.length === 4)).toBe(true);
    const inner = m.tasksOf(c).find((t) => t.pid.level === 2)!.pid.ns;
    inner.pidMax = 5000; // as a write of /proc/sys/kernel/pid_max in that namespace does
    const img = decodeImage(untar(tarBytes(encodeImage(dumpContainer(m, c), { embedPrograms: true }))));
    expect(img.pidNs.map((n) => n[4]).filter((v) => v !== undefined)).toEqual([5000]);
    const { machine, container } = restoreAtomically(Machine.create('t', 'x86_64'), img);
    const pidMaxOf = (tasks: readonly Task[], level: number) => tasks.map((t) => [t.pid.numbers.slice(level).join('/'), t.pid.ns.pidMax]).sort();
    expect(pidMaxOf(machine.tasksOf(container), 1)).toEqual(pidMaxOf(m.tasksOf(c), 1));
    expect(pidMaxOf(machine.tasksOf(container), 1).map(([, v]) => v)).toContain(5000);
  });
});

describe('a process made not dumpable', () => {
  it('keeps the flag through an image (the seventh element of cred), and only it has one', () => {
    const m = Machine.create('s', 'x86_64');
    const c = m.run('c', 'images/workloads/nested.wl', readFileSync('images/workloads/nested.wl', 'utf8'));
    m.scheduler.run(30);
    const child = m.tasksOf(c).find((t) => t !== c.init)!;
    child.mm.nondumpable = true; // as a setuid that changed its euid leaves it
    const img = decodeImage(untar(tarBytes(encodeImage(dumpContainer(m, c), { embedPrograms: true }))));
    expect(img.tasks.filter((t) => t.cred.length === 7).map((t) => t.numbers.join('/'))).toEqual([child.pid.numbers.slice(1).join('/')]);
    const { machine, container } = restoreAtomically(Machine.create('t', 'x86_64'), img);
    const restored = machine.tasksOf(container).filter((t) => t.nondumpable).map((t) => t.pid.numbers.slice(1).join('/'));
    expect(restored).toEqual([child.pid.numbers.slice(1).join('/')]);
  });

  it('is refused when live tasks sharing an address space disagree on it (the flag is the address space\'s)', () => {
    const m = Machine.create('s', 'x86_64');
    const c = m.run('c', 'images/workloads/nested.wl', readFileSync('images/workloads/nested.wl', 'utf8'));
    m.scheduler.run(30);
    const leader = m.tasksOf(c).find((t) => t !== c.init && !t.exited)!;
    libcOf(m.host, leader).clone(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0, 0, 0, 0);
    const img = dumpContainer(m, c);
    const [a, b] = img.tasks.map((t, i) => [t, i] as const).filter(([t]) => img.tasks.filter((u) => u.mm === t.mm && !u.exited).length === 2);
    expect(a && b).toBeTruthy();
    // as dumped, both say the same, and the image restores
    expect(decodeImage(untar(tarBytes(encodeImage(img, { embedPrograms: true })))).tasks[a![1]]!.cred).toHaveLength(6);
    const [uid, euid, suid, user, effective, permitted] = img.tasks[b![1]]!.cred;
    img.tasks[b![1]]!.cred = [uid, euid, suid, user, effective, permitted, true];
    const bytes = tarBytes(encodeImage(img, { embedPrograms: true }));
    expect(() => decodeImage(untar(bytes))).toThrow(/share address space \d+, but only one of them is marked not dumpable/);
    expect(codeOf(() => decodeImage(untar(bytes)))).toBe('CKPT_INCONSISTENT');
  });
});

describe.each(['mainline', '2.6.32'] as const)('a thread whose credentials differ from its leader\'s (%s)', (kernel) => {
  it('keeps its own through an image and a host file: credentials are per thread (docs/semantics.md §12)', () => {
    const m = Machine.create('s', 'x86_64', undefined, kernel);
    const c = m.run('c', 'images/workloads/nested.wl', readFileSync('images/workloads/nested.wl', 'utf8'));
    m.scheduler.run(30);
    const leader = m.tasksOf(c).find((t) => t !== c.init && !t.exited)!;
    const thread = libcOf(m.host, leader).clone(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0, 0, 0, 0).child!;
    const lt = libcOf(m.host, thread);
    if (kernel === '2.6.32') {
      // the raw setuid of a non-leader thread: its credentials only, its whole address space not dumpable
      expect(lt.setuid(1000)).toEqual({ ret: 0 });
    } else {
      // mainline: the container's user namespace has no uid map (setuid there is EINVAL); a capset is the thread's alone too
      expect(lt.capset({ version: LINUX_CAPABILITY_VERSION_3, pid: 0 }, [{ effective: 1, permitted: 1, inheritable: 0 }, { effective: 0, permitted: 0, inheritable: 0 }]).ret).toBe(0);
    }
    const key = (t: Task) => t.pid.numbers.slice(1).join('/');
    const credsOf = (tasks: readonly Task[]) => tasks.map((t) => [key(t), t.creds.uid, t.creds.euid, t.creds.suid, t.creds.effective, t.creds.permitted, t.nondumpable] as const).sort();
    const before = credsOf(m.tasksOf(c));
    const row = (t: Task) => before.find(([k]) => k === key(t))!;
    expect(row(thread).slice(1)).not.toEqual(row(leader).slice(1));
    if (kernel === '2.6.32') {
      expect(row(thread).slice(1, 4)).toEqual([1000, 1000, 1000]);
      expect(row(leader).slice(1, 4)).toEqual([0, 0, 0]);
      expect([row(leader)[6], row(thread)[6]]).toEqual([true, true]);
    } else expect(row(thread)[4]).toBe(1);
    const img = decodeImage(untar(tarBytes(encodeImage(dumpContainer(m, c), { embedPrograms: true }))));
    const { machine, container } = restoreAtomically(Machine.create('t', 'x86_64', undefined, kernel), img);
    expect(credsOf(machine.tasksOf(container))).toEqual(before);
    expect(decodeMachine(encodeMachine(m)).host.snapshot()).toEqual(m.host.snapshot());
  });
});
