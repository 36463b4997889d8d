/**
 * writeFileAtomically replaces `path` with `bytes` so that a crash leaves
 * either the old file or the new one, never a torn one: write a temporary
 * file in the same directory, fsync it, rename it into place, fsync the
 * directory.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export function writeFileAtomically(path: string, bytes: Uint8Array | readonly Uint8Array[]): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const chunks = bytes instanceof Uint8Array ? [bytes] : bytes;
  try {
    const fd = openSync(tmp, 'w');
    try {
      for (const chunk of chunks) for (let done = 0; done < chunk.length; ) done += writeSync(fd, chunk, done, chunk.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  try {
    const dirFd = openSync(dirname(path), 'r');
    fsyncSync(dirFd);
    closeSync(dirFd);
  } catch {
    // a directory that cannot be opened for fsync on some filesystems: the rename is still atomic
  }
}
