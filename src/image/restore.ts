/**
 * restoreContainer brings a ContainerImage back on a machine with identical
 * pids at every level of the container, in three parts: the preflight finds
 * every reason the image cannot go there (restore-preflight.ts), the planner
 * turns the image into ordered steps (restore-plan.ts), and the model's
 * executor carries them out and restores what no syscall can
 * (restore-model.ts). The levels above the container are chosen by the
 * target kernel unless hostPids is asked for.
 *
 * restoreAtomically works on a copy of the target and returns it only when
 * every step succeeded: on any failure the target is untouched.
 */
import type { Container } from '../container/container.js';
import type { Machine } from '../container/machine.js';
import type { ContainerImage } from './container-image.js';
import { RestoreError, type Problem } from './restore-error.js';
import { enclosingOf, executeOnModel, modelFacts } from './restore-model.js';
import { planRestore, type RestorePlan } from './restore-plan.js';
import { findProblems } from './restore-preflight.js';

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

/** preflight lists every reason the image cannot go onto `target`, without changing anything. */
export function preflight(target: Machine, image: ContainerImage, opts: RestoreOptions = {}): Problem[] {
  return findProblems(modelFacts(target, opts.into), image, opts);
}

/** planFor makes the plan that would restore `image` onto `target` (after a preflight without problems). */
export function planFor(target: Machine, image: ContainerImage, opts: RestoreOptions = {}): RestorePlan {
  const above = enclosingOf(target, opts.into)!.pid.ns;
  return planRestore(image, { aboveLevel: above.level, into: opts.into !== undefined, pidMax: target.host.pidMax, taken: (level, nr) => above.chain[level]!.bitmap.test(nr) }, opts);
}

/** restoreAtomically restores onto a copy of `target` and returns the copy; `target` itself is never changed. */
export function restoreAtomically(target: Machine, image: ContainerImage, opts: RestoreOptions = {}): { machine: Machine; container: Container } {
  const copy = target.copy();
  const container = restoreContainer(copy, image, opts);
  return { machine: copy, container };
}

/** restoreContainer restores in place; a failure leaves `m` half-changed, so callers use restoreAtomically. */
export function restoreContainer(m: Machine, image: ContainerImage, opts: RestoreOptions = {}): Container {
  const problems = preflight(m, image, opts);
  if (problems.length > 0) throw new RestoreError(problems);
  const plan = planFor(m, image, opts);
  return executeOnModel(m, image, plan, { ...opts, name: opts.name ?? image.name });
}
