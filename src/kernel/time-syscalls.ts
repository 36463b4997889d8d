/**
 * nanosleep in ticks of the model clock (one tick is TICK_NS). A sleeping
 * task is blocked in a restartable state; the tick it wakes at is kept in
 * the task (the kernel's restart_block), so a restarted nanosleep finishes
 * the original sleep instead of starting a new one.
 */
import { readUnsigned } from '../arch/byte-order.js';
import type { HostState } from './host-state.js';
import { fail } from './kernel-error.js';
import type { Task } from './task.js';
import { copyFromUser, viewOf } from './uaccess.js';
import { BLOCKED } from './wait.js';

/** TICK_NS: one tick of the model clock is a millisecond. */
export const TICK_NS = 1_000_000;

export function sysNanosleep(host: HostState, task: Task, req: number): number | typeof BLOCKED {
  if (task.sleepUntil !== null) {
    if (host.clock < task.sleepUntil) return BLOCKED;
    task.sleepUntil = null;
    return 0;
  }
  const w = task.abi.wordSize;
  const dv = viewOf(copyFromUser(task, req, 2 * w));
  const le = task.abi.littleEndian;
  const sec = readUnsigned(dv, 0, w, le);
  const nsec = readUnsigned(dv, w, w, le);
  const signBit = 2 ** (8 * w - 1);
  if (sec >= signBit || nsec >= 1_000_000_000) fail('EINVAL', 'timespec out of range');
  const ticks = Math.ceil((sec * 1e9 + nsec) / TICK_NS);
  if (ticks === 0) return 0;
  task.sleepUntil = host.clock + ticks;
  return BLOCKED;
}
