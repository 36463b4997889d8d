/**
 * The image archive: the only tar I/O. Writing is deterministic (fixed
 * order, zero mtime and ids) so an image re-encodes to the same bytes; the
 * dump writes the result with writeFileAtomically, so it leaves either no
 * file or a complete one. Reading accepts exactly the entries of format v1:
 * regular files with expected names, each once, within the archive's size.
 */
import { readFileSync } from 'node:fs';
import { Header } from 'tar';
import { ENTRIES, ImageError } from './format.js';

const BLOCK = 512;

/** tarChunks lays out entries as a ustar archive, as a list of chunks to write one after another (no copy of the data). */
export function tarChunks(entries: ReadonlyArray<readonly [string, Uint8Array]>): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (const [path, bytes] of entries) {
    const h = new Header({ path, mode: 0o644, uid: 0, gid: 0, size: bytes.length, mtime: new Date(0), type: 'File', uname: '', gname: '' });
    const block = Buffer.alloc(BLOCK);
    h.encode(block, 0);
    chunks.push(new Uint8Array(block.buffer, block.byteOffset, BLOCK), bytes);
    const pad = Math.ceil(bytes.length / BLOCK) * BLOCK - bytes.length;
    if (pad > 0) chunks.push(new Uint8Array(pad));
  }
  chunks.push(new Uint8Array(2 * BLOCK));
  return chunks;
}

/** tarBytes lays out entries as one ustar archive in memory. */
export function tarBytes(entries: ReadonlyArray<readonly [string, Uint8Array]>): Uint8Array {
  const chunks = tarChunks(entries);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** untar reads the entries of an image archive, refusing anything format v1 does not contain. */
export function untar(archive: Uint8Array): Map<string, Uint8Array> {
  const entries = new Map<string, Uint8Array>();
  const allowed = new Set<string>(ENTRIES);
  let at = 0;
  for (;;) {
    if (at + BLOCK > archive.length) throw new ImageError('CKPT_BAD_ARCHIVE', 'the archive ends in the middle of a header');
    const block = archive.subarray(at, at + BLOCK);
    if (block.every((b) => b === 0)) break;
    const h = new Header(Buffer.from(block.buffer, block.byteOffset, BLOCK), 0);
    if (!h.cksumValid) throw new ImageError('CKPT_BAD_ARCHIVE', `tar header at byte ${at} has a bad checksum`);
    const path = h.path ?? '';
    if (h.type !== 'File') throw new ImageError('CKPT_BAD_ARCHIVE', `entry ${JSON.stringify(path)} is a ${h.type}, not a regular file`);
    if (!allowed.has(path)) throw new ImageError('CKPT_BAD_ARCHIVE', `unexpected entry ${JSON.stringify(path)}`);
    if (entries.has(path)) throw new ImageError('CKPT_BAD_ARCHIVE', `entry ${path} appears twice`);
    const size = h.size ?? -1;
    if (!Number.isSafeInteger(size) || size < 0 || at + BLOCK + size > archive.length) throw new ImageError('CKPT_BAD_ARCHIVE', `entry ${path} claims ${size} bytes, more than the archive holds`);
    entries.set(path, archive.subarray(at + BLOCK, at + BLOCK + size));
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  if (entries.size > 0 && [...entries.keys()][0] !== 'manifest.cbor') throw new ImageError('CKPT_BAD_ARCHIVE', 'manifest.cbor must be the first entry');
  return entries;
}

/** readImageFile reads an image archive's entries. */
export function readImageFile(path: string): Map<string, Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ImageError('CKPT_BAD_ARCHIVE', `cannot read image ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return untar(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
