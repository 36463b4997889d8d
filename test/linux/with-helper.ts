/**
 * withCheckedSession runs `body` with a helper session (withSession) and
 * then checks that nothing the session made is left: the helper reaps its
 * agents as it exits, so the last of them may take a moment to go.
 */
import { expect } from 'vitest';
import { withSession, type HelperSession } from '../../src/linux/helper.js';

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
