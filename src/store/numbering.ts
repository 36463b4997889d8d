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

export class Numbering {
  readonly userNs = new Indexer<UserNamespace>();
  readonly pidNs = new Indexer<PidNamespace>();
  readonly pids = new Indexer<Pid>();
  readonly tasks = new Indexer<Task>();
  /** groups, and what forks left of groups never looked at */
  readonly groups = new Indexer<ThreadGroup | ForkedGroup>();
  readonly files = new Indexer<FileTable>();
  readonly consoles = new Indexer<Console>();
  /** address spaces, and what forks left of address spaces never used */
  readonly mms = new Indexer<MemoryMap | ForkedAddressSpace>();
  readonly pages = new Indexer<Page>();
  readonly fpus = new Indexer<Uint8Array>();
}
