/**
 * Which task ABI may run on which host arch (docs/semantics.md §15.7):
 * natively on its own arch, as a compat task on the 64-bit arch of its
 * family, and nowhere else.
 */
import type { Arch } from './arch.js';

/** Placement says how a task of one ABI would run on a host, or why it cannot. */
export type Placement = { ok: true; mode: 'native' | 'compat' } | { ok: false; reason: string };

/** placement decides whether tasks of ABI `task` can run on a host of arch `host`. */
export function placement(task: Arch, host: Arch): Placement {
  if (task.name === host.name) return { ok: true, mode: 'native' };
  if (host.compat === task.name) return { ok: true, mode: 'compat' };
  if (task.family !== host.family) {
    return { ok: false, reason: `${task.name} and ${host.name} are different instruction sets (${task.family} vs ${host.family}): program counters, code and byte order mean nothing on the other` };
  }
  if (task.wordSize > host.wordSize) {
    return { ok: false, reason: `${task.name} is a 64-bit ABI and ${host.name} is 32-bit: registers, addresses and the 64-bit mode cannot be represented` };
  }
  return { ok: false, reason: `${host.name} does not run ${task.name} tasks` };
}
