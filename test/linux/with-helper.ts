/**
 * withCheckedSession runs `body` with a helper session (withSession) and
 * then checks that nothing the session made is left: the helper reaps its
 * agents as it exits, so the last of them may take a moment to go.
 */
import { expect } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { RestoreError } from '../../src/image/restore-error.js';
import type { RestorePlan } from '../../src/image/restore-plan.js';
import { planFor } from '../../src/image/restore.js';
import { withSession, type HelperSession } from '../../src/linux/helper.js';
import { executeOnLinux, whatLinuxCannot, type RealRestore } from '../../src/linux/real-executor.js';

export async function withCheckedSession<T>(purpose: string, body: (h: HelperSession) => Promise<T>): Promise<T> {
  let session: HelperSession | undefined;
  try {
    return await withSession(purpose, (h) => {
      session = h;
      return body(h);
    });
  } finally {
    for (let i = 0; i < 100 && session && session.leftovers().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(session?.leftovers() ?? []).toEqual([]);
  }
}

/**
 * restingState is a /proc state letter as a before/after comparison should
 * see it: running (R) and sleeping (S) are one state there, since an agent
 * runs a moment whenever anything wakes it.
 */
export const restingState = (state: string): string => (state === 'R' ? 'S' : state);

/**
 * tryRestoreOnLinux restores `image` on the real kernel with clone3 in a checked session and hands
 * what was made to `check`: 'refused' when the executor refuses it up front, 'undone' when it
 * found it could not go on midway (CKPT_UNSUPPORTED, everything made taken back).
 */
export async function tryRestoreOnLinux<T>(purpose: string, image: ContainerImage, check: (made: RealRestore, plan: RestorePlan) => T): Promise<T | 'refused' | 'undone'> {
  const plan = planFor(Machine.create('t', 'x86_64'), image, { via: 'clone3' });
  if (whatLinuxCannot(plan, image).length > 0) return 'refused';
  return withCheckedSession(purpose, async (h) => {
    let made: RealRestore;
    try {
      made = await executeOnLinux(h, image, plan);
    } catch (e) {
      if (e instanceof RestoreError && e.code === 'CKPT_UNSUPPORTED') return 'undone';
      throw e;
    }
    return check(made, plan);
  });
}
