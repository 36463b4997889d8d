/**
 * The syscall path: the only place a task enters the kernel. The trap is
 * applied to the task's registers through its ABI, the number selects a
 * handler from that ABI's table, arguments come from registers and memory,
 * and the result goes back through the ABI's return convention. A
 * KernelError becomes an errno here and nowhere else.
 */
import { ERRNO } from '../abi/errno.js';
import type { HostState } from './host-state.js';
import { isKernelError } from './kernel-error.js';
import { syscallArgs } from './syscall-args.js';
import { EXITED, syscallEntry, type SyscallResultValue } from './syscall-table.js';
import type { Task } from './task.js';
import { BLOCKED } from './wait.js';

/** enterKernel executes the syscall whose number and arguments are in `task`'s registers. */
export function enterKernel(host: HostState, task: Task): void {
  const abi = task.abi;
  const dv = task.dv;
  abi.enterSyscall(dv, task.extra);
  const entry = syscallEntry(abi, abi.syscallNumber(dv, task.extra));
  const name = entry?.name;
  let result: SyscallResultValue;
  if (!entry || (abi !== host.arch && host.arch.compatMissing?.includes(entry.name))) {
    result = -ERRNO.ENOSYS;
  } else {
    if (task.blockedIn !== null) {
      // a blocked task re-entering its call (resumed from outside the scheduler) may come out runnable
      task.blockedIn = null;
      host.wakeups++;
    }
    try {
      // Through call(): V8 then makes a plain call rather than one that
      // assumes the last handler again, whose code would be thrown away
      // whenever the next call is to another syscall.
      result = entry.handler.call(undefined, host, task, syscallArgs(abi, dv));
    } catch (e) {
      if (!isKernelError(e)) throw e;
      result = -ERRNO[e.errno];
    }
  }
  if (result === EXITED) return;
  if (result === BLOCKED) {
    // Sleep in a restartable state: the trap re-executes with the original arguments.
    abi.restartSyscall(dv, task.extra);
    task.blockedIn = name ?? null;
    return;
  }
  abi.setReturn(dv, result);
}
