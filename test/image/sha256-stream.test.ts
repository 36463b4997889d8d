/**
 * The SHA-256 a writer feeds in pieces: on this thread or on a worker
 * thread, the digest of the pieces in order, as one createHash of them all.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InlineSha256, sha256Stream, WORKER_THRESHOLD, WorkerSha256 } from '../../src/image/sha256-stream.js';

/** pieces of shared memory of uneven sizes, with what they hash to in order */
function pieces(): { parts: Uint8Array[]; expected: string } {
  const sizes = [0, 1, 4095, 4096, 1 << 20, 17];
  const parts = sizes.map((n, k) => {
    const p = new Uint8Array(new SharedArrayBuffer(n + 8), 8, n);
    for (let i = 0; i < n; i++) p[i] = (i * 31 + k) & 0xff;
    return p;
  });
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return { parts, expected: h.digest('hex') };
}

describe('sha256Stream', () => {
  it('hashes on a worker only when there are enough bytes to pay for one, and the caller has other work meanwhile', async () => {
    const small = sha256Stream(WORKER_THRESHOLD - 1);
    const large = sha256Stream(WORKER_THRESHOLD);
    const idle = sha256Stream(WORKER_THRESHOLD, true);
    expect([small instanceof InlineSha256, large instanceof WorkerSha256, idle instanceof InlineSha256]).toEqual([true, true, true]);
    await Promise.all([small.close(), large.close(), idle.close()]);
  });

  for (const [name, make] of [['on this thread', () => new InlineSha256()], ['on a worker', () => new WorkerSha256()]] as const) {
    it(`${name}: the digest of the pieces in order, updates overlapping`, async () => {
      const { parts, expected } = pieces();
      const s = make();
      await Promise.all(parts.map((p) => s.update(p)));
      expect(await s.digest()).toBe(expected);
    });
  }

  it('a worker refuses memory another thread cannot read, and lets its thread go when closed undigested', async () => {
    const s = new WorkerSha256();
    await expect(s.update(new Uint8Array(8))).rejects.toThrow('shared memory only');
    await s.update(new Uint8Array(new SharedArrayBuffer(8)));
    await s.close();
  });
});
