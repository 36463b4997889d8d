/**
 * Image files on disk. Writing: the archive is laid out before pages.bin's
 * digest is known (the manifest's size does not depend on it), pages.bin is
 * hashed batch by batch as the batches go to the disk (on a worker thread
 * when it is large, sha256-stream.ts), and the manifest is
 * written into its place last, all through one atomic replacement: no file
 * or a complete one. Reading: the file is read in parallel batches, each
 * entry hashed as its bytes arrive, so decodeImage need not hash again.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { BATCH_BYTES, IN_FLIGHT, writeFileAtomicallyStreamed, writtenAsItLies } from '../disk/atomic-file.js';
import { digestsFor, EntryDigester, MAX_IMAGE_BYTES, tarLayout, untar } from './archive.js';
import { byteLength } from '../codec/bytes.js';
import type { ContainerImage } from './container-image.js';
import { ImageError, type EntryName } from './format.js';
import { encodeBody, encodeImage, manifestEntries, sha256, type EncodeOptions } from './image-codec.js';
import { sha256Stream } from './sha256-stream.js';

/** a digest the manifest holds until pages.bin's is known: the same length, so nothing moves */
const PLACEHOLDER = '0'.repeat(64);

export interface WriteImageOptions extends EncodeOptions {
  onProgress?(written: number, total: number): void;
  /** stops the write before the image is renamed into place (nothing is left behind); once renamed, it has no effect */
  signal?: AbortSignal;
}

/** WHY says in words what the errors a write of an image can meet mean. */
const WHY: Record<string, string> = {
  ENOENT: 'no such directory',
  ENOTDIR: 'a component of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a directory',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
};

/**
 * writeImageFile writes `img` to `path` atomically and returns the image's
 * size in bytes. A path that cannot be written is CKPT_WRITE_FAILED, with
 * nothing left behind.
 */
export async function writeImageFile(path: string, img: ContainerImage, opts: WriteImageOptions = {}): Promise<number> {
  const encoded = encodeBody(img, opts);
  const digests = new Map<EntryName, string>(encoded.body.map(([name, bytes]) => [name, name === 'pages.bin' ? PLACEHOLDER : sha256(bytes)]));
  const draft = manifestEntries(img, encoded, digests);
  const { chunks, entries } = tarLayout([...draft, ...encoded.body]);
  const pages = entries.find((e) => e.path === 'pages.bin')!;
  const pagesEnd = pages.offset + pages.size;
  // Pages that lie in shared memory (read from the store) go out as they lie: this thread only waits
  // on the disk meanwhile, so it hashes them itself rather than start a worker (10 MB of memory).
  // Pages that must be copied into batches are hashed on a worker while this thread copies.
  const pagesBin = encoded.body.find(([name]) => name === 'pages.bin')![1] as readonly Uint8Array[];
  const hash = sha256Stream(pages.size, pagesBin.every(writtenAsItLies));
  let stopped = false;
  try {
    await writeFileAtomicallyStreamed(path, chunks, {
      // the part of each batch that is pages.bin's data, hashed while the batch is written
      onBatch: (bytes, at) => {
        // one batch fails, once: the writer then removes its temporary file
        if (opts.signal?.aborted && !stopped) {
          stopped = true;
          throw opts.signal.reason;
        }
        const from = Math.max(at, pages.offset);
        const to = Math.min(at + bytes.length, pagesEnd);
        return from < to ? hash.update(bytes.subarray(from - at, to - at)) : undefined;
      },
      patches: async () => {
        opts.signal?.throwIfAborted();
        digests.set('pages.bin', await hash.digest());
        return manifestEntries(img, encoded, digests).map(([name, bytes], k) => {
          const at = entries[k]!;
          if (at.path !== name || at.size !== bytes.length) throw new Error(`internal: ${name} changed size once its digests were known`);
          return { at: at.offset, bytes };
        });
      },
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code !== 'string' || opts.signal?.aborted) throw e;
    throw new ImageError('CKPT_WRITE_FAILED', `cannot write image ${path}: ${code}${WHY[code] ? ` (${WHY[code]})` : ''}; nothing was written`);
  } finally {
    await hash.close();
  }
  return byteLength(chunks);
}

/** ReadImage: an image file's entries (views into one buffer) and their SHA-256s, taken while reading. */
export interface ReadImage {
  entries: Map<string, Uint8Array>;
  digests: Map<string, string>;
}

/** readImageFile reads an image archive; only a regular file is read, and only as many bytes as it holds. */
export async function readImageFile(path: string, onProgress?: (read: number, total: number) => void, signal?: AbortSignal): Promise<ReadImage> {
  let bytes: Uint8Array;
  let digester: EntryDigester;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer before it is refused
    const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new ImageError('CKPT_READ_FAILED', `image ${path} is not a regular file`);
      if (st.size > MAX_IMAGE_BYTES) throw new ImageError('CKPT_BAD_ARCHIVE', `image ${path} is ${st.size} bytes, more than the ${MAX_IMAGE_BYTES} this ckpt reads`);
      bytes = new Uint8Array(st.size);
      digester = new EntryDigester(bytes);
      const reads: Array<Promise<number>> = [];
      let next = 0;
      const issue = (): void => {
        if (next >= bytes.length) return;
        const at = next;
        const n = Math.min(BATCH_BYTES, bytes.length - at);
        next += n;
        reads.push(readFully(fh, bytes, at, n));
      };
      for (let k = 0; k < IN_FLIGHT; k++) issue();
      // Batches are taken in order: bytes [0, done) are in place, and hashed while later ones are read.
      let done = 0;
      while (reads.length > 0) {
        if (signal?.aborted) {
          await Promise.allSettled(reads);
          throw signal.reason;
        }
        const got = await reads.shift()!;
        if (got < Math.min(BATCH_BYTES, bytes.length - done)) {
          // the file shrank while being read: what follows the short batch is not there
          await Promise.allSettled(reads);
          bytes = bytes.subarray(0, done + got);
          break;
        }
        done += got;
        digester.advance(done);
        onProgress?.(done, bytes.length);
        issue();
      }
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof ImageError || signal?.aborted) throw e;
    throw new ImageError('CKPT_READ_FAILED', `cannot read image ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const entries = untar(bytes);
  return { entries, digests: digestsFor(bytes, entries, digester.digested) };
}

/** readImageBytes reads an image held in memory (read from a pipe, or decompressed): its entries; decodeImage hashes them. */
export function readImageBytes(bytes: Uint8Array): ReadImage {
  return { entries: untar(bytes), digests: new Map() };
}

/** imageChunks lays an image out as the chunks of its archive, every digest computed first: for a writer that cannot go back (a pipe, a compressor). */
export function imageChunks(img: ContainerImage, opts: EncodeOptions = {}): Uint8Array[] {
  return tarLayout(encodeImage(img, opts)).chunks;
}

/** readFully reads `n` bytes at `at` unless the file ends first; it returns how many it read. */
async function readFully(fh: FileHandle, into: Uint8Array, at: number, n: number): Promise<number> {
  let got = 0;
  while (got < n) {
    const { bytesRead } = await fh.read(into, at + got, n - got, at + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}
