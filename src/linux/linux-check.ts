/**
 * problemsOnLinux: every reason an image would not restore on the machine
 * itself (`ckpt check --host linux`), all at once, without changing
 * anything: the preflight over the machine's facts read from /proc (every pid
 * collision at every level, naming the level and the holder: task, zombie,
 * thread, or a process group or session whose leader is gone), then what the
 * real kernel cannot carry out of the restore's plan (whatLinuxCannot).
 */
import type { ContainerImage } from '../image/container-image.js';
import { RestoreError, type Problem } from '../image/restore-error.js';
import { planRestore } from '../image/restore-plan.js';
import { findProblems, type PreflightOptions } from '../image/restore-preflight.js';
import { linuxFacts, type LinuxFactOptions } from './linux-facts.js';
import { whatLinuxCannot } from './real-executor.js';

export interface LinuxCheckOptions extends PreflightOptions {
  /** how the machine is read: its name in messages, the containers the state directory knows, ... */
  machine?: Omit<LinuxFactOptions, 'into'>;
}

export function problemsOnLinux(image: ContainerImage, opts: LinuxCheckOptions = {}): Problem[] {
  const { machine, ...preflight } = opts;
  const facts = linuxFacts({ ...machine, ...(opts.into === undefined ? {} : { into: opts.into }) });
  const problems = findProblems(facts, image, preflight);
  if ('missing' in facts.enclosing) return problems;
  const above = facts.enclosing;
  const more: Problem[] = [];
  try {
    const plan = planRestore(image, { aboveLevel: above.level, into: opts.into !== undefined, pidMax: facts.pidMax, taken: (level, nr) => above.holderAt(level, nr) !== null }, { via: opts.via ?? 'eclone', ...(opts.hostPids ? { hostPids: true } : {}) });
    more.push(...whatLinuxCannot(plan, image));
  } catch (e) {
    if (!(e instanceof RestoreError)) throw e;
    more.push(...e.problems);
  }
  for (const p of more) if (!problems.some((q) => q.message === p.message)) problems.push(p);
  return problems;
}

/**
 * explainFailure: a real restore that failed at a clone3 with EEXIST (and was undone) met a pid taken
 * after its preflight, a race. The machine is read again and the error names what holds the pids now:
 * every collision found, each with its level and holder, first (so its code is CKPT_PID_COLLISION),
 * then the failure itself. Any other error is returned as it is.
 */
export function explainFailure(error: unknown, image: ContainerImage, opts: LinuxCheckOptions = {}): unknown {
  if (!(error instanceof RestoreError) || !error.problems.some((p) => /\bEEXIST\b/.test(p.message))) return error;
  const now = problemsOnLinux(image, { ...opts, via: 'clone3' }).filter((p) => p.code === 'CKPT_PID_COLLISION');
  return now.length === 0 ? error : new RestoreError([...now, ...error.problems]);
}
