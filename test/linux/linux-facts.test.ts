/**
 * The machine's own facts for a preflight, read from the real /proc (read only): its ABI, pid_max,
 * and who holds a pid at its level, checked on the test runner's own process and threads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { dumpContainer } from '../../src/image/dump.js';
import { findProblems } from '../../src/image/restore-preflight.js';
import { linuxFacts, machineArch } from '../../src/linux/linux-facts.js';

describe('machineArch', () => {
  it('names the ABI of the machines ckpt models, and no other', () => {
    expect(machineArch('x64')).toBe('x86_64');
    expect(machineArch('s390x')).toBe('s390x');
    expect(machineArch('arm64')).toBeUndefined();
  });
});

describe.skipIf(machineArch() === undefined)('linuxFacts on this machine', () => {
  it('reads its pid_max and who holds its pids: the test runner is a task, its threads are threads of it', () => {
    const threads = (): number[] => readdirSync(`/proc/${process.pid}/task`).map(Number);
    const before = threads();
    const facts = linuxFacts();
    // a thread there before and after the read was there during it
    const after = threads();
    const thread = before.find((t) => t !== process.pid && after.includes(t));
    expect(facts.arch.name).toBe(machineArch());
    expect(facts.kernel).toBe('mainline');
    expect(facts.pidMax).toBe(Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')));
    if ('missing' in facts.enclosing) throw new Error(facts.enclosing.missing);
    const e = facts.enclosing;
    expect(e.level).toBe(0);
    expect(e.levelName(0)).toBe('host linux');
    expect(e.holderAt(0, process.pid)).toEqual({ kind: 'task', nr: process.pid });
    expect(thread).toBeDefined(); // V8 and libuv keep threads of their own
    expect(e.holderAt(0, thread!)).toEqual({ kind: 'thread', nr: thread, process: process.pid });
  });

  it('lets a preflight name a real collision: an image asking for the test runner\'s own pid at the host level', () => {
    const source = Machine.create('s', 'x86_64');
    const c = source.run('box', 'box.wl', 'program main\n  sleep 1000000\nend\n');
    source.scheduler.run(2);
    const image = dumpContainer(source, c);
    const asking = { ...image, tasks: image.tasks.map((t) => ({ ...t, outer: [process.pid] })) };
    const problems = findProblems(linuxFacts(), asking, { via: 'clone3', hostPids: true });
    expect(problems.map((p) => p.message)).toContain(`host pid ${process.pid} (task 1 of the image) is held by task ${process.pid} on host linux: clone3 would fail with EEXIST`);
  });
});
