/**
 * The preflight of a restore: every reason an image cannot go onto a target,
 * all of them, found before anything is created. It reads the target only
 * through its facts (TargetFacts): a model host gives them from its kernel
 * state, a real machine from /proc; the checks are the same.
 */
import { MAX_PID_NS_LEVEL } from '../abi/limits.js';
import type { Arch } from '../arch/arch.js';
import { placement } from '../arch/compat.js';
import { archByName } from '../arch/registry.js';
import { isValidName, NAME_RULE } from '../container/names.js';
import { LEGACY_KERNEL, type KernelName } from '../kernel/personality.js';
import type { ContainerImage } from './container-image.js';
import { depthOf, key, leaderIds, leaderlessSessions } from './image-sessions.js';
import type { Problem, RestoreErrorCode } from './restore-error.js';

/** Holder is what keeps a pid of the target taken: a process, a zombie, a thread, or only a process group or session id whose leader is gone. */
export type Holder =
  | { kind: 'task' | 'zombie'; nr: number }
  | { kind: 'thread'; nr: number; process: number }
  | { kind: 'group' | 'session' | 'pid'; nr: number };

/** describeHolder names a holder in a message. */
export function describeHolder(h: Holder): string {
  switch (h.kind) {
    case 'task':
      return `task ${h.nr}`;
    case 'zombie':
      return `zombie ${h.nr}`;
    case 'thread':
      return `thread ${h.nr} of process ${h.process}`;
    case 'group':
      return `process group ${h.nr} (its leader is gone)`;
    case 'session':
      return `session ${h.nr} (its leader is gone)`;
    case 'pid':
      return `pid ${h.nr}`;
  }
}

/** The levels above the restored container: the pid namespace it goes into (level `level`) and those above it. */
export interface Enclosing {
  level: number;
  /** holderAt says what holds pid `nr` at `level` (0 .. this level), or null when it is free */
  holderAt(level: number, nr: number): Holder | null;
  /** levelName names a level: `host NAME`, `container NAME`, or `pid-namespace level N` */
  levelName(level: number): string;
  /**
   * a pid namespace made inside this one must be made by a process in its user namespace, which the
   * restorer is not in (mainline's create_pid_namespace: the new namespace's owner must be the parent's or below it)
   */
  needsItsUserNs: boolean;
}

/** TargetFacts is what a preflight (and a plan) needs to know of a target. */
export interface TargetFacts {
  /** the host's name, for messages */
  name: string;
  arch: Arch;
  /** the kernel personality */
  kernel: KernelName;
  pidMax: number;
  /** mainline: each pid namespace has a pid_max of its own, bounded by the architecture's PID_MAX_LIMIT */
  perNsPidMax: boolean;
  pidMaxLimit: number;
  hasContainer(name: string): boolean;
  /** where the container would go, or why it cannot go there */
  enclosing: Enclosing | { missing: string };
}

export interface PreflightOptions {
  name?: string;
  via?: 'eclone' | 'clone3';
  hostPids?: boolean;
  into?: string;
  privileged?: boolean;
}

/** findProblems lists every reason the image cannot go onto the target, without changing anything. */
export function findProblems(target: TargetFacts, image: ContainerImage, opts: PreflightOptions = {}): Problem[] {
  const problems: Problem[] = [];
  const add = (code: RestoreErrorCode, message: string): void => {
    if (!problems.some((p) => p.message === message)) problems.push({ code, message });
  };
  const above = 'missing' in target.enclosing ? null : target.enclosing;
  if ('missing' in target.enclosing) add('CKPT_NO_CONTAINER', target.enclosing.missing);
  const name = opts.name ?? image.name;
  if (!isValidName(name)) add('CKPT_BAD_NAME', `bad container name ${JSON.stringify(name)}: ${NAME_RULE}`);
  if (target.hasContainer(name)) add('CKPT_NAME_TAKEN', `a container named ${name} already exists on host ${target.name}`);
  const imageArch = archByName(image.arch);
  if (!imageArch) add('CKPT_ARCH_MISMATCH', `the image's architecture ${image.arch} is unknown`);
  else {
    const p = placement(imageArch, target.arch);
    if (!p.ok) add('CKPT_ARCH_MISMATCH', `cannot restore a ${image.arch} image on host ${target.name} (${target.arch.name}): ${p.reason}`);
  }
  // The two personalities allocate, wrap and exit differently: a process restored under the other's rules would not go on as it did.
  const imageKernel = image.kernel ?? LEGACY_KERNEL;
  if (imageKernel !== target.kernel) {
    add('CKPT_KERNEL_MISMATCH', `cannot restore an image of a ${imageKernel} host on host ${target.name}, whose kernel personality is ${target.kernel}: restore it on a ${imageKernel} host (ckpt host create NAME --arch ${image.arch} --kernel ${imageKernel})`);
  }
  // a loop, not Math.max(...): images hold hundreds of thousands of numbers
  let biggest = 0;
  let biggestInside = 0;
  for (const t of image.tasks) {
    if (opts.hostPids) for (const nr of t.outer) if (nr > biggest) biggest = nr;
    for (const nr of t.numbers) if (nr > biggestInside) biggestInside = nr;
  }
  // On mainline the container's namespaces are new ones, each with a pid_max of its own (PID_MAX_LIMIT unless the image says otherwise).
  if (!target.perNsPidMax) biggest = Math.max(biggest, biggestInside);
  if (biggest >= target.pidMax) add('CKPT_PID_MAX', `the image uses pid ${biggest}, not below host ${target.name}'s pid_max ${target.pidMax}`);
  if (target.perNsPidMax) {
    const limit = target.pidMaxLimit;
    if (biggestInside >= limit) add('CKPT_PID_MAX', `the image uses pid ${biggestInside} in its own namespaces, not below host ${target.name}'s PID_MAX_LIMIT ${limit}`);
    image.pidNs.forEach(([, , , , pidMax], k) => {
      if (pidMax !== undefined && pidMax > limit) add('CKPT_PID_MAX', `pid namespace ${k} of the image has pid_max ${pidMax}, above host ${target.name}'s PID_MAX_LIMIT ${limit}`);
    });
  }
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
      if (!id || leaders.has(key(id))) continue;
      if (id.length !== t.numbers.length) add('CKPT_UNSUPPORTED', `${what} ${id[0]} of task ${t.numbers.join('/')} has no leader left and lives in another pid namespace than its member: not supported yet`);
    }
  });
  if (above && above.level + image.pidNs.reduce((d, _, k) => Math.max(d, depthOf(image, k)), 0) + 1 > MAX_PID_NS_LEVEL) {
    add('CKPT_UNSUPPORTED', `the image's namespaces would nest deeper than ${MAX_PID_NS_LEVEL} levels below ${above.levelName(above.level)}`);
  }
  if (above && above.needsItsUserNs) {
    // Mainline: a pid namespace inside the enclosing container must be made by a process in that
    // container's user namespace (create_pid_namespace), which has no capability outside it.
    const why = `on a mainline host a pid namespace inside ${above.levelName(above.level)} must be made by a process in its user namespace`;
    if (opts.via !== 'clone3') add('CKPT_UNSUPPORTED', `${why}, and eclone names pids only with CAP_SYS_ADMIN in the initial user namespace: restore with --via clone3, or onto a 2.6.32 host`);
    else if (opts.hostPids) add('CKPT_UNSUPPORTED', `--host-pids: ${why}, which cannot name pids in the namespaces above it: restore without --host-pids, or onto a 2.6.32 host`);
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
        const holder = above.holderAt(level, nr);
        if (!holder) return;
        const where = level === 0 ? `host pid ${nr}` : `pid ${nr} at level ${level} (${above.levelName(level)})`;
        add('CKPT_PID_COLLISION', `${where} (task ${t.numbers.join('/')} of the image) is held by ${describeHolder(holder)} ${level === 0 ? `on host ${target.name}` : `in ${above.levelName(level)}`}: ${opts.via ?? 'eclone'} would fail with ${errno}`);
      });
    }
  }
  return problems;
}
