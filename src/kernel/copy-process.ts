/**
 * copyProcess is the one fork path shared by fork, clone, eclone and clone3
 * (kernel/fork.c copy_process). The checks run in the kernel's order:
 * flag combinations, credentials and namespaces, copy_thread (stack and
 * TLS), then alloc_pid in the caller's personality. Nothing is committed to
 * the host until every fallible step has passed, so a failure leaves no task,
 * no namespace and no pid behind.
 */
import { ALL_CAPS, CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN } from '../abi/capabilities.js';
import {
  CLONE_CHILD_CLEARTID,
  CLONE_CHILD_SETTID,
  CLONE_FILES,
  CLONE_FS,
  CLONE_NEW_MASK,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWUSER,
  CLONE_PARENT,
  CLONE_PARENT_SETTID,
  CLONE_SETTLS,
  CLONE_SIGHAND,
  CLONE_THREAD,
  CLONE_VM,
  hasFlag,
} from '../abi/clone-flags.js';
import { MAX_PID_NS_LEVEL, MAX_USER_NS_LEVEL } from '../abi/limits.js';
import { errnoName } from '../abi/errno.js';
import { abiRegisters } from '../arch/reg-access.js';
import { capableIn, inUserns, UserNamespace, type Credentials } from './credentials.js';
import { fail } from './kernel-error.js';
import type { ForkedAddressSpace, MemoryMap } from './memory-map.js';
import type { HostState } from './host-state.js';
import { putPid, type Pid } from './pid.js';
import { PidNamespace } from './pid-namespace.js';
import { copyExtraState, NO_EXTRA, Task } from './task.js';
import { ThreadGroup } from './thread-group.js';
import { tryPutUserInt } from './uaccess.js';

/** CloneRequest is a decoded fork-type call: every syscall front end reduces to one. */
export interface CloneRequest {
  /** clone flags, low 32 bits (CSIGNAL bits are ignored here; see exitSignal) */
  readonly flags: number;
  readonly exitSignal: number;
  /**
   * With CLONE_PARENT, mainline gives the child its creator's leader's exit signal (clone3 must pass
   * exit_signal 0 then); 2.6.32, and so eclone, takes the signal from the flags.
   */
  readonly inheritExitSignalWithParent?: boolean;
  /** the child's stack pointer; 0 keeps the caller's */
  readonly stack: number;
  readonly tls: number;
  readonly parentTid: number;
  readonly childTid: number;
  /** alloc_pid in the caller's personality (eclone targets or clone3 set_tid) */
  readonly allocate: (ns: PidNamespace) => Pid;
  /** fallible steps after alloc_pid (pidfd, cgroup); throw to fail the call */
  readonly afterAlloc?: (child: Pid) => void;
}

/**
 * checkNewUser runs do_fork's CLONE_NEWUSER checks (docs/semantics.md §6.2):
 * not with CLONE_THREAD or CLONE_FS; on 2.6.32, CAP_SYS_ADMIN, CAP_SETUID and
 * CAP_SETGID needed (personality.ts newUserNeedsCaps; mainline's
 * create_user_ns asks for none). 2.6.32 asked capable() in the initial user
 * namespace; the model asks in the caller's own, so that containers can nest
 * user namespaces as kernels since 3.8 allow.
 */
export function checkNewUser(task: Task, flags: number): void {
  if (hasFlag(flags, CLONE_NEWUSER)) checkNewUserRequest(task, flags);
}

/**
 * The hot paths of copy_process are split this way throughout: a few
 * bytes that test the flags and are inlined into every fork, and the
 * checks for the flags that are set, called only then. A restorer's
 * eclone sets none of them, and a call that is not inlined costs tens of
 * instructions on each of its 100,000s of forks.
 */
function checkNewUserRequest(task: Task, flags: number): void {
  if (hasFlag(flags, CLONE_THREAD)) fail('EINVAL', 'CLONE_NEWUSER cannot be combined with CLONE_THREAD');
  if (hasFlag(flags, CLONE_FS)) fail('EINVAL', 'CLONE_NEWUSER cannot be combined with CLONE_FS');
  if (!task.activeNs.rules.newUserNeedsCaps) return;
  const ns = task.creds.userNs;
  for (const cap of [CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID]) {
    if (!capableIn(task.creds, cap, ns)) fail('EPERM', 'CLONE_NEWUSER needs CAP_SYS_ADMIN, CAP_SETUID and CAP_SETGID');
  }
}

/** the flags some flag-combination rule is about */
const RULED_FLAGS = CLONE_NEWNS | CLONE_THREAD | CLONE_SIGHAND | CLONE_PARENT;

/** checkFlagRules applies copy_process's flag-combination rules, in the kernel's order (docs/semantics.md §6.1). */
function checkFlagRules(parent: Task, flags: number): void {
  if ((flags & RULED_FLAGS) !== 0) checkFlagCombinations(parent, flags);
}

function checkFlagCombinations(parent: Task, flags: number): void {
  if (hasFlag(flags, CLONE_NEWNS) && hasFlag(flags, CLONE_FS)) fail('EINVAL', 'CLONE_NEWNS with CLONE_FS');
  if (hasFlag(flags, CLONE_THREAD) && !hasFlag(flags, CLONE_SIGHAND)) fail('EINVAL', 'CLONE_THREAD without CLONE_SIGHAND');
  if (hasFlag(flags, CLONE_SIGHAND) && !hasFlag(flags, CLONE_VM)) fail('EINVAL', 'CLONE_SIGHAND without CLONE_VM');
  if (hasFlag(flags, CLONE_PARENT) && parent.group.unkillable) {
    fail('EINVAL', 'CLONE_PARENT from a pid namespace init: its siblings would have no reaper');
  }
  if (hasFlag(flags, CLONE_THREAD)) {
    // mainline refuses a thread in a new pid or user namespace here, before any capability is asked
    // for (kernel/fork.c copy_process, v6.12); 2.6.32 only in copy_pid_ns, after CAP_SYS_ADMIN.
    if (hasFlag(flags, CLONE_NEWPID) && parent.activeNs.rules.threadNewPidCheckedFirst) fail('EINVAL', 'CLONE_NEWPID with CLONE_THREAD: a thread cannot be in a new pid namespace');
    // A thread must live in its group's pid namespace (mainline, after unshare(CLONE_NEWPID)).
    if (parent.pidNsForChildren !== parent.activeNs) fail('EINVAL', 'CLONE_THREAD after unshare(CLONE_NEWPID): the thread would be in another pid namespace');
  } else if (hasFlag(flags, CLONE_SIGHAND)) checkSharedHandlers(parent, flags);
}

/**
 * checkSharedHandlers refuses, on mainline, a new pid namespace init that
 * shares its creator's signal handlers (CLONE_SIGHAND without CLONE_THREAD):
 * when such an init dies, mainline sets SIGCHLD to ignored in those handlers
 * (kernel/pid_namespace.c zap_pid_ns_processes, v6.12), so its creator
 * would reap its children by itself from then on. The model has no signal
 * handlers, and says so rather than behave differently.
 */
function checkSharedHandlers(parent: Task, flags: number): void {
  const childNs = parent.pidNsForChildren;
  if (!childNs.rules.refuseSharedHandlerInit) return;
  // the child is an init: of a new namespace, or the first child after unshare(CLONE_NEWPID)
  if (hasFlag(flags, CLONE_NEWPID) || !childNs.childReaper) {
    fail('EOPNOTSUPP', `a pid namespace init sharing the signal handlers of its creator (pid ${parent.pid.nr}) is not modelled: the model has no signal handlers for its death to set SIGCHLD to ignored in`);
  }
}

/** newCredentials prepares the child's credentials: a new user namespace with full capabilities there, or the parent's. */
function newCredentials(parent: Task, flags: number): Credentials {
  return (flags & CLONE_NEWUSER) === 0 ? parent.creds : newUserCredentials(parent);
}

function newUserCredentials(parent: Task): Credentials {
  const c = parent.creds;
  if (c.userNs.level + 1 > MAX_USER_NS_LEVEL) fail('EUSERS', `user namespaces nest at most ${MAX_USER_NS_LEVEL} deep`);
  checkCreatorMapped(parent);
  const userNs = new UserNamespace(c.userNs, c.euid);
  return { uid: c.uid, euid: c.euid, suid: c.suid, userNs, effective: ALL_CAPS, permitted: ALL_CAPS };
}

/**
 * checkCreatorMapped is create_user_ns's rule that the creator's euid and
 * egid be mapped in its own user namespace (kernel/user_namespace.c, v6.12):
 * on mainline a user namespace below the initial one has no map in the
 * model, so nothing can be made from inside one (personality.ts unmappedUserNs).
 */
export function checkCreatorMapped(task: Task): void {
  if (task.activeNs.rules.unmappedUserNs && task.creds.userNs.parent !== null) {
    fail('EPERM', 'a user namespace cannot be made from inside one whose uid_map and gid_map were never written: the creator\'s ids have no mapping there');
  }
}

/** newPidNamespace is copy_namespaces + copy_pid_ns for CLONE_NEWPID; null when the child stays in the caller's. */
function newPidNamespace(parent: Task, flags: number, creds: Credentials): PidNamespace | null {
  return (flags & CLONE_NEW_MASK & ~CLONE_NEWUSER) === 0 ? null : newNamespaces(parent, flags, creds);
}

function newNamespaces(parent: Task, flags: number, creds: Credentials): PidNamespace | null {
  if (!capableIn(creds, CAP_SYS_ADMIN, creds.userNs)) fail('EPERM', 'creating a namespace needs CAP_SYS_ADMIN');
  if (!hasFlag(flags, CLONE_NEWPID)) return null; // other namespaces are not modelled
  const outer = parent.pidNsForChildren;
  const rules = outer.rules;
  // 2.6.32's copy_pid_ns rule; mainline refused CLONE_THREAD earlier and allows CLONE_PARENT (personality.ts)
  if (rules.newPidRefusesParent && hasFlag(flags, CLONE_THREAD | CLONE_PARENT)) fail('EINVAL', 'CLONE_NEWPID with CLONE_THREAD or CLONE_PARENT');
  if (outer !== parent.activeNs) fail('EINVAL', 'CLONE_NEWPID after unshare(CLONE_NEWPID)');
  checkPidNsOwner(outer, creds.userNs);
  if (outer.level + 1 > MAX_PID_NS_LEVEL) fail('ENOSPC', `pid namespaces nest at most ${MAX_PID_NS_LEVEL} deep`);
  return new PidNamespace(outer, creds.userNs, outer.childPidMax());
}

/**
 * checkPidNsOwner is mainline create_pid_namespace's first rule (kernel/pid_namespace.c,
 * v6.12): the new namespace's owner must be its parent's owner or below it
 * (personality.ts pidNsOwnerNested). Also for unshare(CLONE_NEWPID).
 */
export function checkPidNsOwner(outer: PidNamespace, owner: UserNamespace): void {
  if (outer.rules.pidNsOwnerNested && !inUserns(outer.userNs, owner)) {
    fail('EINVAL', 'a new pid namespace must be owned by its parent namespace\'s user namespace or one below it, and the caller\'s is not');
  }
}

/** RegScratch is a kernel buffer the size of one ABI's register sets, with its view: copy_thread edits the child's registers there. */
interface RegScratch {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
}

/** One scratch per register-set size: a view per child would be an object to collect for every fork. */
const scratches = new Map<number, RegScratch>();

function scratchFor(size: number): RegScratch {
  let s = scratches.get(size);
  if (!s) {
    const bytes = new Uint8Array(size);
    s = { bytes, dv: new DataView(bytes.buffer) };
    scratches.set(size, s);
  }
  return s;
}

/** copyExtra copies the per-ABI state beyond the registers (most ABIs have none and share the empty record). */
function copyExtra(parent: Task): Record<string, Uint8Array> {
  // no Object.entries of the empty record on every fork
  return parent.extra === NO_EXTRA ? NO_EXTRA : copyExtraState(Object.entries(parent.extra));
}

/**
 * copyThread builds the child's registers: the parent's at the syscall, a zero
 * result, the new stack and TLS (into `extra` where the ABI keeps it). They are
 * built in a scratch buffer, which the child's Task copies.
 */
function copyThread(parent: Task, req: CloneRequest, extra: Record<string, Uint8Array>): Uint8Array {
  const abi = parent.abi;
  const { bytes, dv } = scratchFor(parent.regs.length);
  bytes.set(parent.regs);
  abi.childReturn(dv);
  if (req.stack !== 0) abiRegisters(abi).sp.set(dv, req.stack);
  if (hasFlag(req.flags, CLONE_SETTLS)) {
    // i386 reads a struct user_desc from the caller's memory: a fault is EFAULT.
    const errno = abi.setTls(dv, extra, req.tls, (addr, len) => parent.mm.read(addr, len));
    if (errno !== 0) fail(errnoName(errno) ?? 'EINVAL', `CLONE_SETTLS value ${req.tls} refused by ${abi.name}`);
  }
  return bytes;
}

/** copyProcess creates the child described by `req`, or throws a KernelError having changed nothing. */
export function copyProcess(host: HostState, parent: Task, req: CloneRequest): Task {
  const flags = req.flags >>> 0;
  checkFlagRules(parent, flags);
  const creds = newCredentials(parent, flags);
  const newNs = newPidNamespace(parent, flags, creds);
  const extra = copyExtra(parent);
  const regs = copyThread(parent, req, extra);
  const childNs = newNs ?? parent.pidNsForChildren;
  const pid = req.allocate(childNs);
  try {
    req.afterAlloc?.(pid);
  } catch (e) {
    putPid(pid);
    throw e;
  }

  return commitChild(host, parent, req, pid, regs, extra, creds, newNs, childNs);
}

/**
 * commitChild is the second half of copy_process, after every fallible step:
 * the child is made and linked into its parent, group, namespace and the
 * host. The JIT compiles the two halves apart, which measured 236 fewer
 * instructions per eclone than one function.
 */
function commitChild(host: HostState, parent: Task, req: CloneRequest, pid: Pid, regs: Uint8Array, extra: Record<string, Uint8Array>, creds: Credentials, newNs: PidNamespace | null, childNs: PidNamespace): Task {
  const flags = req.flags >>> 0;
  if (creds !== parent.creds) host.commitUserNs(creds.userNs);
  if (newNs) host.commitPidNs(newNs);
  let mm: MemoryMap | ForkedAddressSpace;
  if (hasFlag(flags, CLONE_VM)) {
    mm = parent.mm;
    mm.users++;
  } else mm = parent.mm.fork();
  // FPU state is an immutable value (replaced, never written in place), so parent and child can share it.
  const child = new Task(pid, parent.abi, regs, parent.fpu, extra, mm, creds, parent.comm);
  pid.task = child;
  linkChild(host, parent, req, child, childNs);
  return child;
}

/**
 * linkChild puts a new child into its thread group, its parent's children,
 * its namespace and the host's task list. Apart from commitChild, so that
 * the JIT, which inlines a bounded amount of code into each function it
 * compiles, has room in commitChild to inline the Task constructor (a
 * constructor call it does not inline goes through V8's generic construct
 * stub).
 */
function linkChild(host: HostState, parent: Task, req: CloneRequest, child: Task, childNs: PidNamespace): void {
  const flags = req.flags >>> 0;
  const pid = child.pid;
  // Read once: each read inlines the getter, and what the JIT inlines is budgeted.
  const group = parent.group;
  if (hasFlag(flags, CLONE_THREAD)) {
    child.group = group;
    group.addThread(child);
    child.parent = parent.parent;
    child.exitSignal = -1;
  } else {
    const files = hasFlag(flags, CLONE_FILES) ? group.files : group.filesForFork();
    if (files) {
      if (files === group.files) files.users++;
      const own = new ThreadGroup(child, group.pgrp, group.session, files);
      child.group = own;
      own.addThread(child);
    } else {
      // No file table to give: the group is made, led by the child, when something first looks at it.
      child.group = group.fork();
    }
    child.parent = hasFlag(flags, CLONE_PARENT) ? parent.parent : parent;
    child.exitSignal = hasFlag(flags, CLONE_PARENT) && req.inheritExitSignalWithParent ? group.leader.exitSignal : req.exitSignal;
    child.parent?.addChild(child);
  }
  child.exePath = parent.exePath;
  if (pid.vnr === 1) {
    // is_child_reaper: the first task of a new namespace is its init.
    childNs.childReaper = child;
    child.group.unkillable = true;
  }
  host.tasks.add(child);
  if (hasFlag(flags, CLONE_PARENT_SETTID)) tryPutUserInt(parent, req.parentTid, pid.nrIn(parent.activeNs));
  if (hasFlag(flags, CLONE_CHILD_SETTID)) tryPutUserInt(child, req.childTid, pid.vnr);
  if (hasFlag(flags, CLONE_CHILD_CLEARTID)) child.clearChildTid = req.childTid;
}
