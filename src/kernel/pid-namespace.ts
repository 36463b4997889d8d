/**
 * PidNamespace: a level of pid numbering. Each has its own bitmap and
 * last_pid, an owning user namespace, a child reaper (its pid 1) and the
 * PIDNS_ADDING flag, cleared when the reaper dies so that later forks into it
 * fail with ENOMEM (docs/semantics.md §2.1, §3.4, §7.4).
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
    /** pid_max: the host's for every namespace on 2.6.32; each namespace's own on mainline, where /proc/sys/kernel/pid_max changes it */
    public pidMax: number,
    /** the host's kernel personality: a child namespace has its parent's */
    readonly rules: KernelRules = parent ? parent.rules : kernelRules(DEFAULT_KERNEL),
    /** the highest pid_max the namespace may be given (PID_MAX_LIMIT on mainline, its pid_max on 2.6.32): what its bitmap holds */
    readonly capacity: number = parent ? parent.capacity : pidMax,
  ) {
    this.lastPid = rules.initialLastPid;
    this.level = parent ? parent.level + 1 : 0;
    this.chain = parent ? [...parent.chain, this] : [this];
    this.bitmap = new PidBitmap(capacity);
    this.pids = new PidTable(capacity);
    // pid 0 is never handed out (pidmap_init / create_pid_namespace set bit 0)
    this.bitmap.set(0);
  }

  /**
   * childPidMax is the pid_max a namespace made below this one starts with: on mainline
   * PID_MAX_LIMIT, whatever this one's is (kernel/pid_namespace.c create_pid_namespace, v6.14+);
   * on 2.6.32 the one global pid_max.
   */
  childPidMax(): number {
    return this.rules.perNsPidMax ? this.capacity : this.pidMax;
  }

  /** isAncestorOf reports whether this namespace is `other` or an ancestor of it. */
  isAncestorOf(other: PidNamespace): boolean {
    return other.level >= this.level && other.chain[this.level] === this;
  }
}
