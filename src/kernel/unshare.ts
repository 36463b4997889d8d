/**
 * unshare(2) for the namespaces the model has. CLONE_NEWPID does not move
 * the caller: it makes a namespace for its future children, whose first
 * child becomes its pid 1 (pid_namespaces(7)). A second unshare(CLONE_NEWPID)
 * before that is EINVAL (copy_pid_ns: the old namespace must be the active one).
 */
import { ALL_CAPS, CAP_SYS_ADMIN } from '../abi/capabilities.js';
import {
  CLONE_FILES,
  CLONE_FS,
  CLONE_NEW_MASK,
  CLONE_NEWPID,
  CLONE_NEWUSER,
  CLONE_SIGHAND,
  CLONE_SYSVSEM,
  CLONE_THREAD,
  CLONE_VM,
  hasFlag,
} from '../abi/clone-flags.js';
import { MAX_PID_NS_LEVEL, MAX_USER_NS_LEVEL } from '../abi/limits.js';
import { capableIn, UserNamespace } from './credentials.js';
import type { HostState } from './host-state.js';
import { fail } from './kernel-error.js';
import { PidNamespace } from './pid-namespace.js';
import { threadGroupEmpty, type Task } from './task.js';
import { checkPidNsOwner } from './copy-process.js';

const UNSHARE_VALID = (CLONE_THREAD | CLONE_FS | CLONE_NEW_MASK | CLONE_SIGHAND | CLONE_VM | CLONE_FILES | CLONE_SYSVSEM) >>> 0;

export function sysUnshare(host: HostState, task: Task, flags: number): number {
  if (((flags >>> 0) & ~UNSHARE_VALID) !== 0) fail('EINVAL', `unshare flags 0x${(flags >>> 0).toString(16)} has unknown bits`);
  // Unsharing the thread group, signal handlers or address space needs a caller alone in its group:
  // thread_group_empty (kernel/fork.c check_unshare_flags), false for a thread whose leader is a zombie.
  const multiThreaded = !threadGroupEmpty(task);
  if (hasFlag(flags, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_NEWUSER) && multiThreaded) {
    fail('EINVAL', 'a multithreaded process cannot unshare CLONE_THREAD, CLONE_SIGHAND, CLONE_VM or CLONE_NEWUSER');
  }
  let creds = task.creds;
  let newUser: UserNamespace | null = null;
  if (hasFlag(flags, CLONE_NEWUSER)) {
    if (creds.userNs.level + 1 > MAX_USER_NS_LEVEL) fail('EUSERS', `user namespaces nest at most ${MAX_USER_NS_LEVEL} deep`);
    newUser = new UserNamespace(creds.userNs, creds.euid);
    creds = { ...creds, userNs: newUser, effective: ALL_CAPS, permitted: ALL_CAPS };
  }
  let newPid: PidNamespace | null = null;
  if ((flags & CLONE_NEW_MASK & ~CLONE_NEWUSER) !== 0) {
    if (!capableIn(creds, CAP_SYS_ADMIN, creds.userNs)) fail('EPERM', 'unsharing a namespace needs CAP_SYS_ADMIN');
    if (hasFlag(flags, CLONE_NEWPID)) {
      if (task.pidNsForChildren !== task.activeNs) fail('EINVAL', 'this process has already unshared its pid namespace');
      checkPidNsOwner(task.activeNs, creds.userNs);
      if (task.activeNs.level + 1 > MAX_PID_NS_LEVEL) fail('ENOSPC', `pid namespaces nest at most ${MAX_PID_NS_LEVEL} deep`);
      newPid = new PidNamespace(task.activeNs, creds.userNs, task.activeNs.pidMax);
    }
  }
  if (newUser) {
    host.commitUserNs(newUser);
    task.creds = creds;
  }
  if (newPid) {
    host.commitPidNs(newPid);
    task.pidNsForChildren = newPid;
  }
  return 0;
}
