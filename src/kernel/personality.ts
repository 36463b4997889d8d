/**
 * Kernel personalities: the model kernel follows one of two kernels.
 *
 * - `mainline`: Linux 6.x rules everywhere, with eclone added on top exactly
 *   as the v13 patchset (Nov 2009) defines it, as if the patch were carried
 *   forward: eclone's own checks (targets, EBUSY, its pid < 300 rule) are the
 *   patch's, everything around them is mainline's.
 * - `2.6.32`: the kernel the eclone patchset was written against.
 *
 * Where the two differ, RULES below is the one table: each rule, what each
 * personality does and the upstream source of each. The kernel reads a
 * host's rules as plain fields of one KernelRules object, held by every pid
 * namespace (`ns.rules`): a field load, never a string comparison, on the
 * paths a restorer's eclone takes. Rules the two kernels share are not here.
 */
import type { ErrnoName } from '../abi/errno.js';

export type KernelName = 'mainline' | '2.6.32';
export const KERNEL_NAMES: readonly KernelName[] = ['mainline', '2.6.32'];
export const DEFAULT_KERNEL: KernelName = 'mainline';
/** the personality of a host file or image that records none: everything ckpt wrote before personalities existed */
export const LEGACY_KERNEL: KernelName = '2.6.32';

/** KernelRules: one field per row of RULES, the value for one personality. */
export interface KernelRules {
  readonly name: KernelName;
  /** class 1: CLONE_NEWPID with CLONE_PARENT is refused (EINVAL) */
  readonly newPidRefusesParent: boolean;
  /** class 6: CLONE_THREAD with CLONE_NEWPID is refused among the flag checks, before any capability check */
  readonly threadNewPidCheckedFirst: boolean;
  /** class 2: automatic pids are taken as idr_alloc_cyclic does (wrap to 1 while the cursor is at or below 300) */
  readonly cyclicIdr: boolean;
  /** class 2: the errno when no automatic pid is free (fork, clone, eclone's auto levels) */
  readonly autoExhausted: ErrnoName;
  /** class 3: last_pid of a namespace before any automatic allocation (ns_last_pid reads the idr cursor - 1) */
  readonly initialLastPid: number;
  /** class 5: a dead namespace init stays unreapable until every other pid of its namespace is freed */
  readonly initWaitsForNamespace: boolean;
  /** class 7: a new pid namespace's owner must be its parent namespace's owner or below it (EINVAL) */
  readonly pidNsOwnerNested: boolean;
  /** class 9: a process's wait status is the code of its last thread to exit, not its leader's */
  readonly lastThreadExitCode: boolean;
  /** class 10: CLONE_NEWUSER needs CAP_SYS_ADMIN, CAP_SETUID and CAP_SETGID */
  readonly newUserNeedsCaps: boolean;
  /** class 15: the errno of pidfd_open for a pid that is not a thread-group leader */
  readonly pidfdNonLeader: ErrnoName;
  /** class 16: a new pid namespace init sharing its creator's signal handlers (CLONE_SIGHAND without CLONE_THREAD) is refused */
  readonly refuseSharedHandlerInit: boolean;
}

type RuleKey = Exclude<keyof KernelRules, 'name'>;

/** Behaviour is what one personality does for a rule, and where that comes from. */
interface Behaviour<V> {
  readonly value: V;
  readonly does: string;
  readonly source: string;
}

/** RuleRow is one row of the table. */
export interface RuleRow<K extends RuleKey = RuleKey> {
  readonly rule: K;
  readonly summary: string;
  readonly mainline: Behaviour<KernelRules[K]>;
  readonly '2.6.32': Behaviour<KernelRules[K]>;
}

/** row keeps each row's two values typed as its rule's field. */
function row<K extends RuleKey>(r: RuleRow<K>): RuleRow<K> {
  return r;
}

export const RULES: readonly RuleRow[] = [
  row({
    rule: 'newPidRefusesParent',
    summary: 'clone with CLONE_NEWPID | CLONE_PARENT from a process that is not an init',
    mainline: { value: false, does: 'allowed: the new init is a sibling of its creator', source: 'kernel/nsproxy.c, kernel/pid_namespace.c copy_pid_ns (v6.12): no CLONE_PARENT rule' },
    '2.6.32': { value: true, does: 'EINVAL', source: 'kernel/pid_namespace.c copy_pid_ns (v2.6.32): CLONE_THREAD | CLONE_PARENT is EINVAL' },
  }),
  row({
    rule: 'threadNewPidCheckedFirst',
    summary: 'CLONE_NEWPID | CLONE_THREAD: where the refusal comes in the order of checks',
    mainline: { value: true, does: 'EINVAL among copy_process\'s first flag checks, before any capability check', source: 'kernel/fork.c copy_process (v6.12): CLONE_THREAD with CLONE_NEWUSER | CLONE_NEWPID' },
    '2.6.32': { value: false, does: 'EINVAL in copy_pid_ns, after create_new_namespaces\'s CAP_SYS_ADMIN check (EPERM first)', source: 'kernel/nsproxy.c copy_namespaces, kernel/pid_namespace.c copy_pid_ns (v2.6.32)' },
  }),
  row({
    rule: 'cyclicIdr',
    summary: 'automatic pid allocation at the wrap',
    mainline: {
      value: true,
      does: 'idr_alloc_cyclic from last_pid + 1 to pid_max, then from the lowest pid up to pid_max (the lowest is 300 when the cursor is above 300, else 1)',
      source: 'kernel/pid.c alloc_pid, lib/idr.c idr_alloc_cyclic (v6.12)',
    },
    '2.6.32': { value: false, does: 'alloc_pidmap from last_pid + 1 to pid_max, then from 300 up to last_pid (exclusive)', source: 'kernel/pid.c alloc_pidmap (v2.6.32)' },
  }),
  row({
    rule: 'autoExhausted',
    summary: 'no automatic pid free (fork, clone, eclone\'s levels without a target)',
    mainline: { value: 'EAGAIN', does: 'EAGAIN', source: 'kernel/pid.c alloc_pid (v6.12): -ENOSPC from the idr becomes -EAGAIN' },
    '2.6.32': { value: 'EBUSY', does: 'EBUSY', source: 'eclone v13 patch 3 (alloc_pid passes do_alloc_pidmap\'s -EBUSY to every caller)' },
  }),
  row({
    rule: 'initialLastPid',
    summary: 'last_pid (ns_last_pid) of a namespace before any automatic allocation, e.g. after an init named by set_tid',
    mainline: { value: -1, does: '-1: ns_last_pid reads the idr cursor minus one, and the cursor starts at 0 (also reset to 0 when the first allocation fails)', source: 'kernel/pid_namespace.c pid_ns_ctl_handler, kernel/pid.c alloc_pid (v6.12)' },
    '2.6.32': { value: 0, does: '0: the last_pid field starts at 0', source: 'kernel/pid_namespace.c create_pid_namespace (v2.6.32)' },
  }),
  row({
    rule: 'initWaitsForNamespace',
    summary: 'a namespace init exits while processes of its namespace have their parent outside it',
    mainline: { value: true, does: 'the init waits in exit until every other pid of the namespace is freed: it is not reapable until then (pid 1 stays taken)', source: 'kernel/pid_namespace.c zap_pid_ns_processes (v6.12): waits for pid_allocated == init_pids' },
    '2.6.32': { value: false, does: 'the init reaps its own children and becomes a zombie at once', source: 'kernel/pid_namespace.c zap_pid_ns_processes (v2.6.32): wait4 until ECHILD only' },
  }),
  row({
    rule: 'pidNsOwnerNested',
    summary: 'a new pid namespace below one owned by a user namespace the caller is not in',
    mainline: { value: true, does: 'EINVAL (after the CAP_SYS_ADMIN check, before ENOSPC)', source: 'kernel/pid_namespace.c create_pid_namespace (v6.12): in_userns(parent_pid_ns->user_ns, user_ns)' },
    '2.6.32': { value: false, does: 'allowed: pid namespaces have no owning user namespace', source: 'kernel/pid_namespace.c create_pid_namespace (v2.6.32)' },
  }),
  row({
    rule: 'lastThreadExitCode',
    summary: 'the leader calls exit(2), then the last thread exit(5): the process\'s wait status',
    mainline: { value: true, does: '0x500: the last thread to exit sets the group exit code', source: 'kernel/exit.c synchronize_group_exit (v6.12; since 5.19)' },
    '2.6.32': { value: false, does: '0x200: the leader\'s own exit code', source: 'kernel/exit.c wait_task_zombie (v2.6.32)' },
  }),
  row({
    rule: 'newUserNeedsCaps',
    summary: 'clone or eclone with CLONE_NEWUSER without capabilities',
    mainline: { value: false, does: 'allowed: no capability is needed', source: 'kernel/user_namespace.c create_user_ns (v6.12; since 3.8)' },
    '2.6.32': { value: true, does: 'EPERM without CAP_SYS_ADMIN, CAP_SETUID and CAP_SETGID', source: 'kernel/fork.c do_fork (v2.6.32)' },
  }),
  row({
    rule: 'pidfdNonLeader',
    summary: 'pidfd_open of a thread that is not its group\'s leader',
    mainline: { value: 'ENOENT', does: 'ENOENT', source: 'kernel/fork.c pidfd_prepare (v6.15)' },
    '2.6.32': { value: 'EINVAL', does: 'EINVAL as Linux 5.10 (pidfd_open postdates 2.6.32; the model kept 5.10\'s rule)', source: 'kernel/pid.c pidfd_open (v5.10)' },
  }),
  row({
    rule: 'refuseSharedHandlerInit',
    summary: 'a pid namespace init made with CLONE_SIGHAND (not a thread): when it dies, mainline sets SIGCHLD to ignored in the handlers it shares with its creator',
    mainline: {
      value: true,
      does: 'the model has no signal handlers and refuses such a clone with EOPNOTSUPP rather than behave differently',
      source: 'kernel/pid_namespace.c zap_pid_ns_processes (v6.12): sighand->action[SIGCHLD - 1] = SIG_IGN',
    },
    '2.6.32': { value: false, does: 'allowed: zap_pid_ns_processes touches no handler', source: 'kernel/pid_namespace.c zap_pid_ns_processes (v2.6.32)' },
  }),
];

function rulesOf(name: KernelName): KernelRules {
  const rules: Record<string, unknown> = { name };
  for (const r of RULES) rules[r.rule] = r[name].value;
  return Object.freeze(rules) as unknown as KernelRules;
}

/** the two rule sets, made once: every namespace of a host shares its personality's object */
const BY_NAME: Readonly<Record<KernelName, KernelRules>> = { mainline: rulesOf('mainline'), '2.6.32': rulesOf('2.6.32') };

/** kernelRules returns the rules of a personality. */
export function kernelRules(name: KernelName): KernelRules {
  return BY_NAME[name];
}

/** isKernelName narrows a string from the command line, a host file or an image. */
export function isKernelName(s: unknown): s is KernelName {
  return s === 'mainline' || s === '2.6.32';
}
