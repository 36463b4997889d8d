/**
 * PidNamespace: a level of pid numbering. Each has its own bitmap and
 * last_pid, an owning user namespace, a child reaper (its pid 1) and the
 * PIDNS_ADDING flag, cleared when the reaper dies so that later forks into it
 * fail with ENOMEM (eclone-spec.md §3.3, §3.4; DESIGN.md §2).
 */
import type { UserNamespace } from './credentials.js';
import type { Task } from './task.js';
import { DEFAULT_KERNEL, kernelRules, type KernelRules } from './personality.js';
import { PidBitmap } from './pid-bitmap.js';
import { PidTable } from './pid-table.js';

export class PidNamespace {
  /** id is assigned when the namespace is committed to a host; -1 until then. */
  id = -1;
  readonly level: number;
  /** chain[i] is this namespace's ancestor at level i; chain[level] is itself. */
  readonly chain: readonly PidNamespace[];
  readonly bitmap: PidBitmap;
  /** find_pid_ns: number in this namespace → struct pid */
  readonly pids: PidTable;
  /** last_pid: the idr cursor minus one on mainline, so -1 before any automatic allocation there (personality.ts) */
  lastPid: number;
  childReaper: Task | null = null;
  /** PIDNS_ADDING: cleared by disable_pid_allocation when the reaper dies */
  accepting = true;

  constructor(
    readonly parent: PidNamespace | null,
    /** the owning user namespace (set again by a restore, which creates namespaces before credentials) */
    public userNs: UserNamespace,
    readonly pidMax: number,
    /** the host's kernel personality: a child namespace has its parent's */
    readonly rules: KernelRules = parent ? parent.rules : kernelRules(DEFAULT_KERNEL),
  ) {
    this.lastPid = rules.initialLastPid;
    this.level = parent ? parent.level + 1 : 0;
    this.chain = parent ? [...parent.chain, this] : [this];
    this.bitmap = new PidBitmap(pidMax);
    this.pids = new PidTable(pidMax);
    // pid 0 is never handed out (pidmap_init / create_pid_namespace set bit 0)
    this.bitmap.set(0);
  }

  /** isAncestorOf reports whether this namespace is `other` or an ancestor of it. */
  isAncestorOf(other: PidNamespace): boolean {
    return other.level >= this.level && other.chain[this.level] === this;
  }
}
