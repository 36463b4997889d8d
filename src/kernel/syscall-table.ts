/**
 * The syscall table: every syscall the model offers, by name, with its
 * handler reading arguments through the caller's ABI. Each arch maps names to
 * its own numbers (src/arch); the per-arch number → handler tables are built
 * here from those maps.
 */
import type { Arch } from '../arch/arch.js';
import { perAbi } from '../arch/per-abi.js';
import type { SyscallName } from '../abi/syscall-names.js';
import { sysClone3 } from './clone3.js';
import { sysCapget, sysCapset, sysGetuid, sysSetuid } from './credentials-syscalls.js';
import { sysEclone } from './eclone.js';
import { exitGroup, exitStatus, exitThread } from './exit.js';
import { sysClose, sysOpen, sysRead, sysWrite } from './file-syscalls.js';
import { sysClone, sysFork } from './fork.js';
import type { HostState } from './host-state.js';
import { sysMmap, sysMunmap } from './memory-syscalls.js';
import { sysGetpgid, sysGetpgrp, sysGetsid, sysSetpgid, sysSetsid } from './sessions.js';
import { sysKill } from './signals.js';
import type { SyscallArgs } from './syscall-args.js';
import type { Task } from './task.js';
import { sysNanosleep } from './time-syscalls.js';
import { sysUnshare } from './unshare.js';
import { sysSetns } from './setns.js';
import { sysPidfdOpen } from './pidfd-open.js';
import { BLOCKED, sysWait4 } from './wait.js';

/** EXITED is what exit and exit_group return: the caller no longer exists to receive a result. */
export const EXITED = Symbol('exited');

export type SyscallResultValue = number | typeof BLOCKED | typeof EXITED;
export type Handler = (host: HostState, task: Task, a: SyscallArgs) => SyscallResultValue;

export const HANDLERS: Readonly<Record<SyscallName, Handler>> = {
  read: (_h, t, a) => sysRead(t, a.int(0), a.word(1), a.word(2)),
  write: (_h, t, a) => sysWrite(t, a.int(0), a.word(1), a.word(2)),
  open: (_h, t, a) => sysOpen(t, a.word(0), a.int(1)),
  close: (_h, t, a) => sysClose(t, a.int(0)),
  getpid: (_h, t) => t.group.tgid.nrIn(t.activeNs),
  // The parent is seen from the caller's namespace: 0 for a namespace's init.
  getppid: (_h, t) => t.group.leader.parent?.group.tgid.nrIn(t.activeNs) ?? 0,
  gettid: (_h, t) => t.pid.nrIn(t.activeNs),
  getpgid: (_h, t, a) => sysGetpgid(t, a.int(0)),
  getpgrp: (_h, t) => sysGetpgrp(t),
  getsid: (_h, t, a) => sysGetsid(t, a.int(0)),
  setsid: (_h, t) => sysSetsid(t),
  setpgid: (h, t, a) => sysSetpgid(h, t, a.int(0), a.int(1)),
  getuid: (_h, t) => sysGetuid(t),
  setuid: (_h, t, a) => sysSetuid(t, a.u32(0)),
  capget: (_h, t, a) => sysCapget(t, a.word(0), a.word(1)),
  capset: (_h, t, a) => sysCapset(t, a.word(0), a.word(1)),
  fork: (h, t) => sysFork(h, t),
  clone: (h, t, a) => sysClone(h, t, a),
  eclone: (h, t, a) => {
    // indexed, not destructured: destructuring allocates an iterator on every call
    const at = t.abi.syscall.ecloneArgs;
    return sysEclone(h, t, a.u32(at[0]), a.word(at[1]), a.int(at[2]), a.word(at[3]), a.word(t.abi.syscall.cloneTlsArg));
  },
  clone3: (h, t, a) => sysClone3(h, t, a.word(0), a.word(1)),
  unshare: (h, t, a) => sysUnshare(h, t, a.u32(0)),
  setns: (_h, t, a) => sysSetns(t, a.int(0), a.int(1)),
  pidfd_open: (_h, t, a) => sysPidfdOpen(t, a.int(0), a.u32(1)),
  exit: (h, t, a) => {
    exitThread(h, t, exitStatus(a.int(0)));
    return EXITED;
  },
  exit_group: (h, t, a) => {
    exitGroup(h, t.group, exitStatus(a.int(0)));
    return EXITED;
  },
  wait4: (h, t, a) => sysWait4(h, t, a.int(0), a.word(1), a.int(2), a.word(3)),
  kill: (h, t, a) => sysKill(h, t, a.int(0), a.int(1)),
  mmap: (_h, t, a) => sysMmap(t, a),
  munmap: (_h, t, a) => sysMunmap(t, a.word(0), a.word(1)),
  sched_yield: () => 0,
  nanosleep: (h, t, a) => sysNanosleep(h, t, a.word(0)),
};

/** SyscallEntry is one row of an ABI's table: the syscall a number selects and its handler. */
export interface SyscallEntry {
  readonly name: SyscallName;
  readonly handler: Handler;
}

/** tableOf is each ABI's table, indexed by syscall number (every number is below a few hundred). */
const tableOf = perAbi((abi): readonly (SyscallEntry | undefined)[] => {
  const rows = new Array<SyscallEntry | undefined>(Math.max(...Object.values(abi.syscalls)) + 1).fill(undefined);
  for (const [name, n] of Object.entries(abi.syscalls)) rows[n] = { name: name as SyscallName, handler: HANDLERS[name as SyscallName] };
  return rows;
});

/** syscallEntry returns what an ABI's number selects, or undefined (ENOSYS); the handler comes with it, so dispatch looks up nothing by name. */
export function syscallEntry(abi: Arch, nr: number): SyscallEntry | undefined {
  const table = tableOf(abi);
  return nr >= 0 && nr < table.length ? table[nr] : undefined;
}
