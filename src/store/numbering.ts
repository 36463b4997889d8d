/**
 * Numbering gives each object a part of a host refers to an index, in the
 * order first met, one sequence per kind: how a stored part keeps an object
 * shared in memory (a page frame, a pid, a file table) as one record that
 * others refer to by index.
 */
import { Indexer } from '../codec/indexer.js';
import type { Console } from '../kernel/console.js';
import type { UserNamespace } from '../kernel/credentials.js';
import type { FileTable } from '../kernel/files.js';
import type { ForkedAddressSpace, MemoryMap, Page } from '../kernel/memory-map.js';
import type { Pid } from '../kernel/pid.js';
import type { PidNamespace } from '../kernel/pid-namespace.js';
import type { Task } from '../kernel/task.js';
import type { ForkedGroup, ThreadGroup } from '../kernel/thread-group.js';

const PAGE_SHIFT = 15;
const PAGE = 1 << PAGE_SHIFT;

/**
 * PidIndexer is an Indexer for pids and tasks, found by their root-level
 * number in pages of slots rather than by a table keyed by object: a part
 * numbers 100,000s of each, and hashing an object costs more than the rest
 * of its record. Two objects of one number (a pidfd's pid, freed and its
 * number handed out again) are told apart: the second is kept in a table.
 */
export class PidIndexer<T> {
  readonly items: T[] = [];
  /** per number, its item's index + 1 (0: none) */
  private readonly pages: Array<Int32Array | undefined> = [];
  private readonly others = new Map<T, number>();

  constructor(private readonly nrOf: (item: T) => number) {}

  get(item: T): number | undefined {
    const nr = this.nrOf(item);
    const i = (this.pages[nr >>> PAGE_SHIFT]?.[nr & (PAGE - 1)] ?? 0) - 1;
    if (i >= 0 && this.items[i] === item) return i;
    return this.others.size === 0 ? undefined : this.others.get(item);
  }

  has(item: T): boolean {
    return this.get(item) !== undefined;
  }

  of(item: T): number {
    const i = this.get(item);
    return i !== undefined ? i : this.add(item);
  }

  /** add numbers an item the caller knows is not numbered yet (it looked, or meets each item once): no second lookup. */
  add(item: T): number {
    const i = this.items.push(item) - 1;
    const nr = this.nrOf(item);
    const page = (this.pages[nr >>> PAGE_SHIFT] ??= new Int32Array(PAGE));
    if (page[nr & (PAGE - 1)] === 0) page[nr & (PAGE - 1)] = i + 1;
    else this.others.set(item, i);
    return i;
  }
}

export class Numbering {
  readonly userNs = new Indexer<UserNamespace>();
  readonly pidNs = new Indexer<PidNamespace>();
  readonly pids = new PidIndexer<Pid>((p) => p.nr);
  readonly tasks = new PidIndexer<Task>((t) => t.pid.nr);
  /** groups, and what forks left of groups never looked at */
  readonly groups = new Indexer<ThreadGroup | ForkedGroup>();
  readonly files = new Indexer<FileTable>();
  readonly consoles = new Indexer<Console>();
  /** address spaces, and what forks left of address spaces never used */
  readonly mms = new Indexer<MemoryMap | ForkedAddressSpace>();
  readonly pages = new Indexer<Page>();
  readonly fpus = new Indexer<Uint8Array>();
}
