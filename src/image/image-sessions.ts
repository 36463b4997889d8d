/**
 * How an image's sessions and process groups are laid out, read from the
 * image alone: which ids still have their leader, each namespace's init,
 * and how a session whose leader has gone can be rebuilt. The preflight
 * and the restore planner both ask.
 */
import { MAX_PID_NS_LEVEL } from '../abi/limits.js';
import type { ContainerImage, ImageTask } from './container-image.js';

/** key names a pid, session or group id by its numbers from the container down ('' for one outside the container). */
export function key(ids: readonly number[] | null): string {
  return ids ? ids.join('/') : '';
}

/** leaderIds lists the pids (all levels, joined by '/') of the thread-group leaders: the session and group ids whose leader is still there. */
export function leaderIds(tasks: readonly ImageTask[]): Set<string> {
  return new Set(tasks.filter((t, i) => t.leader === i).map((t) => key(t.numbers)));
}

/** reapersOf maps each pid namespace of the image to its init's task index. */
export function reapersOf(tasks: readonly ImageTask[]): Map<number, number> {
  const reaper = new Map<number, number>();
  tasks.forEach((t, i) => {
    if (t.numbers[t.numbers.length - 1] === 1) reaper.set(t.ns, i);
  });
  return reaper;
}

/** depthOf counts the levels from the image's container namespace down to namespace k (0 for the container's own). */
export function depthOf(image: ContainerImage, k: number): number {
  let d = 0;
  for (let p = image.pidNs[k]?.[0] ?? -1; p >= 0 && d <= MAX_PID_NS_LEVEL; p = image.pidNs[p]?.[0] ?? -1) d++;
  return d;
}

/** parentInSession: the task's parent is in the task's session too, so forking from it puts the child there. */
export function parentInSession(tasks: readonly ImageTask[], t: ImageTask): boolean {
  const p = tasks[t.parent];
  return p !== undefined && t.sid !== null && p.sid !== null && key(p.sid) === key(t.sid);
}

/**
 * LeaderlessSession says how a session whose leader has gone is rebuilt: a placeholder with its id
 * makes it, created by `creator`; members whose parent is inside the session are forked by that
 * parent; the others by the placeholder: with CLONE_PARENT when their parent is the creator, and
 * plainly when it is their namespace's init, which inherits them when the placeholder leaves.
 */
export interface LeaderlessSession {
  /** parents outside the session other than the init: at most one can be served */
  parents: Set<number>;
  /** the placeholder's creator (the one such parent, else the init), and the first member it serves */
  creator: number;
  first: number;
}

/** leaderlessSessions finds the sessions without a leader and how each would be rebuilt, keyed by their ids. */
export function leaderlessSessions(tasks: readonly ImageTask[], leaders: ReadonlySet<string>): Map<string, LeaderlessSession> {
  const reaper = reapersOf(tasks);
  const out = new Map<string, LeaderlessSession>();
  tasks.forEach((t, i) => {
    if (t.leader !== i || !t.sid || leaders.has(key(t.sid)) || parentInSession(tasks, t)) return;
    const id = key(t.sid);
    let s = out.get(id);
    if (!s) out.set(id, (s = { parents: new Set(), creator: -1, first: i }));
    if (t.parent !== reaper.get(t.ns)) {
      s.parents.add(t.parent);
      s.creator = t.parent;
    }
  });
  for (const s of out.values()) if (s.creator < 0) s.creator = tasks[s.first]!.parent;
  return out;
}

/** sessionMembers lists each session's processes in image order ('' for the session outside the container its init was born in). */
export function sessionMembers(tasks: readonly ImageTask[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  tasks.forEach((t, k) => {
    if (t.leader !== k) return;
    const where = key(t.sid);
    const list = out.get(where);
    if (list) list.push(k);
    else out.set(where, [k]);
  });
  return out;
}
