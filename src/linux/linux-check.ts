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
