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

  [Symbol.iterator](): IterableIterator<Task> {
    return new TaskListWalk(this);
  }

  /** toArray lists the tasks in order: one plain walk along the links (a walk by the iterator makes a result object per task until the JIT has compiled it). */
  toArray(): Task[] {
    const out: Task[] = new Array(this.count);
    let i = 0;
    // an unlisted task is unlinked from its neighbours, so the links from the head reach only listed ones
    for (let t = this.head; t; t = t.nextTask) out[i++] = t;
    return out;
  }

  /** first is the oldest listed task. */
  get first(): Task | null {
    return this.head;
  }

  /** last is the newest listed task. */
  get last(): Task | null {
    return this.tail;
  }
}

/**
 * TaskListWalk steps along a TaskList from the task it last returned, so a
 * task removed after being returned still leads on, and one appended during
 * the walk is reached. A class, not a generator: the scheduler walks 10,000s
 * of tasks every round, and a generator costs several times as much per task.
 */
class TaskListWalk implements IterableIterator<Task> {
  private last: Task | null = null;

  constructor(private readonly list: TaskList) {}

  next(): IteratorResult<Task> {
    let t = this.last ? this.last.nextTask : this.list.first;
    while (t && !this.list.has(t)) t = t.nextTask;
    if (!t) return { done: true, value: undefined };
    this.last = t;
    return { done: false, value: t };
  }

  [Symbol.iterator](): IterableIterator<Task> {
    return this;
  }
}
