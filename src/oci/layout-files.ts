/**
 * The files of an OCI image layout (image-spec v1.1.0 image-layout.md):
 * `oci-layout`, `index.json` and `blobs/sha256/<hex>`, read and written so
 * that nothing in the layout can lead ckpt outside its directory. Names are
 * made only from fixed words and validated digests (64 hex digits); `blobs`
 * and `blobs/sha256` must be real directories, not symbolic links; files
 * are opened with O_NOFOLLOW (a symbolic link is refused) and O_NONBLOCK (a
 * FIFO cannot make ckpt wait), must be regular files, and are read only up
 * to a bound known before anything is allocated. A blob's bytes are checked
 * against its digest and size before anyone sees them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from '../image/format.js';
import { processAlive } from '../disk/process-alive.js';
import { parseDigest } from './digest.js';
import { shown } from './shown.js';

/** the largest index.json, manifest or nested index read (what registries commonly accept for a manifest) */
export const MAX_JSON_BYTES = 4 * 1024 * 1024;

/** WHY says in words what the errors a write can meet mean. */
const WHY: Record<string, string> = {
  ENOENT: 'no such directory',
  ENOTDIR: 'a component of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EEXIST: 'it exists',
  ELOOP: 'it is a symbolic link',
};

function errnoOf(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? code : undefined;
}

export function badLayout(why: string): never {
  throw new ImageError('CKPT_BAD_LAYOUT', why);
}

/** writeFailed turns a file-system error met while writing into CKPT_WRITE_FAILED; any other error passes. */
export function writeFailed(what: string, e: unknown): never {
  const code = errnoOf(e);
  if (e instanceof ImageError || code === undefined) throw e;
  throw new ImageError('CKPT_WRITE_FAILED', `cannot write ${what}: ${code}${WHY[code] ? ` (${WHY[code]})` : ''}`);
}

/** readFully reads exactly `n` bytes from the start of the file; a file that shrank is refused. */
async function readFully(fh: FileHandle, n: number, what: string): Promise<Uint8Array> {
  const bytes = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const { bytesRead } = await fh.read(bytes, got, n - got, got);
    if (bytesRead === 0) badLayout(`${what} shrank while it was read`);
    got += bytesRead;
  }
  return bytes;
}

/**
 * readRegularFile reads a regular file of at most `max` bytes (exactly
 * `size` when given). `what` names it in messages. A symbolic link at
 * the last component is refused when `noFollow`.
 */
export async function readRegularFile(path: string, what: string, bound: { max: number; size?: number; noFollow: boolean; code?: 'CKPT_BAD_LAYOUT' | 'CKPT_BAD_ARCHIVE' }): Promise<{ bytes: Uint8Array; stats: Stats }> {
  const code = bound.code ?? 'CKPT_BAD_LAYOUT';
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | (bound.noFollow ? constants.O_NOFOLLOW : 0));
  } catch (e) {
    const c = errnoOf(e);
    if (c === 'ENOENT') throw new ImageError(code, `${what} is missing`);
    if (c === 'ELOOP') throw new ImageError(code, `${what} is a symbolic link, which is not followed`);
    throw new ImageError(code, `cannot read ${what}: ${c ?? (e as Error).message}`);
  }
  try {
    const stats = await fh.stat();
    if (!stats.isFile()) throw new ImageError(code, `${what} is not a regular file`);
    if (bound.size !== undefined && stats.size !== bound.size) throw new ImageError('CKPT_BAD_CHECKSUM', `${what} is ${stats.size} bytes, not the ${bound.size} its descriptor says`);
    if (stats.size > bound.max) throw new ImageError(code, `${what} is ${stats.size} bytes, more than the ${bound.max} this ckpt reads`);
    return { bytes: await readFully(fh, stats.size, what), stats };
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError(code, `cannot read ${what}: ${errnoOf(e) ?? (e as Error).message}`);
  } finally {
    await fh.close();
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** LayoutFiles reads and writes the files of one layout directory. */
export class LayoutFiles {
  constructor(readonly dir: string) {}

  path(name: 'oci-layout' | 'index.json'): string {
    return join(this.dir, name);
  }

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', parseDigest(digest));
  }

  /** isDirectory: the layout's directory exists and is one (it may be reached through a symbolic link: the user named it). */
  async isDirectory(): Promise<boolean> {
    try {
      return (await stat(this.dir)).isDirectory();
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return false;
      throw new ImageError('CKPT_BAD_LAYOUT', `cannot read ${this.dir}: ${errnoOf(e) ?? (e as Error).message}`);
    }
  }

  /** isEmpty: the directory holds nothing but ckpt's own bookkeeping (a writer's lock). */
  async isEmpty(): Promise<boolean> {
    return (await readdir(this.dir)).every((name) => name.startsWith('.ckpt-'));
  }

  async exists(name: 'oci-layout' | 'index.json'): Promise<boolean> {
    try {
      await lstat(this.path(name));
      return true;
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return false;
      throw e;
    }
  }

  /** checkBlobDirectories refuses blobs/ or blobs/sha256/ that are not real directories (a symbolic link would lead outside). */
  async checkBlobDirectories(): Promise<void> {
    for (const rel of ['blobs', join('blobs', 'sha256')]) {
      let st: Stats;
      try {
        st = await lstat(join(this.dir, rel));
      } catch (e) {
        if (errnoOf(e) === 'ENOENT') badLayout(`${this.dir} has no ${rel} directory`);
        throw new ImageError('CKPT_BAD_LAYOUT', `cannot read ${join(this.dir, rel)}: ${errnoOf(e)}`);
      }
      if (st.isSymbolicLink()) badLayout(`${join(this.dir, rel)} is a symbolic link, which is not followed`);
      if (!st.isDirectory()) badLayout(`${join(this.dir, rel)} is not a directory`);
    }
  }

  /** makeBlobDirectories creates blobs/sha256/ as needed, then checks it is made of real directories. */
  async makeBlobDirectories(): Promise<void> {
    for (const rel of ['blobs', join('blobs', 'sha256')]) {
      try {
        await mkdir(join(this.dir, rel));
      } catch (e) {
        if (errnoOf(e) !== 'EEXIST') writeFailed(join(this.dir, rel), e);
      }
    }
    await this.checkBlobDirectories();
  }

  /**
   * sweepTemporaries removes the temporary files (`.ckpt-PID-*.tmp`, see
   * writeAtomically) that a writer killed mid-write left in the layout's
   * root and in blobs/sha256. Called holding the layout's lock, so no live
   * writer of ours is mid-write; a file whose process is still alive is kept
   * all the same (it may be another ckpt that does not know this lock).
   */
  async sweepTemporaries(): Promise<number> {
    let removed = 0;
    for (const dir of [this.dir, join(this.dir, 'blobs', 'sha256')]) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue; // not made yet, or the write that follows says what is wrong
      }
      for (const name of names) {
        const m = TEMPORARY.exec(name);
        if (!m || processAlive(Number(m[1]))) continue;
        await rm(join(dir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }

  /** readJson reads `oci-layout` or `index.json` (bounded, no symbolic link) and parses it. */
  async readJson(name: 'oci-layout' | 'index.json'): Promise<unknown> {
    const { bytes } = await readRegularFile(this.path(name), `${this.dir}/${name}`, { max: MAX_JSON_BYTES, noFollow: true });
    return parseJson(bytes, `${this.dir}/${name}`);
  }

  /**
   * readBlob reads the blob a descriptor names: the file must be exactly
   * `size` bytes (checked before it is read, and at most `max`) and its
   * SHA-256 must be the digest's.
   */
  async readBlob(digest: string, size: number, max: number): Promise<Uint8Array> {
    if (size > max) badLayout(`blob ${digest} claims ${size} bytes, more than the ${max} this ckpt reads for it`);
    const { bytes } = await readRegularFile(this.blobPath(digest), `blob ${digest}`, { max, size, noFollow: true });
    if (`sha256:${sha256Hex(bytes)}` !== digest) throw new ImageError('CKPT_BAD_CHECKSUM', `blob ${digest} does not match its digest`);
    return bytes;
  }

  /** hasBlob: the blob is present, a regular file with exactly these bytes' size and digest. */
  async hasBlob(digest: string, size: number): Promise<boolean> {
    try {
      await this.readBlob(digest, size, size);
      return true;
    } catch (e) {
      if (e instanceof ImageError) return false;
      throw e;
    }
  }

  /**
   * writeBlob stores `bytes` under their digest unless they are there
   * already: written to a temporary file made with O_EXCL|O_NOFOLLOW in
   * blobs/sha256, fsynced, renamed into place, the directory fsynced.
   * Returns whether anything was written.
   */
  async writeBlob(bytes: Uint8Array): Promise<boolean> {
    const digest = `sha256:${sha256Hex(bytes)}`;
    if (await this.hasBlob(digest, bytes.length)) return false;
    const final = this.blobPath(digest);
    await this.writeAtomically(final, bytes, `blob ${digest}`);
    return true;
  }

  /** writeAtomically replaces `final` (inside the layout) with `bytes`: no torn file, and no file outside the layout. */
  async writeAtomically(final: string, bytes: Uint8Array, what: string): Promise<void> {
    const dir = join(final, '..');
    const tmp = join(dir, `.ckpt-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
    try {
      const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
      try {
        for (let done = 0; done < bytes.length; ) done += (await fh.write(bytes, done, bytes.length - done)).bytesWritten;
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, final);
      const d = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch (e) {
      await rm(tmp, { force: true });
      writeFailed(what, e);
    }
  }
}

/** a temporary file of writeAtomically: `.ckpt-PID-RANDOM.tmp` */
const TEMPORARY = /^\.ckpt-(\d+)-[0-9a-f]+\.tmp$/;

/** how deeply arrays and objects may nest in a JSON file (an OCI manifest needs 4) */
export const MAX_JSON_DEPTH = 64;

/** nestingOf: how deeply arrays and objects nest in JSON text, brackets inside strings aside (no recursion). */
function nestingOf(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/**
 * parseJson parses a JSON file's bytes: UTF-8, one value, nested at most
 * MAX_JSON_DEPTH deep (a value nested deeper would overflow the stack of
 * whatever walks it later, JSON.stringify among them).
 */
export function parseJson(bytes: Uint8Array, what: string): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    badLayout(`${what} is not UTF-8 text`);
  }
  if (nestingOf(text) > MAX_JSON_DEPTH) badLayout(`${what} nests arrays and objects more than ${MAX_JSON_DEPTH} deep`);
  try {
    return JSON.parse(text);
  } catch (e) {
    badLayout(`${what} is not JSON: ${shown((e as Error).message, 200)}`);
  }
}
