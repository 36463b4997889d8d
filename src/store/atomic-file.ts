/**
 * writeFileAtomically replaces `path` with `bytes` so that a crash leaves
 * either the old file or the new one, never a torn one: write a temporary
 * file in the same directory (hidden, named after the file and the writing
 * process), fsync it, rename it into place, fsync the directory. A writer
 * killed before its rename leaves its temporary file behind; the next write
 * of the same path removes those of processes that are gone.
 */
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writevSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { processAlive } from './process-alive.js';

/** IOV_MAX: the most buffers one writev takes */
const IOV_MAX = 1024;

/** writeAll writes the chunks in order with writev, a batch of buffers per call; a short write is finished chunk by chunk. */
function writeAll(fd: number, chunks: readonly Uint8Array[]): void {
  for (let i = 0; i < chunks.length; i += IOV_MAX) {
    const batch = chunks.slice(i, i + IOV_MAX) as Uint8Array[];
    let written = writevSync(fd, batch);
    for (const c of batch) {
      if (written >= c.length) {
        written -= c.length;
        continue;
      }
      for (let done = written; done < c.length; ) done += writeSync(fd, c, done, c.length - done);
      written = 0;
    }
  }
}

/** tempName is the temporary file a process writes `path` through. */
function tempName(path: string, pid: number): string {
  return join(dirname(path), `.${basename(path)}.${pid}.tmp`);
}

/** sweepTemporaries removes temporary files of `path` left by writers that were killed. */
export function sweepTemporaries(path: string): void {
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return; // the write itself will say what is wrong with the directory
  }
  for (const f of names) {
    if (!f.startsWith(prefix) || !f.endsWith('.tmp')) continue;
    const pid = Number(f.slice(prefix.length, -'.tmp'.length));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processAlive(pid)) rmSync(join(dirname(path), f), { force: true });
  }
}

export function writeFileAtomically(path: string, bytes: Uint8Array | readonly Uint8Array[]): void {
  sweepTemporaries(path);
  const tmp = tempName(path, process.pid);
  const chunks = bytes instanceof Uint8Array ? [bytes] : bytes;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeAll(fd, chunks);
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
