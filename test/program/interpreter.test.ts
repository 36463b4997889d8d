/**
 * Programs run in the model through each ABI: deterministic output,
 * identical pids on every architecture, variables in the task's byte
 * order, and blocked syscalls parked on their trap instruction.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Host } from '../../src/index.js';
import { startContainer } from '../../src/container/container.js';
import { compileWorkload, SLOT, TRAP_OFFSET } from '../../src/program/compile.js';
import { dataBase, format, hex } from '../../src/program/interpreter.js';
import { parseWorkload } from '../../src/program/parse.js';
import { Scheduler } from '../../src/program/scheduler.js';
import { ALL_ARCHES } from '../helpers.js';

const NESTED = 'images/workloads/nested.wl';

function runWorkload(arch: string, path: string, text: string, steps = 10_000) {
  const host = Host.create({ arch });
  const compiled = compileWorkload(parseWorkload(path, text));
  const ctr = startContainer(host, 'c1', compiled);
  const sched = new Scheduler(host, new Map([[path, compiled]]));
  const ran = sched.run(steps);
  return { host, ctr, sched, ran, compiled };
}

describe('the nested sample workload', () => {
  const text = readFileSync(NESTED, 'utf8');

  it('prints the same trace, pids included, on all six ABIs', () => {
    const traces = ALL_ARCHES.map((arch) => runWorkload(arch, NESTED, text).ctr.console.text);
    for (const t of traces) expect(t).toBe(traces[0]);
    expect(traces[0]).toContain('L1 init: pid 1 ppid 0\n');
    expect(traces[0]).toContain('L3 init: pid 1 ppid 0 sid 0\n');
    expect(traces[0]).toContain('L3 init: new session 1\n');
    expect(traces[0]).toMatch(/L2 init: child (\d+) now leads group \1\n/);
    expect(traces[0]).toContain('L1 init: no children left\n');
  });

  it('is deterministic: the same console and the same snapshot twice', () => {
    const a = runWorkload('s390x', NESTED, text);
    const b = runWorkload('s390x', NESTED, text);
    expect(a.ctr.console.text).toBe(b.ctr.console.text);
    expect(a.host.snapshot()).toEqual(b.host.snapshot());
  });

  it('runs to idle: the container init exits once everything is reaped', () => {
    const r = runWorkload('ppc', NESTED, text);
    expect(r.ran).toBeLessThan(10_000);
    expect(r.ctr.init.state).toBe('zombie');
  });
});

describe('execution through the ABI', () => {
  it('keeps variables as words in the task byte order', () => {
    const src = 'var x\nprogram main\n  x = 258\n  sleep 100\nend\n';
    for (const arch of ['x86_64', 's390x', 'i386', 'ppc']) {
      const r = runWorkload(arch, 'v.wl', src, 2);
      const bytes = Array.from(r.ctr.init.mm.read(dataBase(r.ctr.init.abi), r.ctr.init.abi.wordSize));
      const be = [...Array(r.ctr.init.abi.wordSize - 2).fill(0), 1, 2];
      expect(bytes).toEqual(r.host.arch.littleEndian ? [...be].reverse() : be);
    }
  });

  it('parks a task blocked in wait4 on its trap instruction and resumes it there', () => {
    const src = 'var c\nprogram main\n  c = fork()\n  if c == 0 goto child\n  c = wait4(-1, 0, 0, 0)\n  print "reaped %d\\n", c\n  exit(0)\nchild:\n  sleep 10\n  exit(3)\nend\n';
    for (const arch of ALL_ARCHES) {
      const r = runWorkload(arch, 'w.wl', src, 4);
      const init = r.ctr.init;
      expect(init.state).toBe('blocked');
      // statement 2 of main is the wait4: its trap sits 8 bytes into its slot
      expect(init.abi.getPc(init.dv)).toBe(init.abi.textBase + 2 * SLOT + TRAP_OFFSET);
      r.sched.runUntilIdle();
      expect(r.ctr.console.text).toBe('reaped 2\n');
    }
  });

  it('delivers SIGSEGV for a store to an unmapped address', () => {
    const r = runWorkload('x86_64', 's.wl', 'program main\n  store 16, 1\n  print "not reached\\n"\nend\n');
    expect(r.ctr.init.state).toBe('zombie');
    expect(r.ctr.init.exitStatus).toBe(11);
    expect(r.ctr.console.text).toBe('');
  });
});

describe('the other sample workloads', () => {
  it('threads: two threads of one process, each with its own tid', () => {
    const text = readFileSync('images/workloads/threads.wl', 'utf8');
    const out = ALL_ARCHES.map((arch) => runWorkload(arch, 'images/workloads/threads.wl', text, 200).ctr.console.text);
    for (const o of out) expect(o).toBe(out[0]);
    expect(out[0]).toContain('thread 2 of process 1\n');
    expect(out[0]).toContain('thread 3 of process 1\n');
    expect(out[0]).toContain('main: threads 2 and 3 finished\n');
  });

  it('churn: pids wrap past pid_max to 300 (2.6.32: on mainline the container\'s namespace has a pid_max of its own)', () => {
    const host = Host.create({ arch: 'i386', pidMax: 400, kernel: '2.6.32' });
    const compiled = compileWorkload(parseWorkload('churn.wl', readFileSync('images/workloads/churn.wl', 'utf8')));
    const ctr = startContainer(host, 'c', compiled);
    new Scheduler(host, new Map([['churn.wl', compiled]])).run(20_000);
    expect(ctr.console.text).toMatch(/^wrap 1: pid 300 after 399 \(399 forks\)\nwrap 2: pid 300 after 399 \(499 forks\)\n/);
  });

  it('jobs: the orphaned stopped job is ended by SIGHUP (a signal constant of the language) and reaped', () => {
    const r = runWorkload('s390', 'jobs.wl', readFileSync('images/workloads/jobs.wl', 'utf8'), 100);
    expect(r.ctr.console.text).toBe('init reaped 2\ninit reaped 3\n');
    const hup = runWorkload('x86_64', 'hup.wl', 'var r\nprogram main\n  r = fork()\n  if r == 0 goto kid\n  sleep 5\n  r = kill(r, SIGHUP)\n  sleep 100\nkid:\n  sleep 100\nend\n', 10);
    const kid = [...hup.host.tasks].find((t) => t.parent === hup.ctr.init)!;
    expect([kid.state, kid.group.groupExitStatus]).toEqual(['zombie', 1]);
  });

  it('pidcache: the cached pid always matches getpid()', () => {
    const r = runWorkload('ppc64', 'pidcache.wl', readFileSync('images/workloads/pidcache.wl', 'utf8'), 400);
    expect(r.ctr.console.text).toContain('ok 1 round 3\n');
    expect(r.ctr.console.text).toContain('ok 3 round 3\n');
    expect(r.ctr.console.text).not.toContain('FAIL');
  });
});

describe('print %x', () => {
  it('prints every bit of a large value, and a negative one in two\'s complement', () => {
    expect(format('%x %x %x %d%%', [0x7f0000000000, 255, 0, 5])).toBe('7f0000000000 ff 0 5%');
    expect(hex(-1)).toBe('ffffffff');
    expect(hex(-0x1_0000_0000)).toBe('ffffffff00000000');
    expect(hex(2 ** 60)).toBe('1000000000000000');
  });
});
