/**
 * writeFileAtomically replaces `path` with `bytes` so that a crash leaves
 * either the old file or the new one, never a torn one: write a temporary
 * file in the same directory (hidden, named after the file and the writing
 * process), fsync it, rename it into place, fsync the directory. A writer
 * killed before its rename leaves its temporary file behind; the next write
 * of the same path removes those of processes that are gone.
 */
import { closeSync, constants, fsyncSync, openSync, readdirSync, renameSync, rmSync, writevSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
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
    writeFileDurably(tmp, chunks);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDirectoryOf(path);
}

/**
 * writeFileDurably writes `path` whole and fsyncs it, in place: for a file
 * no reader looks at until something written after it names it (a store's
 * part of a new generation), where a torn copy is never read and a temporary
 * name and rename would only cost. Its name is durable once
 * syncDirectory(its directory) returns.
 */
export function writeFileDurably(path: string, chunks: readonly Uint8Array[]): void {
  const fd = openSync(path, 'w');
  try {
    writeAll(fd, chunks);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** syncDirectoryOf makes a rename into the directory of `path` durable. */
function syncDirectoryOf(path: string): void {
  syncDirectory(dirname(path));
}

/** syncDirectory makes the names made in `dir` (files created, renamed into it) durable. */
export function syncDirectory(dir: string): void {
  try {
    const dirFd = openSync(dir, 'r');
    fsyncSync(dirFd);
    closeSync(dirFd);
  } catch {
    // a directory that cannot be opened for fsync on some filesystems: the rename is still atomic
  }
}

/** a streamed write's (or read's) batch: this many bytes, so that each transfer is large and several are on their way to or from the disk at once */
export const BATCH_BYTES = 16 * 1024 * 1024;
/** batches transferred at the same time (Node's thread pool has four threads) */
export const IN_FLIGHT = 4;

export interface StreamedWrite {
  /**
   * called with each batch as it goes to the disk, and the file offset it
   * goes to: hash it here, and the hashing overlaps the writing. The batch
   * lies in shared memory (another thread may read it) and is not reused
   * before the returned promise settles.
   */
  onBatch?(bytes: Uint8Array, at: number): Promise<void> | void;
  /** bytes written over placeholders once every chunk is written, before the file is made durable */
  patches?(): ReadonlyArray<{ at: number; bytes: Uint8Array }> | Promise<ReadonlyArray<{ at: number; bytes: Uint8Array }>>;
  onProgress?(written: number, total: number): void;
}

/**
 * writeFileAtomicallyStreamed is writeFileAtomically for large files of
 * many chunks (pages.bin is one chunk per page): the chunks are copied into
 * large batches that go out several at once, each durable when its write
 * returns (O_DSYNC), so the disk works while the caller stages the next
 * chunks, rather than all at the end in one fsync. A large chunk already in
 * shared memory goes out as it lies, in batches of its own. The same guarantee:
 * either the old file or the whole new one.
 */
export async function writeFileAtomicallyStreamed(path: string, chunks: readonly Uint8Array[], how: StreamedWrite = {}): Promise<void> {
  sweepTemporaries(path);
  const tmp = tempName(path, process.pid);
  let total = 0;
  for (const c of chunks) total += c.length;
  try {
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_DSYNC, 0o644);
    try {
      const inFlight: Array<Promise<void>> = [];
      const spare: Uint8Array[] = [];
      let stage: Uint8Array | null = null;
      let fill = 0;
      let at = 0;
      let written = 0;
      /** send writes `bytes` at the end of what is written so far and hands them to onBatch; `done` runs once both are over */
      const send = async (bytes: Uint8Array, done?: () => void): Promise<void> => {
        inFlight.push(
          Promise.all([writeFully(fh, bytes, at), how.onBatch?.(bytes, at)]).then(() => {
            done?.();
            written += bytes.length;
            how.onProgress?.(written, total);
          }),
        );
        at += bytes.length;
        if (inFlight.length >= IN_FLIGHT) await inFlight.shift();
      };
      const ship = async (): Promise<void> => {
        const batch = stage!;
        stage = null;
        const bytes = batch.subarray(0, fill);
        fill = 0;
        await send(bytes, () => spare.push(batch));
      };
      for (const chunk of chunks) {
        if (writtenAsItLies(chunk)) {
          // already large and in shared memory (pages read by the store): written as it lies, not copied
          if (fill > 0) await ship();
          for (let from = 0; from < chunk.length; from += BATCH_BYTES) await send(chunk.subarray(from, Math.min(chunk.length, from + BATCH_BYTES)));
          continue;
        }
        for (let from = 0; from < chunk.length; ) {
          // shared memory, so that onBatch may hand the batch to another thread without a copy
          stage ??= spare.pop() ?? new Uint8Array(new SharedArrayBuffer(Math.min(BATCH_BYTES, total - at)));
          const n = Math.min(chunk.length - from, stage.length - fill);
          stage.set(chunk.subarray(from, from + n), fill);
          fill += n;
          from += n;
          if (fill === stage.length) await ship();
        }
      }
      if (fill > 0) await ship();
      await Promise.all(inFlight);
      for (const { at: offset, bytes } of (await how.patches?.()) ?? []) await writeFully(fh, bytes, offset);
      await fh.sync();
    } finally {
      await fh.close();
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDirectoryOf(path);
}

/** writtenAsItLies: a chunk large enough, and in shared memory already, that writeFileAtomicallyStreamed sends it out in batches of its own, without copying it. */
export function writtenAsItLies(chunk: Uint8Array): boolean {
  return chunk.length >= BATCH_BYTES / 2 && chunk.buffer instanceof SharedArrayBuffer;
}

/** writeFully writes `bytes` at `at`, finishing a short write. */
async function writeFully(fh: FileHandle, bytes: Uint8Array, at: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) done += (await fh.write(bytes, done, bytes.length - done, at + done)).bytesWritten;
}
