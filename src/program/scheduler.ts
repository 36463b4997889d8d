/**
 * Scheduler runs the host's programs deterministically: round robin in the
 * order tasks were created, one statement per step, one clock tick per
 * step. Creation order, not pid order, so that a restored container (whose
 * host-level pids the target chooses) is scheduled as it was. Sleepers wake when the clock reaches their tick; when nothing can
 * run but something sleeps, the clock jumps to the first wake-up.
 */
import type { Task } from '../kernel/task.js';
import type { Compiled } from './compile.js';
import { step, type InterpreterHost, type StepResult } from './interpreter.js';

export class Scheduler {
  /** the tasks due this round; those before `at` have had their turn (an index, not shift(): rounds are 10,000s long) */
  private round: Task[] = [];
  private at = 0;

  constructor(
    private readonly host: InterpreterHost,
    private readonly programs: ReadonlyMap<string, Compiled>,
  ) {}

  /** only restricts scheduling to some tasks (one container); the others stay where they are */
  private only: ((t: Task) => boolean) | null = null;

  private isRunnable(t: Task): boolean {
    return t.exePath !== null && this.programs.has(t.exePath) && this.host.tasks.has(t) && t.state === 'runnable' && (this.only === null || this.only(t));
  }

  private wakeSleepers(): void {
    for (const t of this.host.tasks) if (t.blockedIn === 'nanosleep' && t.sleepUntil !== null && t.sleepUntil <= this.host.clock) t.blockedIn = null;
  }

  private nextRound(): Task[] {
    return [...this.host.tasks].filter((t) => this.isRunnable(t));
  }

  /** step runs one statement of the next runnable task; null when every task is blocked or gone. */
  step(): { task: Task; result: StepResult } | null {
    let task = this.take();
    if (!task) {
      const sleepers = [...this.host.tasks].filter((t) => t.blockedIn === 'nanosleep' && t.sleepUntil !== null && this.programs.has(t.exePath ?? ''));
      if (sleepers.length === 0) return null;
      this.host.clock = Math.max(this.host.clock, sleepers.reduce((m, t) => Math.min(m, t.sleepUntil!), Infinity));
      this.wakeSleepers();
      task = this.take();
      if (!task) return null;
    }
    this.host.clock++;
    return { task, result: step(this.host, task, this.programs.get(task.exePath!)!) };
  }

  private take(): Task | null {
    for (;;) {
      if (this.at === this.round.length) {
        // A task runs at most once a round, so waking sleepers at round boundaries is as good as every tick.
        this.wakeSleepers();
        this.round = this.nextRound();
        this.at = 0;
        if (this.round.length === 0) return null;
      }
      const t = this.round[this.at++]!;
      if (this.isRunnable(t)) return t;
    }
  }

  /** pending lists the tasks still due in the current round (saved with the host, so a reload continues the same order). */
  pending(): readonly Task[] {
    return this.round.slice(this.at);
  }

  /** resumeRound restores a saved round. */
  resumeRound(tasks: readonly Task[]): void {
    this.round = [...tasks];
    this.at = 0;
  }

  /** run executes up to `steps` steps (only of tasks `only` accepts, if given); returns how many ran (fewer when everything is idle). */
  run(steps: number, only?: (t: Task) => boolean): number {
    this.only = only ?? null;
    if (only) this.resumeRound(this.pending().filter(only));
    try {
      let n = 0;
      while (n < steps && this.step()) n++;
      return n;
    } finally {
      this.only = null;
    }
  }

  /** runUntilIdle runs until every task is blocked or gone, at most `limit` steps. */
  runUntilIdle(limit = 1_000_000, only?: (t: Task) => boolean): number {
    return this.run(limit, only);
  }
}
