/** Digests as ckpt reads and writes them: sha256 only, 64 lowercase hex digits, nothing else. */
import { ImageError } from '../image/format.js';
import { shown } from './shown.js';

const SHA256_DIGEST = /^sha256:([0-9a-f]{64})$/;

/** parseDigest returns a digest's hex part, refusing any other algorithm or form (so a digest can become a file name safely). */
export function parseDigest(digest: string): string {
  const m = SHA256_DIGEST.exec(digest);
  if (!m) throw new ImageError('CKPT_BAD_LAYOUT', `digest ${shown(digest)} is not sha256: and 64 lowercase hex digits, the only form this ckpt reads`);
  return m[1]!;
}

export function isSha256Digest(digest: string): boolean {
  return SHA256_DIGEST.test(digest);
}
