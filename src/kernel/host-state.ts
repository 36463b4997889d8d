/**
 * HostState is what the kernel's functions need of a host: the root
 * namespaces, the task list and id counters for committing new namespaces.
 */
import type { Arch } from '../arch/arch.js';
import type { UserNamespace } from './credentials.js';
import type { KernelRules } from './personality.js';
import type { PidNamespace } from './pid-namespace.js';
import type { ThreadGroup } from './thread-group.js';
import type { TaskList } from './task-list.js';

export interface HostState {
  readonly arch: Arch;
  readonly pidMax: number;
  /** the kernel personality's rules (personality.ts) */
  readonly rules: KernelRules;
  readonly rootUserNs: UserNamespace;
  readonly rootPidNs: PidNamespace;
  /** every task not yet released (alive or zombie), in creation order */
  readonly tasks: TaskList;
  /** the model clock, in ticks */
  clock: number;
  /**
   * how many times the kernel has made a blocked or stopped task able to run
   * again on another's behalf (a wait4 waiter woken, a group continued) or a
   * blocked task re-entered a call: a scheduler that sets such tasks aside
   * looks at them again when this changes
   */
  wakeups: number;
  /**
   * signalFromKernel applies `sig`'s default action to `group` as a signal the kernel sends of its own
   * accord (SEND_SIG_PRIV). A method, not an import of signals.ts, because signal delivery is itself
   * what ends processes (exit.ts): exit code calls back up through the host, not in a circle of imports.
   */
  signalFromKernel(group: ThreadGroup, sig: number): void;
  commitPidNs(ns: PidNamespace): void;
  commitUserNs(ns: UserNamespace): void;
}
