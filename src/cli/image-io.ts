/**
 * Where the command line reads images from and writes them to: a file, or
 * `-` for standard input or output (`ckpt dump c -o - | ckpt restore -`);
 * plain, gzip or zstd. A compressed image is recognised by its magic bytes,
 * whatever its name. gzip is Node's own zlib; zstd is the `zstd` program
 * (Debian package zstd), run as a filter: Node 20's zlib has no zstd.
 */
import { constants, createReadStream, createWriteStream, fsyncSync, openSync, closeSync, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { addAbortSignal, Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { ContainerImage } from '../image/container-image.js';
import { ImageError } from '../image/format.js';
import { imageChunks, readImageBytes, readImageFile, writeImageFile, type ReadImage } from '../image/image-file.js';
import { MAX_IMAGE_BYTES } from '../image/archive.js';
import { setWritingImageToStdout } from './stdout-image.js';
import { COMPRESSIONS } from './options/images.js';

// the choices of dump --compress are declared with its options
export { COMPRESSIONS };
export type Compression = (typeof COMPRESSIONS)[number];

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
/** the size of the pieces an image goes out in through a pipe or a compressor */
const PIECE_BYTES = 1024 * 1024;

/** STDIO is the name that means standard input (restore, check, inspect) or standard output (dump -o). */
export const STDIO = '-';

export function compressionOf(head: Uint8Array): Compression {
  const starts = (magic: number[]): boolean => magic.every((b, i) => head[i] === b);
  return starts(GZIP_MAGIC) ? 'gzip' : starts(ZSTD_MAGIC) ? 'zstd' : 'none';
}

/** describe names an image's source or destination in messages. */
export function describe(path: string, stream: 'input' | 'output'): string {
  return path === STDIO ? `standard ${stream}` : path;
}

/** requireZstd refuses, in one line saying what to install, when there is no zstd program. */
export async function requireZstd(): Promise<void> {
  const { execa } = await import('execa');
  try {
    await execa('zstd', ['--version']);
  } catch {
    throw new ImageError('CKPT_NO_ZSTD', 'zstd images need the zstd program, which is not on PATH (Debian package zstd)');
  }
}

/** zstd runs the zstd program as a filter. */
async function zstd(args: string[]): Promise<import('node:stream').Duplex> {
  await requireZstd();
  const { execa } = await import('execa');
  // buffer: what comes out goes through the duplex; execa would also keep a copy of stdout, and fail
  // once it passed its maxBuffer (100 MB); stderr is kept for the message of a failure
  return execa('zstd', ['-q', ...args], { stderr: 'pipe', buffer: { stdout: false } }).duplex();
}

/** compressorFor is the transform that compresses (or, with `decompress`, expands) a stream. */
async function transformFor(c: Exclude<Compression, 'none'>, decompress: boolean): Promise<import('node:stream').Duplex> {
  if (c === 'gzip') return decompress ? createGunzip() : createGzip();
  return zstd(decompress ? ['-d', '-c'] : ['-c']);
}

/** collect reads a stream whole, refusing more than an image may hold. */
async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > MAX_IMAGE_BYTES) throw new ImageError('CKPT_BAD_ARCHIVE', `the image is more than the ${MAX_IMAGE_BYTES} bytes this ckpt reads`);
    parts.push(chunk);
  }
  return joined(parts, size);
}

/** joined concatenates pieces into one array. */
function joined(parts: readonly Uint8Array[], size: number): Uint8Array {
  const b = Buffer.concat(parts, size);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** expand decompresses a compressed image; a stream that ends early is a truncated image. */
async function expand(c: Exclude<Compression, 'none'>, source: Readable): Promise<Uint8Array> {
  const transform = await transformFor(c, true);
  try {
    const [, bytes] = await Promise.all([pipeline(source, transform), collect(transform)]);
    return bytes;
  } catch (e) {
    if (e instanceof ImageError) throw e;
    const why = String((e as { stderr?: unknown }).stderr || (e as Error).message).trim().split('\n').pop()!;
    if (/unexpected end|truncated|premature end/i.test(why)) throw new ImageError('CKPT_TRUNCATED', `the image is truncated: its ${c} stream ends early`);
    throw new ImageError('CKPT_BAD_ARCHIVE', `the image's ${c} stream is damaged: ${why}`);
  }
}

/** readHead reads the first bytes of a file, to tell its compression. */
async function readHead(path: string): Promise<Uint8Array> {
  const head = new Uint8Array(4);
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer before it is refused
    const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new ImageError('CKPT_READ_FAILED', `image ${path} is not a regular file`);
      await fh.read(head, 0, 4, 0);
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError('CKPT_READ_FAILED', `cannot read image ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return head;
}

/**
 * readImageInput reads an image from a file or, for `-`, from standard
 * input, expanding a gzip or zstd one. A plain file is read in parallel
 * batches and hashed as it is read (readImageFile).
 */
export async function readImageInput(path: string, onProgress?: (read: number, total: number) => void, signal?: AbortSignal): Promise<ReadImage> {
  if (path === STDIO) {
    const bytes = await collect(signal ? addAbortSignal(signal, process.stdin) : process.stdin);
    signal?.throwIfAborted();
    const c = compressionOf(bytes);
    return readImageBytes(c === 'none' ? bytes : await expand(c, Readable.from([bytes])));
  }
  const c = compressionOf(await readHead(path));
  if (c === 'none') return readImageFile(path, onProgress, signal);
  const bytes = await expand(c, createReadStream(path));
  signal?.throwIfAborted();
  return readImageBytes(bytes);
}

export interface WriteOutputOptions {
  embedPrograms: boolean;
  compress: Compression;
  signal?: AbortSignal;
  onProgress?(written: number, total: number): void;
}

/** pieces hands out an image's chunks joined into pieces of about a MiB (pages are 4 KiB each), stopping when the signal is aborted. */
function* pieces(chunks: readonly Uint8Array[], signal: AbortSignal | undefined, onProgress?: (written: number, total: number) => void): Generator<Uint8Array> {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  let batch: Uint8Array[] = [];
  let size = 0;
  let done = 0;
  for (const c of chunks) {
    batch.push(c);
    size += c.length;
    if (size >= PIECE_BYTES) {
      signal?.throwIfAborted();
      yield joined(batch, size);
      onProgress?.((done += size), total);
      batch = [];
      size = 0;
    }
  }
  signal?.throwIfAborted();
  if (size > 0) yield joined(batch, size);
  onProgress?.(total, total);
}

/** send writes an image's chunks through the compressor, if any, into `sink`; it returns how many bytes went into the compressor. */
async function send(chunks: readonly Uint8Array[], sink: Writable, opts: WriteOutputOptions, end: boolean): Promise<number> {
  const stages: unknown[] = [Readable.from(pieces(chunks, opts.signal, opts.onProgress))];
  if (opts.compress !== 'none') stages.push(await transformFor(opts.compress, false));
  // `end: false` leaves standard output open (Node 20's pipeline has the option; its types of that version do not say so)
  await (pipeline as unknown as (streams: unknown[], options: { end: boolean }) => Promise<void>)([...stages, sink], { end });
  return chunks.reduce((n, c) => n + c.length, 0);
}

/** the temporary name a file is written under before it is renamed into place (the store's convention, so the next writer sweeps it) */
function tempFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

/**
 * writeImageOutput writes an image to a file (atomically: no file, or a
 * complete one) or, for `-`, to standard output, compressed if asked. It
 * returns the size of the archive (before compression). A write that fails
 * is CKPT_WRITE_FAILED; one stopped by `signal` throws its reason and
 * leaves nothing behind.
 */
export async function writeImageOutput(path: string, img: ContainerImage, opts: WriteOutputOptions): Promise<number> {
  if (path !== STDIO && opts.compress === 'none') {
    return writeImageFile(path, img, { embedPrograms: opts.embedPrograms, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
  }
  const chunks = imageChunks(img, { embedPrograms: opts.embedPrograms });
  const fail = (e: unknown): never => {
    if (opts.signal?.aborted || e instanceof ImageError) throw opts.signal?.reason ?? e;
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new ImageError('CKPT_WRITE_FAILED', `cannot write image ${path === STDIO ? 'to standard output' : path}: ${code}; ${path === STDIO ? 'what was written is incomplete' : 'nothing was written'}`);
  };
  if (path === STDIO) {
    setWritingImageToStdout(true);
    try {
      return await send(chunks, process.stdout, opts, false);
    } catch (e) {
      return fail(e);
    } finally {
      setWritingImageToStdout(false);
    }
  }
  const tmp = tempFor(path);
  try {
    const size = await send(chunks, createWriteStream(tmp, { mode: 0o644 }), opts, true);
    opts.signal?.throwIfAborted();
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    syncDirectory(dirname(path));
    return size;
  } catch (e) {
    rmSync(tmp, { force: true });
    return fail(e);
  }
}

/** syncDirectory makes a rename into `dir` durable (where the filesystem allows it). */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some filesystems refuse fsync on a directory: the rename is still atomic
  }
}
