/**
 * setns(fd, nstype) with a pidfd (kernel/nsproxy.c, Linux 5.8+; setns(2)):
 * the caller joins namespaces of the process the pidfd refers to. The model
 * has pid and user namespaces; the other namespace types are accepted and
 * change nothing, as clone does with them.
 *
 * Order of the checks, as the kernel makes them:
 *  1. fd not open                                            EBADF
 *  2. fd not a pidfd; nstype 0 or with non-namespace bits    EINVAL
 *  3. the process has been reaped                            ESRCH
 *  4. no ptrace read access to it                            EPERM
 *  5. CLONE_NEWUSER (userns_install): the caller's own user namespace or a
 *     multithreaded caller EINVAL, no CAP_SYS_ADMIN in the target one EPERM;
 *     the caller then holds every capability there
 *  6. CLONE_NEWPID (pidns_install): CAP_SYS_ADMIN in the target namespace's
 *     owner and in the caller's (new) user namespace, else EPERM; the target
 *     must be the caller's active pid namespace or below it, else EINVAL
 *
 * Joining a pid namespace moves only the caller's future children
 * (pid_ns_for_children): the caller keeps its own pid. A child made there
 * cannot itself be made with CLONE_NEWPID (copy_pid_ns), so a restorer that
 * wants a new namespace below the joined one forks once more inside it.
 */
import { ALL_CAPS, CAP_SYS_ADMIN, CAP_SYS_PTRACE } from '../abi/capabilities.js';
import { CLONE_NEW_MASK, CLONE_NEWPID, CLONE_NEWUSER, hasFlag } from '../abi/clone-flags.js';
import { capableIn, type Credentials } from './credentials.js';
import { fail } from './kernel-error.js';
import type { Task } from './task.js';

/** CLONE_NEWTIME: a namespace flag setns takes that clone's low word cannot hold (it is CSIGNAL's 0x80). */
const CLONE_NEWTIME = 0x80;
const SETNS_FLAGS = (CLONE_NEW_MASK | CLONE_NEWTIME) >>> 0;

/** mayReadProcess is __ptrace_may_access in PTRACE_MODE_READ_REALCREDS: the same uid throughout, or CAP_SYS_PTRACE over it. */
function mayReadProcess(caller: Credentials, target: Credentials): boolean {
  const same = caller.uid === target.uid && caller.uid === target.euid && caller.uid === target.suid;
  return same || capableIn(caller, CAP_SYS_PTRACE, target.userNs);
}

export function sysSetns(task: Task, fd: number, nstype: number): number {
  const file = task.group.files.get(fd);
  if (!file) fail('EBADF', `fd ${fd} is not open`);
  if (file.kind !== 'pidfd') fail('EINVAL', `fd ${fd} is neither a pidfd nor a namespace file`);
  const flags = nstype >>> 0;
  if (flags === 0 || (flags & ~SETNS_FLAGS) !== 0) fail('EINVAL', `nstype 0x${flags.toString(16)} must name namespaces and nothing else`);
  const target = file.pid.task;
  if (!target) fail('ESRCH', 'the process the pidfd refers to has been reaped');
  if (!mayReadProcess(task.creds, target.creds)) fail('EPERM', 'no ptrace access to the process the pidfd refers to');

  let creds = task.creds;
  if (hasFlag(flags, CLONE_NEWUSER)) {
    const userNs = target.creds.userNs;
    if (userNs === creds.userNs) fail('EINVAL', 'setns into the user namespace the caller is already in');
    if (task.group.threadCount > 1) fail('EINVAL', 'a multithreaded process cannot change its user namespace');
    if (!capableIn(creds, CAP_SYS_ADMIN, userNs)) fail('EPERM', 'joining a user namespace needs CAP_SYS_ADMIN in it');
    creds = { ...creds, userNs, effective: ALL_CAPS, permitted: ALL_CAPS };
  }
  let pidNs = task.pidNsForChildren;
  if (hasFlag(flags, CLONE_NEWPID)) {
    const next = target.activeNs;
    if (!capableIn(creds, CAP_SYS_ADMIN, next.userNs) || !capableIn(creds, CAP_SYS_ADMIN, creds.userNs)) {
      fail('EPERM', 'joining a pid namespace needs CAP_SYS_ADMIN in its owner and in the caller\'s user namespace');
    }
    if (!task.activeNs.isAncestorOf(next)) fail('EINVAL', 'only the caller\'s own pid namespace or one below it can be joined');
    pidNs = next;
  }
  // commit_nsset: nothing above changed the task.
  task.creds = creds;
  task.pidNsForChildren = pidNs;
  return 0;
}
