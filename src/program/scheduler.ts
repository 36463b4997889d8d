/**
 * Scheduler runs the host's programs deterministically: round robin in the
 * order tasks were created, one statement per step, one clock tick per
 * step. Creation order, not pid order, so that a restored container (whose
 * host-level pids the target chooses) is scheduled as it was. Sleepers wake
 * when the clock reaches their tick; when nothing can run but something
 * sleeps, the clock jumps to the first wake-up. A run restricted to some
 * tasks (one container) leaves the others where they are: their turns in
 * the round stay due, their sleepers do not wake and the clock does not
 * jump to their ticks, exactly as when their container is not loaded at all
 * (a command loads only the containers it touches).
 *
 * A round is every runnable task, in the host's list order. Building one
 * looks only at the tasks that might run:
 * - a task asleep in nanosleep can be made runnable by nothing but its timer
 *   (a signal that ends it leaves a zombie), so it waits in a SleepQueue
 *   until its tick;
 * - a task blocked in wait4, stopped, or a zombie can be made runnable only
 *   by the kernel on another's behalf (a child's exit, SIGCONT) or by
 *   re-entering its call from outside, all of which the kernel counts in
 *   `host.wakeups`: it is set aside until that count moves.
 * A container of 10,000 sleepers or waiters and one busy task runs as fast
 * as the busy task alone.
 */
import type { Task } from '../kernel/task.js';
import type { Compiled } from './compile.js';
import { step, type InterpreterHost, type StepResult } from './interpreter.js';
import { SleepQueue } from './sleep-queue.js';

export class Scheduler {
  /** the tasks due this round; those before `at` have had their turn (an index, not shift(): rounds are 10,000s long) */
  private round: Task[] = [];
  private at = 0;
  /** every listed task seen so far that is not in `sleeping`, in creation order */
  private watch: Task[] = [];
  /** creation order of the tasks seen so far: the host's list order */
  private readonly order = new Map<Task, number>();
  private seen = 0;
  /** tasks in a timed nanosleep with a program to run when they wake */
  private readonly sleeping = new SleepQueue();
  /** tasks taken off `sleeping` or `parked` before their round boundary, to go back into `watch` there */
  private woken: Task[] = [];
  /** tasks blocked in wait4, stopped, or zombies, with a program: set aside until the kernel wakes something */
  private parked: Task[] = [];
  /** host.wakeups when `parked` was last looked at */
  private wakeupsSeen = 0;

  constructor(
    private readonly host: InterpreterHost,
    private readonly programs: ReadonlyMap<string, Compiled>,
  ) {}

  /** only restricts scheduling to some tasks (one container); the others stay where they are */
  private only: ((t: Task) => boolean) | null = null;

  private hasProgram(t: Task): boolean {
    return t.exePath !== null && this.programs.has(t.exePath);
  }

  private isRunnable(t: Task): boolean {
    return this.hasProgram(t) && this.host.tasks.has(t) && t.state === 'runnable' && (this.only === null || this.only(t));
  }

  /** isParked: waits for the kernel to wake it (wait4, a stop) or never runs again (a zombie), and has a program */
  private isParked(t: Task): boolean {
    return (t.exited || t.group.stopped || t.blockedIn === 'wait4') && this.hasProgram(t);
  }

  /** sleepsWithProgram: on the host, asleep in nanosleep, with a program to run when it wakes */
  private sleepsWithProgram(t: Task): boolean {
    return t.blockedIn === 'nanosleep' && t.sleepUntil !== null && this.host.tasks.has(t) && this.hasProgram(t);
  }

  /** isTimedSleeper: sleepsWithProgram until a tick still to come */
  private isTimedSleeper(t: Task): boolean {
    return this.sleepsWithProgram(t) && t.sleepUntil! > this.host.clock;
  }

  /**
   * discover adds the tasks created since the last look to `watch`: tasks are
   * appended to the host's list, so they are the listed ones after the newest
   * task seen, found walking back from the newest.
   */
  private discover(): void {
    const fresh: Task[] = [];
    for (let t = this.host.tasks.last; t && !this.order.has(t); t = t.prevTask) fresh.push(t);
    for (let i = fresh.length - 1; i >= 0; i--) {
      const t = fresh[i]!;
      this.order.set(t, this.seen++);
      this.watch.push(t);
    }
  }

  /**
   * nextRound starts a round: tasks created since the last one join, sleepers
   * whose tick has come wake and rejoin in creation order, and the round is
   * every runnable task. Tasks gone from the host are forgotten.
   */
  private nextRound(): Task[] {
    this.discover();
    while ((this.sleeping.peek()?.until ?? Infinity) <= this.host.clock) this.woken.push(this.sleeping.pop()!.task);
    if (this.host.wakeups !== this.wakeupsSeen) {
      this.wakeupsSeen = this.host.wakeups;
      for (const t of this.parked) this.woken.push(t);
      this.parked = [];
    }
    if (this.woken.length > 0) this.rejoin();
    const round: Task[] = [];
    const kept: Task[] = [];
    const clock = this.host.clock;
    for (const t of this.watch) {
      if (!this.host.tasks.has(t)) {
        this.order.delete(t);
        continue;
      }
      // A task runs at most once a round, so waking sleepers at round boundaries is as good as every tick.
      // Those `only` leaves out stay asleep, and in view (not parked, were they stopped too): they wake at
      // the first boundary of a run that takes them, as they do when their container is not loaded at all
      // (a command loads only the containers it touches).
      if (t.blockedIn === 'nanosleep' && t.sleepUntil !== null && t.sleepUntil <= clock) {
        if (this.only !== null && !this.only(t)) {
          kept.push(t);
          continue;
        }
        t.blockedIn = null;
      }
      if (this.isTimedSleeper(t)) {
        this.sleeping.push(t, t.sleepUntil!);
        continue;
      }
      if (this.isParked(t)) {
        this.parked.push(t);
        continue;
      }
      kept.push(t);
      if (this.isRunnable(t)) round.push(t);
    }
    this.watch = kept;
    return round;
  }

  /** rejoin merges the woken tasks back into `watch` in creation order. */
  private rejoin(): void {
    this.watch = this.merged(this.watch, this.woken.sort((a, b) => this.rank(a) - this.rank(b)));
    this.woken = [];
  }

  /** rank is a task's place in creation order (one not discovered yet goes last). */
  private rank(t: Task): number {
    return this.order.get(t) ?? Infinity;
  }

  /** merged merges two lists of tasks, each in creation order (rank), into one. */
  private merged(a: readonly Task[], b: readonly Task[]): Task[] {
    const out: Task[] = [];
    let j = 0;
    for (const t of a) {
      while (j < b.length && this.rank(b[j]!) < this.rank(t)) out.push(b[j++]!);
      out.push(t);
    }
    while (j < b.length) out.push(b[j++]!);
    return out;
  }

  /**
   * nextWakeup is the first tick a task with a program wakes at, or null when
   * none sleeps. Entries that no longer describe their task (it ended, or
   * sleeps until another tick) are put right first.
   */
  private nextWakeup(): number | null {
    // sleepers `only` leaves out are set aside: the clock does not jump to their ticks
    const aside: Array<{ task: Task; until: number }> = [];
    try {
      for (;;) {
        const top = this.sleeping.peek();
        if (!top) return null;
        const t = top.task;
        const asleep = this.sleepsWithProgram(t);
        if (asleep && t.sleepUntil === top.until && this.only !== null && !this.only(t)) {
          aside.push(this.sleeping.pop()!);
          continue;
        }
        if (asleep && t.sleepUntil === top.until) return top.until;
        this.sleeping.pop();
        if (asleep) this.sleeping.push(t, t.sleepUntil!);
        else this.woken.push(t);
      }
    } finally {
      for (const { task, until } of aside) this.sleeping.push(task, until);
    }
  }

  /** step runs one statement of the next runnable task; null when every task is blocked or gone. */
  step(): { task: Task; result: StepResult } | null {
    let task = this.take();
    while (!task) {
      // Every sleeper with a program is queued now: the round that came out empty has just sorted them.
      // A wake-up may make nothing runnable (the sleeper was stopped meanwhile): then on to the next.
      const wakeup = this.nextWakeup();
      if (wakeup === null) return null;
      this.host.clock = Math.max(this.host.clock, wakeup);
      task = this.take();
    }
    this.host.clock++;
    return { task, result: step(this.host, task, this.programs.get(task.exePath!)!) };
  }

  private take(): Task | null {
    for (;;) {
      if (this.at === this.round.length) {
        this.round = this.nextRound();
        this.at = 0;
        if (this.round.length === 0) return null;
      }
      const t = this.round[this.at++]!;
      if (this.isRunnable(t)) return t;
    }
  }

  /**
   * pending lists the tasks still due in the current round (saved with the
   * host and in images, so a reload or a restore continues the same order).
   * A task that has exited since the round began is left out: it can never
   * take its turn (take skips it), and an image may not schedule a zombie.
   * One that blocked or stopped stays: it may be woken before its turn.
   */
  pending(): readonly Task[] {
    return this.round.slice(this.at).filter((t) => !t.exited && this.host.tasks.has(t));
  }

  /** resumeRound restores a saved round. */
  resumeRound(tasks: readonly Task[]): void {
    this.round = [...tasks];
    this.at = 0;
  }

  /** run executes up to `steps` steps (only of tasks `only` accepts, if given; `each` sees every step); returns how many ran (fewer when everything is idle). */
  run(steps: number, only?: (t: Task) => boolean, each?: (s: { task: Task; result: StepResult }) => void): number {
    this.only = only ?? null;
    // the turns of the tasks `only` leaves out stay due, as they do in a container not loaded
    let kept: Task[] = [];
    if (only) {
      const pending = this.pending();
      kept = pending.filter((t) => !only(t));
      this.resumeRound(pending.filter(only));
    }
    try {
      let n = 0;
      for (; n < steps; n++) {
        const s = this.step();
        if (!s) break;
        each?.(s);
      }
      return n;
    } finally {
      this.only = null;
      if (kept.length > 0) this.resumeRound(this.inCreationOrder(kept, this.pending()));
    }
  }

  /** inCreationOrder merges two lists of tasks, each in creation order, into one, every task discovered first. */
  private inCreationOrder(a: readonly Task[], b: readonly Task[]): Task[] {
    this.discover();
    return this.merged(a, b);
  }

  /** runUntilIdle runs until every task is blocked or gone, at most `limit` steps. */
  runUntilIdle(limit = 1_000_000, only?: (t: Task) => boolean): number {
    return this.run(limit, only);
  }
}
