/**
 * The model's executor of a restore plan: it carries the plan's steps out
 * on a model host through each task's C library (eclone, clone3, setsid,
 * setpgid, exit, wait4, pidfd_open, setns), then restores on the kernel side
 * what no syscall can: memory, registers, credentials, open files,
 * namespace cursors and sleeping state. It works in place; restore.ts gives
 * it a copy of the target and keeps the copy only when every step
 * succeeded.
 */
import { pidMaxLimit } from '../kernel/host.js';
import { CLONE_NEWPID, CLONE_NEWUSER } from '../abi/clone-flags.js';
import { MAP_ANONYMOUS, MAP_SHARED, PROT_READ, PROT_WRITE } from '../abi/mman.js';
import { SIGCHLD } from '../abi/signals.js';
import type { SyscallName } from '../abi/syscall-names.js';
import type { Arch } from '../arch/arch.js';
import { archByName } from '../arch/registry.js';
import type { Container } from '../container/container.js';
import type { Machine } from '../container/machine.js';
import { Console } from '../kernel/console.js';
import { inUserns, UserNamespace } from '../kernel/credentials.js';
import { exitThread } from '../kernel/exit.js';
import { FileTable } from '../kernel/files.js';
import { Pid } from '../kernel/pid.js';
import { PidNamespace } from '../kernel/pid-namespace.js';
import { copyExtraState, type Task } from '../kernel/task.js';
import { ARGUMENT_WINDOW, Libc, libcOf } from '../program/libc.js';
import { decodeAddressSpace } from '../codec/address-space-record.js';
import { pageFrames } from '../codec/image-pages.js';
import type { ContainerImage, ImageTask } from './container-image.js';
import { key } from './image-sessions.js';
import { failed } from './restore-error.js';
import { RESTORER, type Actor, type CloneStep, type RestorePlan, type RestoreStep } from './restore-plan.js';
import type { Enclosing, Holder, TargetFacts } from './restore-preflight.js';

/** holderOf says what holds pid `nr` of namespace `ns`: a task, a zombie, a thread, or only a process group or session id. */
function holderOf(ns: PidNamespace, nr: number): Holder | null {
  if (!ns.bitmap.test(nr)) return null;
  const pid = ns.pids.get(nr);
  const t = pid?.task;
  if (t) return t.exited ? { kind: 'zombie', nr } : t.isLeader ? { kind: 'task', nr } : { kind: 'thread', nr, process: t.group.tgid.nrIn(ns) };
  if (pid && pid.pgrpUsers > 0) return { kind: 'group', nr };
  if (pid && pid.sessionUsers > 0) return { kind: 'session', nr };
  return { kind: 'pid', nr };
}

/** enclosingOf is the task the restored container hangs below: the host's init, or the init of the container named by `into`. */
export function enclosingOf(target: Machine, into: string | undefined): Task | null {
  if (into === undefined) return target.host.init;
  const c = target.containers.get(into);
  return c && !c.init.exited && c.init.pid.ns.accepting ? c.init : null;
}

/** needsItsUserNs: on mainline a pid namespace inside `ns` must be owned by its user namespace or one below, which the host's init is not in. */
function needsItsUserNs(target: Machine, ns: PidNamespace): boolean {
  return ns.rules.pidNsOwnerNested && !inUserns(ns.userNs, target.host.init.creds.userNs);
}

/** modelFacts reads a model machine's facts for a preflight and a plan. */
export function modelFacts(target: Machine, into: string | undefined): TargetFacts {
  const enclosing = enclosingOf(target, into);
  let where: Enclosing | { missing: string };
  if (enclosing) {
    const above = enclosing.pid.ns;
    where = {
      level: above.level,
      holderAt: (level, nr) => holderOf(above.chain[level]!, nr),
      levelName: (level) => {
        if (level === 0) return `host ${target.name}`;
        const ns = above.chain[level]!;
        const c = [...target.containers.values()].find((k) => k.init.pid.ns === ns);
        return c ? `container ${c.name}` : `pid-namespace level ${level}`;
      },
      needsItsUserNs: needsItsUserNs(target, above),
    };
  } else {
    const c = into === undefined ? undefined : target.containers.get(into);
    where = { missing: c ? `--into ${into}: that container's init has exited, so its pid namespace takes no new processes` : `--into ${into}: no container of that name on host ${target.name}` };
  }
  return { name: target.name, arch: target.host.arch, kernel: target.host.kernel, pidMax: target.host.pidMax, perNsPidMax: target.host.rules.perNsPidMax, pidMaxLimit: pidMaxLimit(target.host.arch), hasContainer: (name) => target.containers.has(name) || target.unloaded.has(name), enclosing: where };
}

export interface ModelExecution {
  /** the container's name on the target */
  name: string;
  /** restore inside this running container of the target */
  into?: string;
  /** the image's page bytes belong to the caller alone: they become the frames, uncopied */
  adoptPages?: boolean;
  onStep?: (step: string) => void;
  onProgress?: (done: number, total: number) => void;
  /** called before each clone of the plan (the real backend's mirror sets the cursors of the levels the clone leaves to the kernel) */
  beforeClone?: (s: CloneStep) => void;
}

/** executeOnModel carries `plan` out on `m` in place; a failure leaves `m` half-changed (callers work on a copy). */
export function executeOnModel(m: Machine, image: ContainerImage, plan: RestorePlan, opts: ModelExecution): Container {
  const host = m.host;
  const arch = archByName(image.arch)!;
  const tasks = image.tasks;
  const enclosing = enclosingOf(m, opts.into);
  if (!enclosing) failed(`the container to restore into is gone`);
  const above = enclosing.pid.ns;
  const step = opts.onStep ?? ((): void => undefined);
  const actors = new Map<Actor, Task>([[RESTORER, host.init]]);
  const standsFor = new Map<Actor, number[]>();
  const actor = (a: Actor): Task => {
    const t = actors.get(a);
    if (!t) failed(a < tasks.length ? `task ${tasks[a]?.numbers.join('/')} was needed before it was created` : `helper ${a} was needed before it was created`);
    return t;
  };
  const at = (i: number): Task => actor(i);
  /** the restored pid namespace of each of the image's, once its first task exists */
  const nsOf = new Map<number, PidNamespace>();

  // The container's tasks marshal their eclone and clone3 arguments into one MAP_SHARED window
  // that the container's init maps and every task made after it inherits, as a restorer's
  // argument page: a window on the stack would be copied on write after every fork. The
  // address spaces that hold it are replaced by the image's at the end.
  let window: number | undefined;
  const callers = new Map<Task, Libc>();
  const callerLibc = (creator: Task): Libc => {
    // A creator outside the container (the host's init, a helper in the enclosing namespace) keeps
    // its own address space after the restore, so it marshals on its stack as before.
    if (window === undefined || creator.pid.level <= above.level) return libcOf(host, creator);
    let l = callers.get(creator);
    if (!l) callers.set(creator, (l = new Libc(host, creator, window)));
    return l;
  };

  let creations = 0;
  const clone = (s: CloneStep): void => {
    opts.beforeClone?.(s);
    if (s.task !== null) {
      step(`create ${++creations}`);
      opts.onProgress?.(creations, tasks.length);
    }
    const creator = actor(s.creator);
    if (s.childrenIn === 'own') creator.pidNsForChildren = creator.pid.ns;
    else {
      const ns = nsOf.get(s.childrenIn.ns);
      if (!ns) failed(`pid namespace ${s.childrenIn.ns} of the image was needed before it was made`);
      creator.pidNsForChildren = ns;
    }
    const r =
      plan.via === 'clone3'
        ? callerLibc(creator).clone3({ flags: s.flags, exit_signal: s.exitSignal, set_tid: s.pids }, 88)
        : callerLibc(creator).eclone((s.flags | s.exitSignal) >>> 0, { nr_pids: s.pids.length }, 48, s.pids);
    if (!r.child) {
      if (s.task === null) failed(`the placeholder for leader ${s.standsFor!.join('/')} could not be created: ${r.errno}`);
      const t = tasks[s.task]!;
      failed(plan.via === 'clone3' ? `clone3 of task ${t.numbers.join('/')} failed with ${r.errno} (set_tid ${s.pids.join(', ')}, innermost level first)` : `eclone of task ${t.numbers.join('/')} failed with ${r.errno} (pids ${s.pids.join(', ')}, oldest level first)`);
    }
    actors.set(s.actor, r.child);
    if (s.task === null) {
      standsFor.set(s.actor, s.standsFor!);
      return;
    }
    const t = tasks[s.task]!;
    if (!hasNumbers(r.child.pid, plan.outerLevels, t.numbers)) {
      failed(`task ${t.numbers.join('/')} came back as ${r.child.pid.numbers.slice(plan.outerLevels).join('/')}: this layout is not supported yet`, 'CKPT_UNSUPPORTED');
    }
    if (!nsOf.has(t.ns)) nsOf.set(t.ns, r.child.pid.ns);
    if (s.task === image.init) {
      const mm = libcOf(host, r.child).mmap(0, ARGUMENT_WINDOW, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      if (mm.errno) failed(`the container's init could not map its argument window: mmap failed with ${mm.errno}`);
      window = mm.ret;
    }
  };

  const carryOut = (s: RestoreStep): void => {
    switch (s.do) {
      case 'enter':
        actors.set(s.actor, enterContainer(m, above, s.setTid));
        return;
      case 'clone':
        return clone(s);
      case 'last_pid': {
        const ns = nsOf.get(s.ns);
        if (!ns) failed(`pid namespace ${s.ns} of the image was needed before it was made`);
        ns.lastPid = s.value;
        return;
      }
      case 'setsid': {
        const r = libcOf(host, actor(s.actor)).setsid();
        if (r.errno) failed(s.actor < tasks.length ? `setsid for task ${tasks[s.actor]!.numbers.join('/')} failed with ${r.errno}` : `setsid for the placeholder of session ${key(standsFor.get(s.actor) ?? [])} failed with ${r.errno}`);
        return;
      }
      case 'setpgid': {
        const r = libcOf(host, actor(s.actor)).setpgid(0, s.pgid);
        if (r.errno) {
          if (s.actor >= tasks.length) failed(`setpgid for the placeholder of group ${key(standsFor.get(s.actor) ?? [])} failed with ${r.errno}`);
          const t = tasks[s.actor]!;
          failed(`setpgid for task ${t.numbers.join('/')} into group ${t.pgid![0]} failed with ${r.errno}`);
        }
        return;
      }
      case 'leave': {
        const helper = actor(s.actor);
        const parent = actor(s.reaper);
        libcOf(host, helper).exit(0);
        const r = libcOf(host, parent).wait4(helper.pid.nrIn(parent.activeNs), 0, 0, 0);
        if (r.errno) failed(`reaping ${s.actor === plan.enterer ? 'the helper' : 'a placeholder'} failed with ${r.errno}`);
        return;
      }
      case 'adopt': {
        const c = at(s.task);
        c.parent = at(s.parent);
        at(s.parent).addChild(c);
        return;
      }
      case 'exit': {
        const t = tasks[s.task]!;
        const task = at(s.task);
        if (t.group.groupExitStatus !== null) task.group.groupExitStatus = t.group.groupExitStatus;
        exitThread(host, task, t.exitStatus);
        return;
      }
      case 'order':
        at(s.parent).orderChildren(s.children.map(at));
        return;
    }
  };

  for (const s of plan.create) carryOut(s);
  step('process groups');
  for (const s of plan.groups) carryOut(s);
  // Every task must now be in its session and group, at every container level.
  const containerNs = at(image.init).pid.ns;
  checkSessionsAndGroups(tasks, at, containerNs, plan.outerLevels);

  step('namespaces and credentials');
  const { userOf, pidNs } = restoreNamespaces(host, image, at, enclosing);

  step('last_pid');
  // Zombies exit, with their recorded status (their children were reaped or reparented at death).
  for (const s of plan.exits) carryOut(s);

  step('memory');
  const consoleOut = restoreTaskState(host, image, { at, userOf, pidNs, containerNs, arch, name: opts.name, adoptPages: opts.adoptPages === true, step });
  // Children in the order the source kept them (creation, or reparenting when a parent died).
  for (const s of plan.order) carryOut(s);

  step('scheduler');
  for (const [path, text] of image.programs) if (!m.sources.has(path)) m.addProgram(path, text);
  const container: Container = { name: opts.name, init: at(image.init), console: consoleOut };
  m.containers.set(container.name, container);
  m.scheduler.resumeRound([...m.scheduler.pending(), ...image.round.map((i) => at(i))]);
  return container;
}

/** checkSessionsAndGroups fails (CKPT_UNSUPPORTED) unless every restored task is in the session and group the image gives it, named from the container down. */
function checkSessionsAndGroups(tasks: readonly ImageTask[], at: (i: number) => Task, containerNs: PidNamespace, outerLevels: number): void {
  /** idInside names a restored session or group id as the image does: its numbers from the container down, '' for one outside (cached: asked once per process) */
  const insideNames = new Map<Pid, string>();
  const idInside = (p: Pid): string => {
    let name = insideNames.get(p);
    if (name === undefined) insideNames.set(p, (name = p.nrIn(containerNs) !== 0 ? p.numbers.slice(outerLevels).join('/') : ''));
    return name;
  };
  tasks.forEach((t, i) => {
    const g = at(i).group;
    if (idInside(g.session) !== key(t.sid)) failed(`task ${t.numbers.join('/')} ended up in session ${idInside(g.session) || '(outside)'} instead of ${key(t.sid) || '(outside)'}: this session layout is not supported yet`, 'CKPT_UNSUPPORTED');
    if (idInside(g.pgrp) !== key(t.pgid)) failed(`task ${t.numbers.join('/')} ended up in process group ${idInside(g.pgrp) || '(outside)'} instead of ${key(t.pgid) || '(outside)'}: this group layout is not supported yet`, 'CKPT_UNSUPPORTED');
  });
}

/** restoreNamespaces gives the image's user namespaces to the target and its pid namespaces their owners, last_pid and state, making those no task lives in. */
function restoreNamespaces(host: Machine['host'], image: ContainerImage, at: (i: number) => Task, enclosing: Task): { userOf: (i: number) => UserNamespace; pidNs: PidNamespace[] } {
  const tasks = image.tasks;
  const above = enclosing.pid.ns;
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
    const ns = new PidNamespace(outer, userOf(user), outer.childPidMax());
    host.commitPidNs(ns);
    pidNs[k] = ns;
  });
  image.pidNs.forEach(([, user, lastPid, accepting, pidMax], k) => {
    const ns = pidNs[k]!;
    ns.userNs = userOf(user);
    if (pidMax !== undefined) ns.pidMax = pidMax;
    ns.lastPid = lastPid;
    ns.accepting = accepting;
  });
  return { userOf, pidNs: pidNs as PidNamespace[] };
}

interface TaskStateContext {
  at: (i: number) => Task;
  userOf: (i: number) => UserNamespace;
  pidNs: readonly PidNamespace[];
  containerNs: PidNamespace;
  arch: Arch;
  /** the container's name, its console's */
  name: string;
  adoptPages: boolean;
  step: (step: string) => void;
}

/** restoreTaskState gives every task what no syscall can: memory, open files, registers, credentials and the rest; it returns the container's console. */
function restoreTaskState(host: Machine['host'], image: ContainerImage, { at, userOf, pidNs, containerNs, arch, name, adoptPages, step }: TaskStateContext): Console {
  const tasks = image.tasks;
  // Memory: each image address space once, each shared page once.
  const pages = pageFrames(image.pages, adoptPages);
  const mms = image.mms.map((rec) => decodeAddressSpace(arch, rec, (p) => pages[p]!));
  const consoleOut = new Console(name);
  if (image.console.length > 0) consoleOut.write(new TextEncoder().encode(image.console));
  const files = image.files.map(([users, fds]) => {
    const table = new FileTable();
    for (const rec of fds) {
      const [fd, kind, flags] = rec;
      if (kind === 'console') table.set(fd, { kind, flags, console: consoleOut });
      else if (kind === 'ns_last_pid' || kind === 'pid_max') table.set(fd, { kind, flags, pos: rec[3]! });
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
    // The task takes its own ABI's state: on a compat host it stays a 32-bit task (docs/semantics.md §15.7).
    task.takeState(arch, t.regs, fpus[t.fpu]!, extra);
    if (arch !== host.arch) arch.compatFixup?.(task.dv, task.extra);
    const [uid, euid, suid, user, effective, permitted, nondumpable] = t.cred;
    task.creds = { uid, euid, suid, userNs: userOf(user), effective, permitted };
    if (nondumpable) task.recordNotDumpable();
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
  return consoleOut;
}

/** hasNumbers reports whether `pid` has exactly `numbers` at its levels from `from` down (without making arrays: one check per restored task). */
function hasNumbers(pid: Pid, from: number, numbers: readonly number[]): boolean {
  if (pid.level - from + 1 !== numbers.length) return false;
  for (let d = 0; d < numbers.length; d++) if (pid.nrAt(from + d) !== numbers[d]) return false;
  return true;
}

/**
 * enterContainer makes, in the pid namespace `ns` of a running container, the helper that will create
 * the restored container's init: the restorer (the host's init) joins `ns` for its children with
 * pidfd_open and setns, clones the helper there with clone3 set_tid, and joins its own namespace again.
 * On mainline a new pid namespace must be owned by its parent's user namespace or one below it
 * (create_pid_namespace), so the helper then also joins the container's user namespace, with a pidfd
 * it inherited, before it makes anything.
 */
function enterContainer(m: Machine, ns: PidNamespace, setTid: readonly number[]): Task {
  const host = m.host;
  const l = libcOf(host, host.init);
  const join = (nr: number): void => {
    const fd = l.pidfd_open(nr, 0);
    const r = fd.errno ? fd : l.setns(fd.ret, CLONE_NEWPID);
    if (fd.ret >= 0) l.close(fd.ret);
    if (r.errno) failed(`entering the pid namespace of ${nr === 1 ? 'the host' : `container init ${nr}`} failed with ${r.errno}`);
  };
  const reaper = ns.childReaper!;
  // kept open for the helper to inherit when it must join the container's user namespace
  const userFd = needsItsUserNs(m, ns) ? l.pidfd_open(reaper.pid.nr, 0) : null;
  if (userFd?.errno) failed(`opening container init ${reaper.pid.nr} failed with ${userFd.errno}`);
  join(reaper.pid.nr);
  const r = l.clone3({ exit_signal: SIGCHLD, set_tid: [...setTid] }, 88);
  join(1);
  if (userFd) l.close(userFd.ret);
  if (!r.child) failed(`the helper inside the enclosing container could not be created: clone3 failed with ${r.errno}`);
  if (userFd) {
    const hl = libcOf(host, r.child);
    const u = hl.setns(userFd.ret, CLONE_NEWUSER);
    hl.close(userFd.ret);
    if (u.errno) failed(`the helper could not join the enclosing container's user namespace: setns failed with ${u.errno}`);
  }
  return r.child;
}
