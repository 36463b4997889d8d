/**
 * restoreContainer brings a ContainerImage back on a machine with identical
 * pids at every level of the container. Tasks are created the way Linux-CR's
 * restart does: a restorer in user space issues eclone() from each task's
 * parent, naming the pid at every container level (the levels above are
 * chosen by the target kernel unless hostPids is asked for), sessions and
 * process groups are rebuilt with setsid and setpgid, and then the kernel
 * side restores what no syscall can: memory, registers, credentials, open
 * files, namespace cursors, zombies and sleeping state.
 *
 * restoreAtomically works on a copy of the target and returns it only when
 * every step succeeded: on any failure the target is untouched.
 */
import { CLONE_NEWPID, CLONE_PARENT, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM } from '../abi/clone-flags.js';
import { MAX_PID_NS_LEVEL } from '../abi/limits.js';
import { MAP_ANONYMOUS, MAP_SHARED, PROT_READ, PROT_WRITE } from '../abi/mman.js';
import { SIGCHLD } from '../abi/signals.js';
import { archByName } from '../arch/registry.js';
import { placement } from '../arch/compat.js';
import type { Container } from '../container/container.js';
import { Machine } from '../container/machine.js';
import { isValidName, NAME_RULE } from '../container/names.js';
import { Console } from '../kernel/console.js';
import { UserNamespace } from '../kernel/credentials.js';
import { exitThread } from '../kernel/exit.js';
import { FileTable } from '../kernel/files.js';
import { PidNamespace } from '../kernel/pid-namespace.js';
import { copyExtraState, type Task } from '../kernel/task.js';
import { Pid } from '../kernel/pid.js';
import type { SyscallName } from '../abi/syscall-names.js';
import { ARGUMENT_WINDOW, Libc } from '../program/libc.js';
import { decodeMachine, encodeMachine } from '../store/machine-codec.js';
import type { ContainerImage, ImageTask } from './container-image.js';
import { decodeAddressSpace, pageFrames } from './address-space-record.js';

/** Stable codes of the reasons a restore is refused or fails; scripts may match on them. */
export type RestoreErrorCode =
  | 'CKPT_NAME_TAKEN'
  | 'CKPT_BAD_NAME'
  | 'CKPT_ARCH_MISMATCH'
  | 'CKPT_PID_MAX'
  | 'CKPT_PID_COLLISION'
  | 'CKPT_PRIVILEGE'
  | 'CKPT_NO_CONTAINER'
  | 'CKPT_UNSUPPORTED'
  | 'CKPT_RESTORE_FAILED';

/** Problem is one reason an image cannot be restored. */
export interface Problem {
  readonly code: RestoreErrorCode;
  readonly message: string;
}

/** RestoreError says why an image cannot be restored; `problems` lists every one found, the first one's code is `code`. */
export class RestoreError extends Error {
  override readonly name = 'RestoreError';
  readonly code: RestoreErrorCode;
  constructor(readonly problems: readonly Problem[]) {
    super(problems.map((p) => p.message).join('; '));
    this.code = problems[0]?.code ?? 'CKPT_RESTORE_FAILED';
  }

  /** reasons: the problems' messages */
  get reasons(): string[] {
    return this.problems.map((p) => p.message);
  }
}

/** failed stops a restore at a step that went wrong (the copy being restored onto is thrown away). */
function failed(message: string, code: RestoreErrorCode = 'CKPT_RESTORE_FAILED'): never {
  throw new RestoreError([{ code, message }]);
}

export interface RestoreOptions {
  /** the container's name on the target (default: the image's) */
  name?: string;
  /** the system call that names the pids: eclone (oldest level first, EBUSY) or clone3 set_tid (innermost first, EEXIST) */
  via?: 'eclone' | 'clone3';
  /** also name the pids at the levels above the container (they must be free on the target) */
  hostPids?: boolean;
  /**
   * restore inside this running container of the target: the image's container becomes a nested one, its
   * pid namespace a child of that container's (entered with pidfd_open and setns, as CRIU does for an
   * existing pid namespace); with hostPids the pids at that container's level are named too
   */
  into?: string;
  /**
   * whether the restoring context holds CAP_SYS_ADMIN (eclone) or CAP_CHECKPOINT_RESTORE (clone3) in the
   * target host's root namespaces, as naming host pids needs (default true: the library is its own host)
   */
  privileged?: boolean;
  /** the image's page bytes belong to the caller alone (read for this restore): they become the frames, uncopied */
  adoptPages?: boolean;
  /** called at each step (for tests that make a restore fail at every step in turn) */
  onStep?: (step: string) => void;
  /** told how many tasks have been created so far, out of how many */
  onProgress?: (done: number, total: number) => void;
}

/** holderOf says what holds pid `nr` of namespace `ns`: a task, a zombie, a thread, or only a process group or session id. */
function holderOf(ns: PidNamespace, nr: number): string {
  const pid = ns.pids.get(nr);
  const t = pid?.task;
  if (t) return t.exited ? `zombie ${nr}` : t.isLeader ? `task ${nr}` : `thread ${nr} of process ${t.group.tgid.nrIn(ns)}`;
  if (pid && pid.pgrpUsers > 0) return `process group ${nr} (its leader is gone)`;
  if (pid && pid.sessionUsers > 0) return `session ${nr} (its leader is gone)`;
  return `pid ${nr}`;
}

/** depthOf counts the levels from the image's container namespace down to namespace k (0 for the container's own). */
function depthOf(image: ContainerImage, k: number): number {
  let d = 0;
  for (let p = image.pidNs[k]?.[0] ?? -1; p >= 0 && d <= MAX_PID_NS_LEVEL; p = image.pidNs[p]?.[0] ?? -1) d++;
  return d;
}

/**
 * LeaderlessSession says how a session whose leader has gone is rebuilt: a placeholder with its id
 * makes it, created by `creator`; members whose parent is inside the session are forked by that
 * parent; the others by the placeholder: with CLONE_PARENT when their parent is the creator, and
 * plainly when it is their namespace's init, which inherits them when the placeholder leaves.
 */
interface LeaderlessSession {
  /** parents outside the session other than the init: at most one can be served */
  parents: Set<number>;
  /** the placeholder's creator (the one such parent, else the init), and the first member it serves */
  creator: number;
  first: number;
}

/** leaderIds lists the pids (all levels, joined by '/') of the thread-group leaders: the session and group ids whose leader is still there. */
function leaderIds(tasks: readonly ImageTask[]): Set<string> {
  return new Set(tasks.filter((t, i) => t.leader === i).map((t) => t.numbers.join('/')));
}

/** reapersOf maps each pid namespace of the image to its init's task index. */
function reapersOf(tasks: readonly ImageTask[]): Map<number, number> {
  const reaper = new Map<number, number>();
  tasks.forEach((t, i) => {
    if (t.numbers[t.numbers.length - 1] === 1) reaper.set(t.ns, i);
  });
  return reaper;
}

/** leaderlessSessions finds the sessions without a leader and how each would be rebuilt, keyed by their ids. */
function leaderlessSessions(tasks: readonly ImageTask[], leaders: ReadonlySet<string>): Map<string, LeaderlessSession> {
  const reaper = reapersOf(tasks);
  const out = new Map<string, LeaderlessSession>();
  tasks.forEach((t, i) => {
    if (t.leader !== i || !t.sid || leaders.has(t.sid.join('/')) || parentInSession(tasks, t)) return;
    const key = t.sid.join('/');
    let s = out.get(key);
    if (!s) out.set(key, (s = { parents: new Set(), creator: -1, first: i }));
    if (t.parent !== reaper.get(t.ns)) {
      s.parents.add(t.parent);
      s.creator = t.parent;
    }
  });
  for (const s of out.values()) if (s.creator < 0) s.creator = tasks[s.first]!.parent;
  return out;
}

/** sessionMembers lists each session's processes in image order ('' for the session outside the container its init was born in). */
function sessionMembers(tasks: readonly ImageTask[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  tasks.forEach((t, k) => {
    if (t.leader !== k) return;
    const where = t.sid ? t.sid.join('/') : '';
    const list = out.get(where);
    if (list) list.push(k);
    else out.set(where, [k]);
  });
  return out;
}

/** hasNumbers reports whether `pid` has exactly `numbers` at its levels from `from` down (without making arrays: one check per restored task). */
function hasNumbers(pid: Pid, from: number, numbers: readonly number[]): boolean {
  if (pid.level - from + 1 !== numbers.length) return false;
  for (let d = 0; d < numbers.length; d++) if (pid.nrAt(from + d) !== numbers[d]) return false;
  return true;
}

/** parentInSession: the task's parent is in the task's session too, so forking from it puts the child there. */
function parentInSession(tasks: readonly ImageTask[], t: ImageTask): boolean {
  const p = tasks[t.parent];
  return p !== undefined && t.sid !== null && p.sid !== null && p.sid.join('/') === t.sid.join('/');
}

/** enclosingOf is the task the restored container hangs below: the host's init, or the init of the container named by `into`. */
function enclosingOf(target: Machine, opts: RestoreOptions): Task | null {
  if (opts.into === undefined) return target.host.init;
  const c = target.containers.get(opts.into);
  return c && !c.init.exited && c.init.pid.ns.accepting ? c.init : null;
}

/** levelName names a level above the restored container: the host's, or a container's. */
function levelName(target: Machine, ns: PidNamespace): string {
  if (ns.level === 0) return `host ${target.name}`;
  const c = [...target.containers.values()].find((k) => k.init.pid.ns === ns);
  return c ? `container ${c.name}` : `pid-namespace level ${ns.level}`;
}

/** preflight lists every reason the image cannot go onto `target`, without changing anything. */
export function preflight(target: Machine, image: ContainerImage, opts: RestoreOptions = {}): Problem[] {
  const problems: Problem[] = [];
  const add = (code: RestoreErrorCode, message: string): void => {
    if (!problems.some((p) => p.message === message)) problems.push({ code, message });
  };
  const enclosing = enclosingOf(target, opts);
  if (!enclosing) {
    const c = opts.into === undefined ? undefined : target.containers.get(opts.into);
    add('CKPT_NO_CONTAINER', c ? `--into ${opts.into}: that container's init has exited, so its pid namespace takes no new processes` : `--into ${opts.into}: no container of that name on host ${target.name}`);
  }
  const above = enclosing ? enclosing.pid.ns : null;
  const name = opts.name ?? image.name;
  if (!isValidName(name)) add('CKPT_BAD_NAME', `bad container name ${JSON.stringify(name)}: ${NAME_RULE}`);
  if (target.containers.has(name) || target.unloaded.has(name)) add('CKPT_NAME_TAKEN', `a container named ${name} already exists on host ${target.name}`);
  const imageArch = archByName(image.arch);
  if (!imageArch) add('CKPT_ARCH_MISMATCH', `the image's architecture ${image.arch} is unknown`);
  else {
    const p = placement(imageArch, target.host.arch);
    if (!p.ok) add('CKPT_ARCH_MISMATCH', `cannot restore a ${image.arch} image on host ${target.name} (${target.host.arch.name}): ${p.reason}`);
  }
  // a loop, not Math.max(...): images hold hundreds of thousands of numbers
  let biggest = 0;
  for (const t of image.tasks) for (const nr of opts.hostPids ? [...t.outer, ...t.numbers] : t.numbers) if (nr > biggest) biggest = nr;
  if (biggest >= target.host.pidMax) add('CKPT_PID_MAX', `the image uses pid ${biggest}, not below host ${target.name}'s pid_max ${target.host.pidMax}`);
  // A session or group whose leader has gone is rebuilt around a placeholder task with the leader's
  // pid; that needs the placeholder to live where its members do.
  const leaders = leaderIds(image.tasks);
  const sessions = leaderlessSessions(image.tasks, leaders);
  for (const [id, s] of sessions) {
    if (s.parents.size > 1) add('CKPT_UNSUPPORTED', `session ${id.split('/')[0]} has no leader left and its members whose parents are outside it have different parents other than their namespace's init: not supported yet`);
    else if (s.creator >= 0 && s.creator > s.first) add('CKPT_UNSUPPORTED', `session ${id.split('/')[0]} has no leader left and the parent of some of its members was created after the first of them: not supported yet`);
  }
  image.tasks.forEach((t, i) => {
    if (t.leader !== i) return;
    for (const [what, id] of [['session', t.sid], ['process group', t.pgid]] as const) {
      if (!id || leaders.has(id.join('/'))) continue;
      if (id.length !== t.numbers.length) add('CKPT_UNSUPPORTED', `${what} ${id[0]} of task ${t.numbers.join('/')} has no leader left and lives in another pid namespace than its member: not supported yet`);
    }
  });
  if (above && above.level + image.pidNs.reduce((d, _, k) => Math.max(d, depthOf(image, k)), 0) + 1 > MAX_PID_NS_LEVEL) {
    add('CKPT_UNSUPPORTED', `the image's namespaces would nest deeper than ${MAX_PID_NS_LEVEL} levels below ${levelName(target, above)}`);
  }
  if (opts.hostPids && above) {
    // The pids above the container are kept only where the image has one for every level above it:
    // a container that sat at the same depth on its source.
    if (image.base !== above.level + 1) {
      add('CKPT_UNSUPPORTED', `--host-pids: the image's container sat at pid-namespace level ${image.base} on its source, but would come back at level ${above.level + 1} ${opts.into === undefined ? 'directly under the host' : `inside container ${opts.into}`}, so its pids above the container have no counterpart to keep`);
    }
    if (opts.privileged === false) {
      add('CKPT_PRIVILEGE', `--host-pids names pids in host ${target.name}'s root pid namespace, which needs ${opts.via === 'clone3' ? 'CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN)' : 'CAP_SYS_ADMIN'} there; the restoring context does not have it`);
    }
    const errno = opts.via === 'clone3' ? 'EEXIST' : 'EBUSY';
    for (const t of image.base === above.level + 1 ? image.tasks : []) {
      t.outer.forEach((nr, level) => {
        const ns = above.chain[level]!;
        if (!ns.bitmap.test(nr)) return;
        const where = level === 0 ? `host pid ${nr}` : `pid ${nr} at level ${level} (${levelName(target, ns)})`;
        add('CKPT_PID_COLLISION', `${where} (task ${t.numbers.join('/')} of the image) is held by ${holderOf(ns, nr)} ${level === 0 ? `on host ${target.name}` : `in ${levelName(target, ns)}`}: ${opts.via ?? 'eclone'} would fail with ${errno}`);
      });
    }
  }
  return problems;
}

/**
 * enterContainer makes, in the pid namespace `ns` of a running container, the helper that will create
 * the restored container's init: the restorer (the host's init) joins `ns` for its children with
 * pidfd_open and setns, clones the helper there with clone3 set_tid naming a pid at every level that the
 * image does not need, and joins its own namespace again. (A child made in a joined namespace cannot
 * make a new one itself: copy_pid_ns refuses it, hence the helper.)
 */
function enterContainer(host: Machine['host'], ns: PidNamespace, tasks: readonly ImageTask[], opts: RestoreOptions): Task {
  const l = host.libc(host.init);
  const reaper = ns.childReaper!;
  const join = (nr: number): void => {
    const fd = l.pidfd_open(nr, 0);
    const r = fd.errno ? fd : l.setns(fd.ret, CLONE_NEWPID);
    if (fd.ret >= 0) l.close(fd.ret);
    if (r.errno) failed(`entering the pid namespace of ${nr === 1 ? 'the host' : `container init ${nr}`} failed with ${r.errno}`);
  };
  join(reaper.pid.nr);
  // The helper's pids: the highest free ones that no task of the image asks for.
  const setTid: number[] = [];
  for (let level = ns.level; level >= 0; level--) {
    const tmp = ns.chain[level]!;
    const wanted = new Set(opts.hostPids ? tasks.map((t) => t.outer[level]) : []);
    let nr = tmp.pidMax - 1;
    while (nr > 0 && (tmp.bitmap.test(nr) || wanted.has(nr))) nr--;
    setTid.push(nr);
  }
  const r = l.clone3({ exit_signal: SIGCHLD, set_tid: setTid }, 88);
  join(1);
  if (!r.child) failed(`the helper inside the enclosing container could not be created: clone3 failed with ${r.errno}`);
  return r.child;
}

/** leave ends the helper made by enterContainer and reaps it. */
function leave(host: Machine['host'], helper: Task): void {
  host.libc(helper).exit(0);
  const r = host.libc(host.init).wait4(helper.pid.nr, 0, 0, 0);
  if (r.errno) failed(`reaping the helper failed with ${r.errno}`);
}

/** restoreAtomically restores onto a copy of `target` and returns the copy; `target` itself is never changed. */
export function restoreAtomically(target: Machine, image: ContainerImage, opts: RestoreOptions = {}): { machine: Machine; container: Container } {
  const copy = decodeMachine(encodeMachine(target));
  const container = restoreContainer(copy, image, opts);
  return { machine: copy, container };
}

/** restoreContainer restores in place; a failure leaves `m` half-changed, so callers use restoreAtomically. */
export function restoreContainer(m: Machine, image: ContainerImage, opts: RestoreOptions = {}): Container {
  const problems = preflight(m, image, opts);
  if (problems.length > 0) throw new RestoreError(problems);
  const host = m.host;
  const arch = archByName(image.arch)!;
  const tasks = image.tasks;
  const enclosing = enclosingOf(m, opts)!;
  const above = enclosing.pid.ns;
  /** the levels above the container: 0 .. above.level */
  const outerLevels = above.level + 1;
  const outerPids = (t: ImageTask): number[] => (opts.hostPids ? t.outer.slice(0, outerLevels) : new Array<number>(outerLevels).fill(0));
  const created = new Array<Task | undefined>(tasks.length);
  const indexOf = new Map<Task, number>();
  const at = (i: number): Task => {
    const t = created[i];
    if (!t) failed(`task ${tasks[i]?.numbers.join('/')} was needed before it was created`);
    return t;
  };

  /** create makes task i from `creator` with eclone, naming its pid at every container level. */
  const step = opts.onStep ?? ((): void => undefined);
  let creations = 0;
  const key = (ids: number[] | null): string => (ids ? ids.join('/') : '');
  // A session leader calls setsid only once the children that stayed in its old session exist:
  // they were forked before it made its own session.
  const pendingSetsid = new Set<number>();
  // birth[i] is the session task i must be forked into ('' for the one outside the container): its
  // own, unless it leads one, made later with setsid; then the one (with a leader) its children, or
  // theirs, that stayed behind are in, or undefined when none did. Children (of any of a process's
  // threads) come after the process, so a pass from the last task back sees them first.
  const birth = new Array<string | undefined>(tasks.length);
  const led = leaderIds(tasks);
  const childrenOfProcess = new Map<number, number[]>();
  tasks.forEach((t) => {
    if (t.children.length === 0) return;
    const list = childrenOfProcess.get(t.leader);
    if (list) list.push(...t.children);
    else childrenOfProcess.set(t.leader, [...t.children]);
  });
  for (let i = tasks.length - 1; i >= 0; i--) {
    const t = tasks[i]!;
    const own = key(t.numbers);
    if (key(t.sid) !== own) {
      birth[i] = key(t.sid);
      continue;
    }
    for (const c of childrenOfProcess.get(i) ?? []) {
      const b = c > i ? birth[c] : undefined;
      // a session whose leader has gone is rebuilt around a placeholder, which its creator makes: no constraint
      if (b !== undefined && b !== own && (b === '' || led.has(b))) {
        birth[i] = b;
        break;
      }
    }
  }
  /** idInside names a restored session or group id as the image does: its numbers from the container down, '' for one outside (cached: asked once per created process) */
  const insideNames = new Map<Pid, string>();
  const idInside = (p: Pid): string => {
    let name = insideNames.get(p);
    if (name === undefined) insideNames.set(p, (name = p.nrIn(at(image.init).pid.ns) !== 0 ? p.numbers.slice(outerLevels).join('/') : ''));
    return name;
  };
  const setsid = (i: number): void => {
    pendingSetsid.delete(i);
    const s = host.libc(at(i)).setsid();
    if (s.errno) failed(`setsid for task ${tasks[i]!.numbers.join('/')} failed with ${s.errno}`);
  };
  const leaderKeys = leaderIds(tasks);
  /** placeholders: a stand-in task with the pid of a session or group leader that has gone */
  const placeholders: Array<{ helper: Task; parent: Task }> = [];
  const sessionHelpers = new Map<string, Task>();
  const sessions = leaderlessSessions(tasks, leaderKeys);
  const members = sessionMembers(tasks);
  const reaperOf = reapersOf(tasks);
  /** processes with a thread still running */
  const live = new Set<number>();
  for (const t of tasks) if (!t.exited) live.add(t.leader);
  /** startsNamespace: task i is the init of a namespace not made yet (made with CLONE_NEWPID) */
  const startsNamespace = (i: number): boolean => tasks[i]!.numbers[tasks[i]!.numbers.length - 1] === 1 && !nsOf.has(tasks[i]!.ns);
  /** within reports whether image pid namespace `outer` is `inner` or one of its ancestors */
  const within = (outer: number, inner: number): boolean => {
    for (let k = inner; k >= 0; k = image.pidNs[k]![0]) if (k === outer) return true;
    return false;
  };
  /**
   * hostFor finds who can fork task i into session `need` when its creator is
   * not in it (a daemon's double fork: the one that forked it exited and the
   * init, in another session, took it over; or a child of one that left its
   * old session behind): a process of that session made before it, in its
   * namespace or one above. With CLONE_PARENT when that one has the same
   * parent (and is not a namespace's init, which may not), else plainly when
   * that one has exited and the child's parent is the reaper of that one's
   * namespace: a zombie in the image, exiting again in the restore, hands the
   * child to it.
   */
  const hostFor = (i: number, need: string): { k: number; adopt: boolean } | undefined => {
    const t = tasks[i]!;
    // a new namespace's init is made with CLONE_NEWPID, from its parent namespace only, and never with CLONE_PARENT
    const newNs = startsNamespace(i);
    for (const k of members.get(need) ?? []) {
      if (k >= i) break;
      const u = tasks[k]!;
      if (newNs ? u.ns !== image.pidNs[t.ns]![0] : !within(u.ns, t.ns)) continue;
      if (!newNs && u.parent === t.parent && reaperOf.get(u.ns) !== k) return { k, adopt: true };
      if (!live.has(k) && t.parent === reaperOf.get(u.ns)) return { k, adopt: false };
    }
    return undefined;
  };
  const placeholder = (ids: number[], creator: Task): Task => {
    creator.pidNsForChildren = creator.pid.ns; // a placeholder lives in its creator's namespace (preflight)
    const inside = ids.slice(0, creator.pid.level - above.level);
    const pids = [...new Array<number>(outerLevels).fill(0), ...inside];
    const r = opts.via === 'clone3'
      ? libcOf(creator).clone3({ exit_signal: SIGCHLD, set_tid: [...inside].reverse() }, 88)
      : libcOf(creator).eclone(SIGCHLD, { nr_pids: pids.length }, 48, pids);
    if (!r.child) failed(`the placeholder for leader ${ids.join('/')} could not be created: ${r.errno}`);
    placeholders.push({ helper: r.child, parent: creator });
    return r.child;
  };
  // The container's tasks marshal their eclone and clone3 arguments into one MAP_SHARED window
  // that the container's init maps and every task made after it inherits, as a restorer's
  // argument page: a window on the stack would be copied on write after every fork. The
  // address spaces that hold it are replaced by the image's at the end.
  let window: number | undefined;
  const callers = new Map<Task, Libc>();
  const libcOf = (creator: Task): Libc => {
    // A creator outside the container (the host's init, a helper in the enclosing namespace) keeps
    // its own address space after the restore, so it marshals on its stack as before.
    if (window === undefined || creator.pid.level <= above.level) return host.libc(creator);
    let l = callers.get(creator);
    if (!l) callers.set(creator, (l = new Libc(host, creator, window)));
    return l;
  };
  const create = (i: number, given: Task): Task => {
    const t = tasks[i]!;
    step(`create ${++creations}`);
    opts.onProgress?.(creations, tasks.length);
    let creator = given;
    let adopt = 0;
    const leaderless = t.leader === i && t.sid ? sessions.get(key(t.sid)) : undefined;
    if (leaderless && !parentInSession(tasks, t)) {
      // A session whose leader has gone (see LeaderlessSession): the placeholder forks this member,
      // with CLONE_PARENT when its parent is the placeholder's creator.
      let helper = sessionHelpers.get(key(t.sid));
      if (!helper) {
        helper = placeholder(t.sid!, at(leaderless.creator));
        const s = host.libc(helper).setsid();
        if (s.errno) failed(`setsid for the placeholder of session ${key(t.sid)} failed with ${s.errno}`);
        sessionHelpers.set(key(t.sid), helper);
      }
      creator = helper;
      adopt = t.parent === leaderless.creator ? CLONE_PARENT : 0;
    }
    let creatorIndex = indexOf.get(creator) ?? -1;
    const need = birth[i];
    if (pendingSetsid.has(creatorIndex) && need === key(tasks[creatorIndex]!.numbers)) setsid(creatorIndex);
    if (!leaderless && t.leader === i && i !== image.init && need !== undefined && idInside(creator.group.session) !== need) {
      // Its creator is not in the session it must be born in: one of that session forks it (hostFor).
      const other = hostFor(i, need);
      if (!other) failed(`task ${t.numbers.join('/')} must be born in ${need ? `session ${need.split('/')[0]}` : 'the session outside the container'}, where no process made before it has its parent or has exited to hand it to its init: not supported yet`, 'CKPT_UNSUPPORTED');
      creator = at(other.k);
      creatorIndex = other.k;
      adopt = other.adopt ? CLONE_PARENT : 0;
      if (pendingSetsid.has(other.k) && need === key(tasks[other.k]!.numbers)) setsid(other.k);
    }
    const thread = t.leader !== i;
    const newNs = !thread && startsNamespace(i);
    // the creator's levels past `above` are container levels; the ones up to it are outer levels
    const depth = creator.pid.level - above.level;
    // CLONE_THREAD needs pid_ns_for_children to be the creator's own namespace
    if (thread) creator.pidNsForChildren = creator.pid.ns;
    else {
      // A child goes where its creator's pid_ns_for_children points (moved by unshare and setns); a new
      // namespace is made below that one. The creator is pointed there, as the image's history had it.
      const parentNs = image.pidNs[t.ns]![0];
      const target = newNs ? (parentNs < 0 ? creator.pid.ns : nsOf.get(parentNs)) : nsOf.get(t.ns);
      if (!target) failed(`task ${t.numbers.join('/')} is in a pid namespace made after it: this layout is not supported yet`, 'CKPT_UNSUPPORTED');
      creator.pidNsForChildren = target;
      // eclone names pids down to its caller's level only: a deeper one is the next its namespace gives (ns_last_pid)
      if (!newNs && t.numbers.length > depth && opts.via !== 'clone3') target.lastPid = t.numbers[t.numbers.length - 1]! - 1;
    }
    const inside = opts.via === 'clone3' ? t.numbers.slice(0, newNs ? -1 : undefined) : t.numbers.slice(0, depth);
    const outer = outerPids(t);
    const pids = [...outer, ...inside];
    const cloneFlags = (thread ? CLONE_THREAD | CLONE_SIGHAND | CLONE_VM : 0) | (newNs ? CLONE_NEWPID : 0) | adopt;
    const exitSignal = thread ? 0 : t.exitSignal & 0xff;
    let r;
    if (opts.via === 'clone3') {
      // set_tid is innermost first; a new namespace's own level must be named 1; 0 is not "auto" there.
      const setTid = [...(newNs ? [1] : []), ...[...inside].reverse(), ...(opts.hostPids ? [...outer].reverse() : [])];
      // clone3 refuses an exit signal with CLONE_PARENT: the child takes its creator's leader's.
      r = libcOf(creator).clone3({ flags: cloneFlags, exit_signal: adopt ? 0 : exitSignal, set_tid: setTid }, 88);
      if (!r.child) failed(`clone3 of task ${t.numbers.join('/')} failed with ${r.errno} (set_tid ${setTid.join(', ')}, innermost level first)`);
    } else {
      r = libcOf(creator).eclone((cloneFlags | exitSignal) >>> 0, { nr_pids: pids.length }, 48, pids);
      if (!r.child) failed(`eclone of task ${t.numbers.join('/')} failed with ${r.errno} (pids ${pids.join(', ')}, oldest level first)`);
    }
    if (!hasNumbers(r.child.pid, outerLevels, t.numbers)) {
      failed(`task ${t.numbers.join('/')} came back as ${r.child.pid.numbers.slice(outerLevels).join('/')}: this layout is not supported yet`, 'CKPT_UNSUPPORTED');
    }
    created[i] = r.child;
    indexOf.set(r.child, i);
    if (!nsOf.has(t.ns)) nsOf.set(t.ns, r.child.pid.ns);
    if (!thread && key(t.sid) === key(t.numbers)) pendingSetsid.add(i);
    return r.child;
  };

  // Tasks are made in the image's order, the order the source created them, so that the scheduler,
  // which runs tasks in creation order, runs them as before. A thread is made by its leader, a
  // process by its parent; both always precede it.
  const nsHelper = opts.into === undefined ? null : enterContainer(host, above, tasks, opts);
  const laterParent = new Map<number, number>();
  /** the restored pid namespace of each of the image's, once its first task exists */
  const nsOf = new Map<number, PidNamespace>();
  tasks.forEach((t, i) => {
    if (i === image.init) {
      const init = create(i, nsHelper ?? host.init);
      const m = host.libc(init).mmap(0, ARGUMENT_WINDOW, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      if (m.errno) failed(`the container's init could not map its argument window: mmap failed with ${m.errno}`);
      window = m.ret;
      // The helper that made the container's init in the enclosing namespace leaves; the init is
      // reparented to that namespace's reaper, the enclosing container's init.
      if (nsHelper) leave(host, nsHelper);
      return;
    }
    let creator = t.leader !== i ? t.leader : t.parent;
    // A parent thread made after its child (the child went to it when the thread that forked it exited):
    // the child is forked by that thread's leader, and handed to the thread once the threads exist.
    if (t.leader === i && creator >= 0 && !created[creator] && tasks[creator]!.leader !== creator) {
      laterParent.set(i, creator);
      creator = tasks[creator]!.leader;
    }
    if (creator < 0 || !created[creator]) failed(`task ${t.numbers.join('/')} comes before its ${t.leader !== i ? 'thread-group leader' : 'parent'} in the image: this layout is not supported yet`, 'CKPT_UNSUPPORTED');
    create(i, at(creator));
  });
  // The kernel keeps a child on the children list of the very thread that is its parent (real_parent).
  for (const [child, parent] of laterParent) {
    const c = at(child);
    c.parent = at(parent);
    at(parent).addChild(c);
  }

  for (const i of [...pendingSetsid]) setsid(i);
  step('process groups');
  // A process group whose leader has gone: a placeholder with its pid, forked by a member, leads it.
  const groupHelpers = new Set<string>();
  tasks.forEach((t, i) => {
    if (t.leader !== i || !t.pgid || leaderKeys.has(key(t.pgid)) || groupHelpers.has(key(t.pgid)) || key(t.pgid) === key(t.sid)) return;
    groupHelpers.add(key(t.pgid));
    const helper = placeholder(t.pgid, at(i));
    const r = host.libc(helper).setpgid(0, 0);
    if (r.errno) failed(`setpgid for the placeholder of group ${key(t.pgid)} failed with ${r.errno}`);
  });
  // Process groups: leaders first, then members join them (setpgid from the task itself).
  const own = (t: ImageTask, id: number[]): number => id[t.numbers.length - 1] ?? 0;
  const isLeader = (t: ImageTask, i: number): boolean => t.leader === i;
  for (const pass of ['leaders', 'members'] as const) {
    tasks.forEach((t, i) => {
      if (!isLeader(t, i) || !t.pgid || t.group.sessionLeader) return;
      const self = t.pgid.join('/') === t.numbers.join('/');
      if ((pass === 'leaders') !== self) return;
      const r = host.libc(at(i)).setpgid(0, self ? 0 : own(t, t.pgid));
      if (r.errno) failed(`setpgid for task ${t.numbers.join('/')} into group ${t.pgid[0]} failed with ${r.errno}`);
    });
  }
  // The placeholders leave: their pids stay allocated as long as the group or session is in use.
  for (const { helper, parent } of placeholders) {
    host.libc(helper).exit(0);
    const r = host.libc(parent).wait4(helper.pid.nrIn(parent.activeNs), 0, 0, 0);
    if (r.errno) failed(`reaping a placeholder failed with ${r.errno}`);
  }
  // Every task must now be in its session and group, at every container level.
  const containerNs = at(image.init).pid.ns;
  tasks.forEach((t, i) => {
    const g = at(i).group;
    if (idInside(g.session) !== key(t.sid)) failed(`task ${t.numbers.join('/')} ended up in session ${idInside(g.session) || '(outside)'} instead of ${key(t.sid) || '(outside)'}: this session layout is not supported yet`, 'CKPT_UNSUPPORTED');
    if (idInside(g.pgrp) !== key(t.pgid)) failed(`task ${t.numbers.join('/')} ended up in process group ${idInside(g.pgrp) || '(outside)'} instead of ${key(t.pgid) || '(outside)'}: this group layout is not supported yet`, 'CKPT_UNSUPPORTED');
  });

  step('namespaces and credentials');
  // Kernel side: namespaces and credentials.
  const userNs: UserNamespace[] = [];
  for (const [parent, owner] of image.userNs) {
    // The container's own user namespace belongs to whoever restores it, not to the uid the image names:
    // an image cannot make another host user the owner (and so capable) of what it restores.
    // Inside another container it belongs to that container's root, as a container it started would.
    const u = parent < 0 ? new UserNamespace(enclosing.creds.userNs, enclosing.creds.euid) : new UserNamespace(userNs[parent]!, owner);
    host.commitUserNs(u);
    userNs.push(u);
  }
  const userOf = (i: number): UserNamespace => (i < 0 ? host.rootUserNs : userNs[i]!);
  const pidNs = new Array<PidNamespace | undefined>(image.pidNs.length);
  tasks.forEach((t, i) => (pidNs[t.ns] = at(i).pid.ns));
  image.pidNs.forEach(([parent, user], k) => {
    if (pidNs[k]) return;
    const outer = parent < 0 ? above : pidNs[parent];
    if (!outer) failed(`pid namespace ${k} has no parent to hang from`);
    const ns = new PidNamespace(outer, userOf(user), host.pidMax);
    host.commitPidNs(ns);
    pidNs[k] = ns;
  });
  image.pidNs.forEach(([, user, lastPid, accepting], k) => {
    const ns = pidNs[k]!;
    ns.userNs = userOf(user);
    ns.lastPid = lastPid;
    ns.accepting = accepting;
  });

  step('last_pid');
  // Zombies exit first, with their recorded status (their children were reaped or reparented at death).
  tasks.forEach((t, i) => {
    if (!t.exited) return;
    const task = at(i);
    if (t.group.groupExitStatus !== null) task.group.groupExitStatus = t.group.groupExitStatus;
    exitThread(host, task, t.exitStatus);
  });

  step('memory');
  // Memory: each image address space once, each shared page once.
  const pages = pageFrames(image.pages, opts.adoptPages);
  const mms = image.mms.map((rec) => decodeAddressSpace(arch, rec, (p) => pages[p]!));
  const consoleOut = new Console(opts.name ?? image.name);
  if (image.console.length > 0) consoleOut.write(new TextEncoder().encode(image.console));
  const files = image.files.map(([users, fds]) => {
    const table = new FileTable();
    for (const rec of fds) {
      const [fd, kind, flags] = rec;
      if (kind === 'console') table.set(fd, { kind, flags, console: consoleOut });
      else if (kind === 'ns_last_pid') table.set(fd, { kind, flags, pos: rec[3]! });
      // a pidfd whose task was reaped holds a pid no task uses and no namespace lists
      else table.set(fd, { kind, flags, pid: rec[3]! >= 0 ? at(rec[3]!).pid : new Pid(containerNs, new Array<number>(containerNs.level + 1).fill(0)) });
    }
    table.users = users;
    return table;
  });
  step('registers');
  // An FPU state is an immutable value (replaced, never written in place): tasks the image gives the same one share one copy.
  const fpus = image.fpus.map((f) => f.slice());
  tasks.forEach((t, i) => {
    const task = at(i);
    // A task that has exited let go of its address space then.
    if (task.exited) task.mm = mms[t.mm]!;
    else task.replaceSpace(mms[t.mm]!);
    const extra = copyExtraState(t.extra);
    // The task takes its own ABI's state: on a compat host it stays a 32-bit task (arch-layouts.md §12).
    task.takeState(arch, t.regs, fpus[t.fpu]!, extra);
    if (arch !== host.arch) arch.compatFixup?.(task.dv, task.extra);
    const [uid, euid, suid, user, effective, permitted] = t.cred;
    task.creds = { uid, euid, suid, userNs: userOf(user), effective, permitted };
    task.comm = t.comm;
    task.exitSignal = t.exitSignal;
    task.exitStatus = t.exitStatus;
    task.blockedIn = t.blockedIn as SyscallName | null;
    task.sleepUntil = t.sleepLeft === null ? null : host.clock + t.sleepLeft;
    task.exePath = t.exePath;
    task.clearChildTid = t.clearChildTid;
    task.pidNsForChildren = pidNs[t.nsForChildren]!;
    if (t.leader === i) {
      const g = task.group;
      g.files = files[t.files]!;
      Object.assign(g, t.group);
    }
  });

  // Children in the order the source kept them (creation, or reparenting when a parent died).
  tasks.forEach((t, i) => {
    if (t.children.length > 1) at(i).orderChildren(t.children.map(at));
  });

  step('scheduler');
  for (const [path, text] of image.programs) if (!m.sources.has(path)) m.addProgram(path, text);
  const init = at(image.init);
  const container: Container = { name: opts.name ?? image.name, init, console: consoleOut };
  m.containers.set(container.name, container);
  m.scheduler.resumeRound([...m.scheduler.pending(), ...image.round.map((i) => at(i))]);
  return container;
}
