/**
 * planRestore turns an image into the ordered steps that rebuild its
 * process tree on a target, as plain data: which process creates which,
 * with what flags and which pid at each level; the setsid and setpgid calls
 * that rebuild sessions and groups; the placeholders that stand in for
 * leaders that have gone; ns_last_pid writes; the exits that make zombies;
 * the order children are kept in. It is a pure function of the image and a
 * few facts of the target; an executor (the model's, or the real kernel's)
 * carries the steps out. Tasks are made the way Linux-CR's restart made
 * them: each by its parent (a thread by its leader), with eclone naming its
 * pid at every container level, or clone3 with set_tid, innermost first.
 */
import { CLONE_NEWPID, CLONE_PARENT, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM } from '../abi/clone-flags.js';
import { SIGCHLD } from '../abi/signals.js';
import type { ContainerImage, ImageTask } from './container-image.js';
import { key, leaderIds, leaderlessSessions, parentInSession, reapersOf, sessionMembers } from './image-sessions.js';
import { failed } from './restore-error.js';

/** The process that restores: the host's init (a restore into a container enters it through a helper), actor -1. */
export const RESTORER = -1;

/**
 * An actor is a process of the plan: image task i is actor i; the helpers
 * the plan adds (placeholders, the helper inside an enclosing container)
 * are numbered from the image's task count on; RESTORER is the restorer.
 */
export type Actor = number;

/** Where a creator's pid_ns_for_children points when it clones: its own namespace, or image pid namespace k. */
export type ChildrenIn = 'own' | { ns: number };

/** CloneStep: `creator` makes `actor` with one eclone or clone3 call. */
export interface CloneStep {
  do: 'clone';
  actor: Actor;
  creator: Actor;
  /** the image task it becomes; null for a placeholder */
  task: number | null;
  /** for a placeholder: the id (numbers from the container down) of the leader it stands in for */
  standsFor: number[] | null;
  /** CLONE_* flags, without the exit signal */
  flags: number;
  exitSignal: number;
  /** where the creator's pid_ns_for_children must point for this call */
  childrenIn: ChildrenIn;
  /** the pids named, in the call's own order: eclone's pids[] oldest level first (0: the kernel picks), clone3's set_tid innermost first */
  pids: number[];
}

/** Every step of a plan. */
export type RestoreStep =
  /** the helper inside an enclosing container: the restorer joins that namespace with pidfd_open and setns, clone3s it with set_tid, and joins its own again */
  | { do: 'enter'; actor: Actor; setTid: number[] }
  | CloneStep
  /** write ns_last_pid of image pid namespace `ns`, so that the next pid it gives is value + 1 */
  | { do: 'last_pid'; ns: number; value: number }
  | { do: 'setsid'; actor: Actor }
  /** setpgid(0, pgid) from the actor itself: 0 makes its own group */
  | { do: 'setpgid'; actor: Actor; pgid: number }
  /** the actor exits with 0 and `reaper` (its parent) reaps it */
  | { do: 'leave'; actor: Actor; reaper: Actor }
  /** the child goes on the children list of `parent`, a thread made after it (the kernel keeps real_parent) */
  | { do: 'adopt'; task: number; parent: number }
  /** the task exits with its recorded status, to be a zombie (or a gone thread) as in the image */
  | { do: 'exit'; task: number }
  /** the parent's children list takes this order */
  | { do: 'order'; parent: number; children: number[] };

export interface RestorePlan {
  via: 'eclone' | 'clone3';
  /** how many levels lie above the container (the levels of the namespace it goes into and those above) */
  outerLevels: number;
  /** the helper made inside an enclosing container, if any */
  enterer: Actor | null;
  /** how many actors the plan has beyond the image's tasks */
  helpers: number;
  /** processes and threads made, with the sessions they are born into */
  create: RestoreStep[];
  /** process groups, then the placeholders leave */
  groups: RestoreStep[];
  /** zombies made */
  exits: RestoreStep[];
  /** children lists put in the source's order */
  order: RestoreStep[];
}

/** What a plan needs of the target. */
export interface PlanTarget {
  /** the level of the pid namespace the container goes into (0: the host's) */
  aboveLevel: number;
  /** whether the container goes into another container's namespace (a helper must enter it first) */
  into: boolean;
  pidMax: number;
  /** whether pid `nr` at `level` (0 .. aboveLevel) is taken */
  taken(level: number, nr: number): boolean;
}

export interface PlanOptions {
  via?: 'eclone' | 'clone3';
  /** also name the pids at the levels above the container */
  hostPids?: boolean;
}

/** planRestore makes the plan; it throws RestoreError (CKPT_UNSUPPORTED) for a layout it cannot rebuild. */
export function planRestore(image: ContainerImage, target: PlanTarget, opts: PlanOptions = {}): RestorePlan {
  return new Planner(image, target, opts).plan();
}

/** Planner follows, as it plans, what the executor will build: who exists, in which session, at which depth. */
class Planner {
  private readonly tasks: readonly ImageTask[];
  private readonly via: 'eclone' | 'clone3';
  private readonly outerLevels: number;
  private nextActor: number;
  private readonly create: RestoreStep[] = [];
  private readonly groupSteps: RestoreStep[] = [];
  /** image tasks made so far */
  private readonly made: boolean[];
  /** image pid namespaces that have their first task */
  private readonly madeNs = new Set<number>();
  /** each actor's levels below the container's enclosing namespace (the restorer's: 0) */
  private readonly depth = new Map<Actor, number>([[RESTORER, 0]]);
  /** the session each process is in, named as the image names it ('' for the one outside the container) */
  private readonly session = new Map<Actor, string>([[RESTORER, '']]);
  /** image tasks that lead a session made later with setsid, once the children that stayed behind exist */
  private readonly pendingSetsid = new Set<number>();
  /** the session each task must be born into (see plan) */
  private readonly birth: Array<string | undefined>;
  private readonly leaders: Set<string>;
  private readonly sessions: ReturnType<typeof leaderlessSessions>;
  private readonly members: Map<string, number[]>;
  private readonly reaperOf: Map<number, number>;
  /** processes with a thread still running */
  private readonly live = new Set<number>();
  private readonly sessionHelpers = new Map<string, Actor>();
  private readonly placeholders: Array<{ helper: Actor; parent: Actor }> = [];

  constructor(
    private readonly image: ContainerImage,
    private readonly target: PlanTarget,
    private readonly opts: PlanOptions,
  ) {
    this.tasks = image.tasks;
    this.via = opts.via ?? 'eclone';
    this.outerLevels = target.aboveLevel + 1;
    this.nextActor = image.tasks.length;
    this.made = new Array<boolean>(image.tasks.length).fill(false);
    this.leaders = leaderIds(this.tasks);
    this.sessions = leaderlessSessions(this.tasks, this.leaders);
    this.members = sessionMembers(this.tasks);
    this.reaperOf = reapersOf(this.tasks);
    for (const t of this.tasks) if (!t.exited) this.live.add(t.leader);
    this.birth = this.births();
  }

  /**
   * births: birth[i] is the session task i must be forked into ('' for the one outside the container):
   * its own, unless it leads one, made later with setsid; then the one (with a leader) its children, or
   * theirs, that stayed behind are in, or undefined when none did. Children (of any of a process's
   * threads) come after the process, so a pass from the last task back sees them first.
   */
  private births(): Array<string | undefined> {
    const tasks = this.tasks;
    const birth = new Array<string | undefined>(tasks.length);
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
        if (b !== undefined && b !== own && (b === '' || this.leaders.has(b))) {
          birth[i] = b;
          break;
        }
      }
    }
    return birth;
  }

  plan(): RestorePlan {
    const { image, tasks } = this;
    // Tasks are made in the image's order, the order the source created them, so that the scheduler,
    // which runs tasks in creation order, runs them as before. A thread is made by its leader, a
    // process by its parent; both always precede it.
    const enterer = this.target.into ? this.enter() : null;
    const laterParent = new Map<number, number>();
    tasks.forEach((t, i) => {
      if (i === image.init) {
        this.createTask(i, enterer ?? RESTORER);
        // The helper that made the container's init in the enclosing namespace leaves; the init is
        // reparented to that namespace's reaper, the enclosing container's init.
        if (enterer !== null) this.create.push({ do: 'leave', actor: enterer, reaper: RESTORER });
        return;
      }
      let creator = t.leader !== i ? t.leader : t.parent;
      // A parent thread made after its child (the child went to it when the thread that forked it exited):
      // the child is forked by that thread's leader, and handed to the thread once the threads exist.
      if (t.leader === i && creator >= 0 && !this.made[creator] && tasks[creator]!.leader !== creator) {
        laterParent.set(i, creator);
        creator = tasks[creator]!.leader;
      }
      if (creator < 0 || !this.made[creator]) failed(`task ${t.numbers.join('/')} comes before its ${t.leader !== i ? 'thread-group leader' : 'parent'} in the image: this layout is not supported yet`, 'CKPT_UNSUPPORTED');
      this.createTask(i, creator);
    });
    // The kernel keeps a child on the children list of the very thread that is its parent (real_parent).
    for (const [child, parent] of laterParent) this.create.push({ do: 'adopt', task: child, parent });
    for (const i of [...this.pendingSetsid]) this.setsid(i);
    this.planGroups();
    return {
      via: this.via,
      outerLevels: this.outerLevels,
      enterer,
      helpers: this.nextActor - tasks.length,
      create: this.create,
      groups: this.groupSteps,
      exits: tasks.flatMap((t, i): RestoreStep[] => (t.exited ? [{ do: 'exit', task: i }] : [])),
      order: tasks.flatMap((t, i): RestoreStep[] => (t.children.length > 1 ? [{ do: 'order', parent: i, children: t.children }] : [])),
    };
  }

  /**
   * enter plans the helper that will create the restored container's init inside the running
   * container it goes into, with pids at every level that the image does not need: the highest
   * free ones. (A child made in a joined namespace cannot make a new one itself: copy_pid_ns
   * refuses it, hence the helper.)
   */
  private enter(): Actor {
    const setTid: number[] = [];
    for (let level = this.target.aboveLevel; level >= 0; level--) {
      const wanted = new Set(this.opts.hostPids ? this.tasks.map((t) => t.outer[level]) : []);
      let nr = this.target.pidMax - 1;
      while (nr > 0 && (this.target.taken(level, nr) || wanted.has(nr))) nr--;
      setTid.push(nr);
    }
    const actor = this.nextActor++;
    this.depth.set(actor, 0);
    this.session.set(actor, '');
    this.create.push({ do: 'enter', actor, setTid });
    return actor;
  }

  /** groupOf is the actor whose session an actor shares: a thread's leader, else itself. */
  private groupOf(a: Actor): Actor {
    return a >= 0 && a < this.tasks.length ? this.tasks[a]!.leader : a;
  }

  private sessionOf(a: Actor): string {
    return this.session.get(this.groupOf(a)) ?? '';
  }

  private setsid(i: number): void {
    this.pendingSetsid.delete(i);
    this.create.push({ do: 'setsid', actor: i });
    this.session.set(i, key(this.tasks[i]!.numbers));
  }

  /** startsNamespace: task i is the init of a namespace not made yet (made with CLONE_NEWPID) */
  private startsNamespace(i: number): boolean {
    const t = this.tasks[i]!;
    return t.numbers[t.numbers.length - 1] === 1 && !this.madeNs.has(t.ns);
  }

  /** within reports whether image pid namespace `outer` is `inner` or one of its ancestors */
  private within(outer: number, inner: number): boolean {
    for (let k = inner; k >= 0; k = this.image.pidNs[k]![0]) if (k === outer) return true;
    return false;
  }

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
  private hostFor(i: number, need: string): { k: number; adopt: boolean } | undefined {
    const t = this.tasks[i]!;
    // a new namespace's init is made with CLONE_NEWPID, from its parent namespace only, and never with CLONE_PARENT
    const newNs = this.startsNamespace(i);
    for (const k of this.members.get(need) ?? []) {
      if (k >= i) break;
      const u = this.tasks[k]!;
      if (newNs ? u.ns !== this.image.pidNs[t.ns]![0] : !this.within(u.ns, t.ns)) continue;
      if (!newNs && u.parent === t.parent && this.reaperOf.get(u.ns) !== k) return { k, adopt: true };
      if (!this.live.has(k) && t.parent === this.reaperOf.get(u.ns)) return { k, adopt: false };
    }
    return undefined;
  }

  /** need says an image task must exist by now. */
  private need(i: number): Actor {
    if (!this.made[i]) failed(`task ${this.tasks[i]?.numbers.join('/')} was needed before it was created`);
    return i;
  }

  /** placeholder plans a stand-in with the id `ids` of a leader that has gone, made by `creator` in its own namespace. */
  private placeholder(ids: number[], creator: Actor, steps: RestoreStep[]): Actor {
    const depth = this.depth.get(creator)!;
    const inside = ids.slice(0, depth);
    const pids = this.via === 'clone3' ? [...inside].reverse() : [...new Array<number>(this.outerLevels).fill(0), ...inside];
    const actor = this.nextActor++;
    steps.push({ do: 'clone', actor, creator, task: null, standsFor: ids, flags: 0, exitSignal: SIGCHLD, childrenIn: 'own', pids });
    this.depth.set(actor, depth);
    this.session.set(actor, this.sessionOf(creator));
    this.placeholders.push({ helper: actor, parent: creator });
    return actor;
  }

  /** createTask plans task i, made by `given` (or whoever must make it in its stead). */
  private createTask(i: number, given: Actor): void {
    const { tasks, image } = this;
    const t = tasks[i]!;
    let creator = given;
    let adopt = 0;
    const leaderless = t.leader === i && t.sid ? this.sessions.get(key(t.sid)) : undefined;
    if (leaderless && !parentInSession(tasks, t)) {
      // A session whose leader has gone (see LeaderlessSession): the placeholder forks this member,
      // with CLONE_PARENT when its parent is the placeholder's creator.
      let helper = this.sessionHelpers.get(key(t.sid));
      if (helper === undefined) {
        helper = this.placeholder(t.sid!, this.need(leaderless.creator), this.create);
        this.create.push({ do: 'setsid', actor: helper });
        this.session.set(helper, key(t.sid!.slice(0, this.depth.get(helper)!)));
        this.sessionHelpers.set(key(t.sid), helper);
      }
      creator = helper;
      adopt = t.parent === leaderless.creator ? CLONE_PARENT : 0;
    }
    let creatorIndex = creator >= 0 && creator < tasks.length ? creator : -1;
    const need = this.birth[i];
    if (this.pendingSetsid.has(creatorIndex) && need === key(tasks[creatorIndex]!.numbers)) this.setsid(creatorIndex);
    if (!leaderless && t.leader === i && i !== image.init && need !== undefined && this.sessionOf(creator) !== need) {
      // Its creator is not in the session it must be born in: one of that session forks it (hostFor).
      const other = this.hostFor(i, need);
      if (!other) failed(`task ${t.numbers.join('/')} must be born in ${need ? `session ${need.split('/')[0]}` : 'the session outside the container'}, where no process made before it has its parent or has exited to hand it to its init: not supported yet`, 'CKPT_UNSUPPORTED');
      creator = this.need(other.k);
      creatorIndex = other.k;
      adopt = other.adopt ? CLONE_PARENT : 0;
      if (this.pendingSetsid.has(other.k) && need === key(tasks[other.k]!.numbers)) this.setsid(other.k);
    }
    const thread = t.leader !== i;
    const newNs = !thread && this.startsNamespace(i);
    // the creator's levels past the enclosing namespace are container levels; the ones up to it are outer levels
    const depth = this.depth.get(creator)!;
    let childrenIn: ChildrenIn = 'own';
    // CLONE_THREAD needs pid_ns_for_children to be the creator's own namespace
    if (!thread) {
      // A child goes where its creator's pid_ns_for_children points (moved by unshare and setns); a new
      // namespace is made below that one. The creator is pointed there, as the image's history had it.
      const parentNs = image.pidNs[t.ns]![0];
      const where = newNs ? parentNs : t.ns;
      if (newNs && parentNs < 0) childrenIn = 'own';
      else if (this.madeNs.has(where)) childrenIn = { ns: where };
      else failed(`task ${t.numbers.join('/')} is in a pid namespace made after it: this layout is not supported yet`, 'CKPT_UNSUPPORTED');
      // eclone names pids down to its caller's level only: a deeper one is the next its namespace gives (ns_last_pid)
      if (!newNs && t.numbers.length > depth && this.via !== 'clone3') this.create.push({ do: 'last_pid', ns: t.ns, value: t.numbers[t.numbers.length - 1]! - 1 });
    }
    const inside = this.via === 'clone3' ? t.numbers.slice(0, newNs ? -1 : undefined) : t.numbers.slice(0, depth);
    const outer = this.opts.hostPids ? t.outer.slice(0, this.outerLevels) : new Array<number>(this.outerLevels).fill(0);
    const flags = (thread ? CLONE_THREAD | CLONE_SIGHAND | CLONE_VM : 0) | (newNs ? CLONE_NEWPID : 0) | adopt;
    let exitSignal = thread ? 0 : t.exitSignal & 0xff;
    let pids: number[];
    if (this.via === 'clone3') {
      // set_tid is innermost first; a new namespace's own level must be named 1; 0 is not "auto" there.
      pids = [...(newNs ? [1] : []), ...[...inside].reverse(), ...(this.opts.hostPids ? [...outer].reverse() : [])];
      // clone3 refuses an exit signal with CLONE_PARENT: the child takes its creator's leader's.
      if (adopt) exitSignal = 0;
    } else pids = [...outer, ...inside];
    this.create.push({ do: 'clone', actor: i, creator, task: i, standsFor: null, flags, exitSignal, childrenIn, pids });
    this.made[i] = true;
    this.depth.set(i, t.numbers.length);
    if (!thread) this.session.set(i, this.sessionOf(creator));
    this.madeNs.add(t.ns);
    if (!thread && key(t.sid) === key(t.numbers)) this.pendingSetsid.add(i);
  }

  /** planGroups: process groups whose leader has gone get a placeholder; leaders make their groups, members join; the placeholders leave. */
  private planGroups(): void {
    const { tasks } = this;
    const groupHelpers = new Set<string>();
    tasks.forEach((t, i) => {
      if (t.leader !== i || !t.pgid || this.leaders.has(key(t.pgid)) || groupHelpers.has(key(t.pgid)) || key(t.pgid) === key(t.sid)) return;
      groupHelpers.add(key(t.pgid));
      const helper = this.placeholder(t.pgid, this.need(i), this.groupSteps);
      this.groupSteps.push({ do: 'setpgid', actor: helper, pgid: 0 });
    });
    // Process groups: leaders first, then members join them (setpgid from the task itself).
    const own = (t: ImageTask, id: number[]): number => id[t.numbers.length - 1] ?? 0;
    for (const pass of ['leaders', 'members'] as const) {
      tasks.forEach((t, i) => {
        if (t.leader !== i || !t.pgid || t.group.sessionLeader) return;
        const self = key(t.pgid) === key(t.numbers);
        if ((pass === 'leaders') !== self) return;
        this.groupSteps.push({ do: 'setpgid', actor: i, pgid: self ? 0 : own(t, t.pgid) });
      });
    }
    // The placeholders leave: their pids stay allocated as long as the group or session is in use.
    for (const { helper, parent } of this.placeholders) this.groupSteps.push({ do: 'leave', actor: helper, reaper: parent });
  }
}
