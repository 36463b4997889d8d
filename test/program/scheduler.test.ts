/**
 * The scheduler keeps sleepers in a queue instead of looking at every task
 * every round. Its schedule must be exactly the one its definition gives
 * (src/program/scheduler.ts): each round, after waking the sleepers whose
 * tick has come, every runnable task in creation order, one statement each;
 * when nothing can run, the clock jumps to the first wake-up of a sleeper
 * with a program. A run restricted to some tasks (one container) leaves the
 * others where they are: their turns in the round stay due, their sleepers
 * do not wake and the clock does not jump to their ticks, as when their
 * container is not loaded at all. ReferenceScheduler below is that definition written out
 * plainly, looking at every task each round; both run the same workloads
 * on twin machines, and every step, console and host snapshot must agree.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import type { Task } from '../../src/kernel/task.js';
import type { Compiled } from '../../src/program/compile.js';
import { step, type InterpreterHost, type StepResult } from '../../src/program/interpreter.js';
import { libcOf } from '../../src/program/libc.js';

class ReferenceScheduler {
  private round: Task[] = [];
  private at = 0;
  private only: ((t: Task) => boolean) | null = null;

  constructor(
    private readonly host: InterpreterHost,
    private readonly programs: ReadonlyMap<string, Compiled>,
  ) {}

  private runnable(t: Task): boolean {
    return t.exePath !== null && this.programs.has(t.exePath) && this.host.tasks.has(t) && t.state === 'runnable' && (this.only === null || this.only(t));
  }

  private wake(): void {
    for (const t of this.host.tasks) if (t.blockedIn === 'nanosleep' && t.sleepUntil !== null && t.sleepUntil <= this.host.clock && (this.only === null || this.only(t))) t.blockedIn = null;
  }

  private take(): Task | null {
    for (;;) {
      if (this.at === this.round.length) {
        this.wake();
        this.round = [...this.host.tasks].filter((t) => this.runnable(t));
        this.at = 0;
        if (this.round.length === 0) return null;
      }
      const t = this.round[this.at++]!;
      if (this.runnable(t)) return t;
    }
  }

  step(): { task: Task; result: StepResult } | null {
    let task = this.take();
    // nothing runnable: the clock jumps to the next wake-up, and on, until a task can run or none sleeps
    while (!task) {
      const sleepers = [...this.host.tasks].filter((t) => t.blockedIn === 'nanosleep' && t.sleepUntil !== null && this.programs.has(t.exePath ?? '') && (this.only === null || this.only(t)));
      if (sleepers.length === 0) return null;
      this.host.clock = Math.max(this.host.clock, Math.min(...sleepers.map((t) => t.sleepUntil!)));
      task = this.take();
    }
    this.host.clock++;
    return { task, result: step(this.host, task, this.programs.get(task.exePath!)!) };
  }

  run(steps: number, only?: (t: Task) => boolean): string[] {
    this.only = only ?? null;
    let kept: Task[] = [];
    if (only) {
      kept = this.round.slice(this.at).filter((t) => !only(t));
      this.round = this.round.slice(this.at).filter(only);
      this.at = 0;
    }
    const trace: string[] = [];
    for (let s = this.step(); s; s = trace.length < steps ? this.step() : null) trace.push(`${s.task.pid.nr}:${s.result}`);
    this.only = null;
    if (only) {
      // what is left of the round, and the others' turns, in creation order
      const due = new Set([...kept, ...this.round.slice(this.at)]);
      this.round = [...this.host.tasks].filter((t) => due.has(t));
      this.at = 0;
    }
    return trace;
  }
}

/** SLEEPY: 40 children sleeping for different spans, one stopped and continued, one killed asleep, all reaped. */
const SLEEPY = `
var i, c, n, me, r
program main
spawn:
  if i >= 40 goto parent
  c = fork()
  if c == 0 goto kid
  i = i + 1
  goto spawn
parent:
  sleep 30
  r = kill(c, SIGSTOP)
  sleep 20
  r = kill(c, SIGCONT)
  r = kill(c - 1, SIGKILL)
reap:
  r = wait4(-1, 0, 0, 0)
  if r < 0 goto done
  print "reaped %d\\n", r
  goto reap
done:
  exit_group(0)
kid:
  me = getpid()
  n = me % 7
nap:
  sleep n * 3 + 1
  print "%d woke\\n", me
  n = n - 1
  if n >= 0 goto nap
  exit(me % 5)
end
`;

/** KILLED_ASLEEP: a child killed in a long sleep; its parent then sleeps longer, and only the parent's wake-up may move the clock. */
const KILLED_ASLEEP = `
var c, r
program main
  c = fork()
  if c == 0 goto kid
  sleep 5
  r = kill(c, SIGKILL)
  sleep 2000
  r = wait4(c, 0, 0, 0)
  print "reaped %d after the long sleep\\n", r
  exit_group(0)
kid:
  sleep 1000
  print "never printed\\n"
  exit(0)
end
`;

/** STOPPED_ASLEEP: a child stopped in its sleep wakes first, and runs nothing; idle, the clock goes on to the parent's wake-up. */
const STOPPED_ASLEEP = `
var a, b
program main
  a = fork()
  if a == 0 goto kid
  sleep 2
  b = kill(a, SIGSTOP)
  sleep 50
  print "main woke\\n"
  b = kill(a, SIGCONT)
  b = wait4(a, 0, 0, 0)
  print "reaped %d\\n", b
  exit_group(0)
kid:
  sleep 10
  print "kid woke\\n"
  exit(0)
end
`;

/** CHAIN: 30 processes, each waiting in wait4 for the next; the last spins a while, exits, and the chain unwinds. */
const CHAIN = `
var i, c, r
program main
loop:
  if i >= 30 goto leaf
  c = fork()
  if c == 0 goto deeper
  r = wait4(c, 0, 0, 0)
  print "%d reaped %d\\n", i, r
  exit(i)
deeper:
  i = i + 1
  goto loop
leaf:
  if i >= 230 goto done
  i = i + 1
  goto leaf
done:
  exit(0)
end
`;

const SAMPLES = ['churn', 'nested', 'pidcache', 'threads'].map((n) => [`${n}.wl`, readFileSync(`images/workloads/${n}.wl`, 'utf8')] as const);

/** twins starts the same containers on two machines: one scheduled by the scheduler, one by the reference. */
function twins(arch: string, workloads: ReadonlyArray<readonly [string, string]>) {
  const make = (): Machine => {
    const m = Machine.create('twin', arch);
    workloads.forEach(([path, text], i) => m.run(`c${i}`, path, text));
    return m;
  };
  const a = make();
  const b = make();
  return { a, b, ref: new ReferenceScheduler(b.host, b.programs) };
}

/** stepTrace steps the machine's scheduler through its public step(), tracing each step as the reference does. */
function stepTrace(m: Machine, steps: number): string[] {
  const trace: string[] = [];
  for (let s = m.scheduler.step(); s; s = trace.length < steps ? m.scheduler.step() : null) trace.push(`${s.task.pid.nr}:${s.result}`);
  return trace;
}

function expectSame(a: Machine, b: Machine): void {
  expect(a.host.clock).toBe(b.host.clock);
  expect(a.host.snapshot()).toEqual(b.host.snapshot());
  for (const [name, c] of a.containers) expect(c.console.text).toBe(b.containers.get(name)!.console.text);
}

describe('the scheduler keeps the schedule its definition gives', () => {
  it.each(['x86_64', 's390'])('on %s: sleepers, a stopped and continued task, a task killed asleep, and the four sample workloads side by side', (arch) => {
    const { a, b, ref } = twins(arch, [['sleepy.wl', SLEEPY], ...SAMPLES]);
    for (let chunk = 0; chunk < 6; chunk++) {
      expect(a.scheduler.pending().map((t) => t.pid.nr)).toEqual(pendingOf(ref).map((t) => t.pid.nr));
      const got = stepTrace(a, 500);
      const want = ref.run(500);
      expect(got).toEqual(want);
      expectSame(a, b);
    }
  });

  it('runs to idle the same way: every child asleep, the clock jumping from wake-up to wake-up until all are reaped', () => {
    const { a, b, ref } = twins('x86_64', [['sleepy.wl', SLEEPY]]);
    const got = stepTrace(a, 100_000);
    const want = ref.run(100_000);
    expect(got.length).toBeGreaterThan(100);
    expect(got).toEqual(want);
    expectSame(a, b);
    expect(a.containers.get('c0')!.console.text).toContain('reaped');
    // left: the host's init, and the container's init, a zombie the host's init has not reaped
    expect([...a.host.tasks].map((t) => t.state)).toEqual(['runnable', 'zombie']);
  });

  it('a chain of wait4 waiters unwinds the same way: each wakes when its child exits', () => {
    const { a, b, ref } = twins('ppc64', [['chain.wl', CHAIN], ['sleepy.wl', SLEEPY]]);
    expect(stepTrace(a, 100_000)).toEqual(ref.run(100_000));
    expectSame(a, b);
    expect(a.containers.get('c0')!.console.text.split('\n')).toHaveLength(31);
  });

  it('a task blocked in wait4 that a call from outside the scheduler brings back (libc on a blocked task) is scheduled again', () => {
    const { a, b, ref } = twins('i386', [['chain.wl', CHAIN]]);
    const initOf = (m: Machine) => m.containers.get('c0')!.init;
    expect(stepTrace(a, 20)).toEqual(ref.run(20)); // the init has forked and waits: set aside by now
    expect(initOf(a).blockedIn).toBe('wait4');
    for (const m of [a, b]) expect(libcOf(m.host, initOf(m)).getpid().ret).toBe(1);
    expect(initOf(a).blockedIn).toBe(null);
    const got = stepTrace(a, 300);
    expect(got).toEqual(ref.run(300));
    expect(got).toContain(`${initOf(a).pid.nr}:blocked`); // it ran, re-issued wait4 and blocked again
    expectSame(a, b);
  });

  it('a task killed in its sleep no longer sets the clock: idle, it jumps straight to the next live sleeper', () => {
    const { a, b, ref } = twins('x86_64', [['killed.wl', KILLED_ASLEEP]]);
    expect(stepTrace(a, 10_000)).toEqual(ref.run(10_000));
    expectSame(a, b);
    expect(a.containers.get('c0')!.console.text).toMatch(/^reaped \d+ after the long sleep\n$/);
  });

  it('a task stopped in its sleep wakes first and runs nothing: the clock goes on to the next sleeper instead of stopping idle', () => {
    const { a, b, ref } = twins('s390x', [['stopped.wl', STOPPED_ASLEEP]]);
    expect(stepTrace(a, 10_000)).toEqual(ref.run(10_000));
    expectSame(a, b);
    expect(a.containers.get('c0')!.console.text).toBe('main woke\nkid woke\nreaped 2\n');
  });

  it('restricted to one container (run with a filter), then all again, in random slices', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 400 }), fc.integer({ min: -1, max: 1 })), { minLength: 1, maxLength: 8 }), (slices) => {
        const { a, b, ref } = twins('x86_64', [['sleepy.wl', SLEEPY], SAMPLES[1]!]);
        for (const [steps, which] of slices) {
          const inA = which < 0 ? undefined : containerFilter(a.containers.get(`c${which}`)!);
          const inB = which < 0 ? undefined : containerFilter(b.containers.get(`c${which}`)!);
          expect(a.scheduler.run(steps, inA)).toBe(ref.run(steps, inB).length);
          expect(a.scheduler.pending().map((t) => t.pid.nr)).toEqual(pendingOf(ref).map((t) => t.pid.nr));
          expectSame(a, b);
        }
      }),
      { numRuns: 25 },
    );
  }, 60_000);
});

/** containerFilter accepts the tasks living in the container's pid namespace or below it. */
function containerFilter(c: { init: Task }): (t: Task) => boolean {
  const ns = c.init.pid.ns;
  return (t) => t.pid.nrIn(ns) !== 0;
}

/** pendingOf is what of the reference's round is still due and could ever run: not the tasks that have exited since it began. */
function pendingOf(ref: ReferenceScheduler): Task[] {
  const r = ref as unknown as { round: Task[]; at: number; host: InterpreterHost };
  return r.round.slice(r.at).filter((t) => !t.exited && r.host.tasks.has(t));
}

