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
 *  4. no ptrace read access to it (a zombie's too: the flag   EPERM
 *     its memory had at exit decides whether it is dumpable)
 *  5. it has exited (a zombie has no nsproxy any more)       ESRCH
 *  6. CLONE_NEWUSER (userns_install): the caller's own user namespace or a
 *     caller not alone in its thread group EINVAL, no CAP_SYS_ADMIN in the
 *     target one EPERM; the new credentials then hold every capability there
 *  7. CLONE_NEWPID (pidns_install): CAP_SYS_ADMIN, held by the caller's
 *     credentials as they are at the call, in the target namespace's owner
 *     and in the new credentials' user namespace, else EPERM; the target
 *     must be the caller's active pid namespace or below it, else EINVAL
 *
 * (kernel/nsproxy.c validate_nsset, kernel/user_namespace.c userns_install,
 * kernel/pid_namespace.c pidns_install, v6.12; setns postdates 2.6.32, and
 * both personalities have mainline's.)
 *
 * Joining a pid namespace moves only the caller's future children
 * (pid_ns_for_children): the caller keeps its own pid. A child made there
 * cannot itself be made with CLONE_NEWPID (copy_pid_ns), so a restorer that
 * wants a new namespace below the joined one forks once more inside it.
 */
import { ALL_CAPS, CAP_SYS_ADMIN, CAP_SYS_PTRACE, isSubset } from '../abi/capabilities.js';
import { CLONE_NEW_MASK, CLONE_NEWPID, CLONE_NEWUSER, hasFlag } from '../abi/clone-flags.js';
import { capableIn, type Credentials, type UserNamespace } from './credentials.js';
import { fail } from './kernel-error.js';
import { threadGroupEmpty, type Task } from './task.js';

/** CLONE_NEWTIME: a namespace flag setns takes that clone's low word cannot hold (it is CSIGNAL's 0x80). */
const CLONE_NEWTIME = 0x80;
const SETNS_FLAGS = (CLONE_NEW_MASK | CLONE_NEWTIME) >>> 0;

/**
 * mayReadProcess is ptrace_may_access in PTRACE_MODE_READ_REALCREDS
 * (kernel/ptrace.c __ptrace_may_access, security/commoncap.c
 * cap_ptrace_access_check, v6.12): a thread of the caller's own group; else
 * the same uid throughout or CAP_SYS_PTRACE over the target, and then
 * either the same user namespace with the target's permitted capabilities
 * within the caller's, or CAP_SYS_PTRACE in the target's user namespace. A
 * caller in a child user namespace so cannot read a process of the parent's,
 * whatever the uids. A target made not dumpable by a credential change (setuid) also needs
 * CAP_SYS_PTRACE, a zombie too (task_still_dumpable, mainline commit 31e62c2ebbfd, 6.18.y stable).
 */
function mayReadProcess(caller: Task, target: Task): boolean {
  if (caller.group === target.group) return true;
  const c = caller.creds;
  const t = target.creds;
  const ptraceCap = capableIn(c, CAP_SYS_PTRACE, t.userNs);
  const sameUids = c.uid === t.uid && c.uid === t.euid && c.uid === t.suid;
  if (!sameUids && !ptraceCap) return false;
  // A live target that is not dumpable needs CAP_SYS_PTRACE over its mm's user namespace: the one
  // the mm was made in, which a fork keeps (kernel/fork.c dup_mm) and only exec renews. The model has
  // no exec, so every mm's is the initial user namespace. An exited target has no mm left: the flag
  // its mm had at exit_mm (user_dumpable) decides, and then CAP_SYS_PTRACE in the initial user
  // namespace (task_still_dumpable, docs/semantics.md §13.2): the same test in the model.
  if (target.nondumpable && !capableIn(c, CAP_SYS_PTRACE, initialUserNs(t.userNs))) return false;
  return (c.userNs === t.userNs && isSubset(t.permitted, c.permitted)) || ptraceCap;
}

/** initialUserNs is the root of the user namespace tree `ns` is in. */
function initialUserNs(ns: UserNamespace): UserNamespace {
  let root = ns;
  while (root.parent) root = root.parent;
  return root;
}

export function sysSetns(task: Task, fd: number, nstype: number): number {
  const file = task.group.files.get(fd);
  if (!file) fail('EBADF', `fd ${fd} is not open`);
  if (file.kind !== 'pidfd') fail('EINVAL', `fd ${fd} is neither a pidfd nor a namespace file`);
  const flags = nstype >>> 0;
  if (flags === 0 || (flags & ~SETNS_FLAGS) !== 0) fail('EINVAL', `nstype 0x${flags.toString(16)} must name namespaces and nothing else`);
  const target = file.pid.task;
  if (!target) fail('ESRCH', 'the process the pidfd refers to has been reaped');
  if (!mayReadProcess(task, target)) fail('EPERM', 'no ptrace access to the process the pidfd refers to');
  if (target.exited) fail('ESRCH', 'the process the pidfd refers to has exited: a zombie has no namespaces left to join');

  // ns_capable() asks the caller's credentials as they are at the call: those userns_install
  // prepares take effect only at commit_nsset.
  const current = task.creds;
  let creds = current;
  if (hasFlag(flags, CLONE_NEWUSER)) {
    const userNs = target.creds.userNs;
    if (userNs === creds.userNs) fail('EINVAL', 'setns into the user namespace the caller is already in');
    if (!threadGroupEmpty(task)) fail('EINVAL', 'a process with other threads, or a thread whose leader has exited, cannot change its user namespace');
    if (!capableIn(current, CAP_SYS_ADMIN, userNs)) fail('EPERM', 'joining a user namespace needs CAP_SYS_ADMIN in it');
    creds = { ...creds, userNs, effective: ALL_CAPS, permitted: ALL_CAPS };
  }
  let pidNs = task.pidNsForChildren;
  if (hasFlag(flags, CLONE_NEWPID)) {
    const next = target.activeNs;
    if (!capableIn(current, CAP_SYS_ADMIN, next.userNs) || !capableIn(current, CAP_SYS_ADMIN, creds.userNs)) {
      fail('EPERM', 'joining a pid namespace needs CAP_SYS_ADMIN in its owner and in the caller\'s user namespace');
    }
    if (!task.activeNs.isAncestorOf(next)) fail('EINVAL', 'only the caller\'s own pid namespace or one below it can be joined');
    pidNs = next;
  }
  // commit_nsset: nothing above changed the task.
  task.creds = creds;
  task.pidNsForChildren = pidNs;
  // commit_creds: capabilities gained in a user namespace the caller does not own make it not dumpable
  if (creds !== current && !ownsOnTheWay(current, creds.userNs)) task.mm.nondumpable = true;
  return 0;
}

/**
 * ownsOnTheWay is kernel/cred.c cred_cap_issubset(old, new) for credentials in another user
 * namespace: the new capabilities count as a subset of the old when the user namespace below the
 * old one on the way to the new one is owned by the old euid. Otherwise commit_creds sets the
 * address space not dumpable (docs/semantics.md §12).
 */
function ownsOnTheWay(old: Credentials, target: UserNamespace): boolean {
  for (let ns: UserNamespace | null = target; ns?.parent; ns = ns.parent) {
    if (ns.parent === old.userNs && ns.ownerUid === old.euid) return true;
  }
  return false;
}
