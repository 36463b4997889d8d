/**
 * SeqBook keeps each task's sequence number: its place in the host's
 * creation order, stored with the task, so that parts loaded separately
 * merge back into that order (the scheduler's round robin follows it).
 *
 * The host's task list only appends (a task is listed once, when it is
 * made) and removes (when it is reaped), so it is always in sequence order.
 * The book therefore keeps the tasks of the last load or save in that order
 * beside their numbers, and numbering the list again is a walk along both:
 * no table keyed by task, which for 100,000s of tasks would cost more than
 * the rest of a save.
 */
import type { Task } from '../kernel/task.js';

export class SeqBook {
  constructor(
    /** the tasks booked, in sequence order */
    private tasks: readonly Task[] = [],
    /** each one's number */
    private seqs: readonly number[] = [],
    /** the number the next new task takes */
    public next = 0,
  ) {}

  /**
   * number gives the tasks of `list` (the host's, in its order) their
   * numbers: a booked task its own, a new one the next; and books them,
   * forgetting the tasks no longer listed. `listed` says whether a task is
   * still on the list. Returns the tasks as listed, and their numbers.
   */
  number(list: Iterable<Task>, listed: (t: Task) => boolean): { tasks: readonly Task[]; seqs: readonly number[] } {
    const tasks: Task[] = [];
    const seqs: number[] = [];
    const booked = this.tasks;
    let k = 0;
    let all: Map<Task, number> | null = null;
    for (const t of list) {
      // the booked tasks reaped since are skipped; the others come in the same order
      while (k < booked.length && booked[k] !== t && !listed(booked[k]!)) k++;
      let seq: number | undefined;
      if (k < booked.length && booked[k] === t) seq = this.seqs[k++]!;
      else if (k < booked.length) seq = (all ??= this.entries()).get(t); // out of order: only a list not made as the book assumes
      seq ??= this.next++;
      tasks.push(t);
      seqs.push(seq);
    }
    this.tasks = tasks;
    this.seqs = seqs;
    return { tasks, seqs };
  }

  /** entries maps each booked task to its number. */
  entries(): Map<Task, number> {
    const out = new Map<Task, number>();
    this.tasks.forEach((t, i) => out.set(t, this.seqs[i]!));
    return out;
  }
}
