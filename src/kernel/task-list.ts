/**
 * TaskList is the host's list of every task in creation order (the kernel's
 * init_task.tasks, walked by for_each_process). Like the kernel's list it is
 * intrusive: the links live in the tasks themselves, so adding the 100,000th
 * task costs the same as the first, with no table to grow and rehash.
 *
 * A task taken off the list keeps its forward link (as list_del_rcu does), so
 * a walk standing on it when it is removed still finds the rest; the walk
 * skips tasks no longer listed.
 */
import type { Task } from './task.js';

export class TaskList {
  private head: Task | null = null;
  private tail: Task | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** has reports whether `t` is on the list: the head, or a task with a predecessor. */
  has(t: Task): boolean {
    return t.prevTask !== null || this.head === t;
  }

  /** add appends `t`; a task already listed stays where it is. */
  add(t: Task): void {
    if (this.has(t)) return;
    t.prevTask = this.tail;
    t.nextTask = null;
    if (this.tail) this.tail.nextTask = t;
    else this.head = t;
    this.tail = t;
    this.count++;
  }

  /** delete unlinks `t`, keeping its forward link for a walk standing on it. */
  delete(t: Task): void {
    if (!this.has(t)) return;
    const { prevTask: prev, nextTask: next } = t;
    if (prev) prev.nextTask = next;
    else this.head = next;
    if (next) next.prevTask = prev;
    else this.tail = prev;
    t.prevTask = null;
    this.count--;
  }

  *[Symbol.iterator](): IterableIterator<Task> {
    for (let t = this.head; t; t = t.nextTask) if (this.has(t)) yield t;
  }
}
