/**
 * Numbering gives each object a part of a host refers to an index, in the
 * order first met, one sequence per kind: how a stored part keeps an object
 * shared in memory (a page frame, a pid, a file table) as one record that
 * others refer to by index.
 */
import type { Console } from '../kernel/console.js';
import type { UserNamespace } from '../kernel/credentials.js';
import type { FileTable } from '../kernel/files.js';
import type { MemoryMap, Page } from '../kernel/memory-map.js';
import type { Pid } from '../kernel/pid.js';
import type { PidNamespace } from '../kernel/pid-namespace.js';
import type { Task } from '../kernel/task.js';
import type { ThreadGroup } from '../kernel/thread-group.js';

/** Sequence numbers distinct objects of one kind. */
export class Sequence<T> {
  readonly items: T[] = [];
  private readonly index = new Map<T, number>();

  /** of returns the item's index, adding it if it is new. */
  of(item: T): number {
    let i = this.index.get(item);
    if (i === undefined) {
      i = this.items.push(item) - 1;
      this.index.set(item, i);
    }
    return i;
  }

  has(item: T): boolean {
    return this.index.has(item);
  }
}

export class Numbering {
  readonly userNs = new Sequence<UserNamespace>();
  readonly pidNs = new Sequence<PidNamespace>();
  readonly pids = new Sequence<Pid>();
  readonly tasks = new Sequence<Task>();
  readonly groups = new Sequence<ThreadGroup>();
  readonly files = new Sequence<FileTable>();
  readonly consoles = new Sequence<Console>();
  readonly mms = new Sequence<MemoryMap>();
  readonly pages = new Sequence<Page>();
  readonly fpus = new Sequence<Uint8Array>();
}
