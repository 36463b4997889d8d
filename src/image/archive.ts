/**
 * The image archive: the tar layout, in memory (image-file.ts reads and
 * writes the files). Writing is deterministic (fixed order, zero mtime and
 * ids) so an image re-encodes to the same bytes. Reading accepts exactly
 * the entries of format v1: regular files with expected names, each once,
 * within the archive's size.
 */
import { createHash, type Hash } from 'node:crypto';
import { Header } from 'tar';
import { ENTRIES, ImageError } from './format.js';
import { byteLength, concatBytes, isZero, sameBytes } from '../codec/bytes.js';

const BLOCK = 512;
/** the largest image read: one typed array (Node 20's limit is 4 GiB) */
export const MAX_IMAGE_BYTES = 4 * 1024 * 1024 * 1024 - 1;

/** headerFor is the one tar header ckpt writes for an entry: deterministic, so a reader can demand it byte for byte. */
function headerFor(path: string, size: number): Uint8Array {
  const h = new Header({ path, mode: 0o644, uid: 0, gid: 0, size, mtime: new Date(0), type: 'File', uname: '', gname: '' });
  const block = Buffer.alloc(BLOCK);
  h.encode(block, 0);
  return new Uint8Array(block.buffer, block.byteOffset, BLOCK);
}

/** LaidOutEntry says where an entry's data lies in the archive: its byte offset and size. */
export interface LaidOutEntry {
  path: string;
  offset: number;
  size: number;
}

/** tarLayout lays out entries as a ustar archive: the chunks to write one after another (no copy of the data), and where each entry lies. */
export function tarLayout(entries: ReadonlyArray<readonly [string, Uint8Array | readonly Uint8Array[]]>): { chunks: Uint8Array[]; entries: LaidOutEntry[] } {
  const chunks: Uint8Array[] = [];
  const laidOut: LaidOutEntry[] = [];
  let offset = 0;
  for (const [path, bytes] of entries) {
    const parts = bytes instanceof Uint8Array ? [bytes] : bytes;
    const size = byteLength(parts);
    chunks.push(headerFor(path, size));
    for (const part of parts) chunks.push(part); // not push(...parts): pages.bin may be 100,000s of chunks
    laidOut.push({ path, offset: offset + BLOCK, size });
    const pad = Math.ceil(size / BLOCK) * BLOCK - size;
    if (pad > 0) chunks.push(new Uint8Array(pad));
    offset += BLOCK + size + pad;
  }
  chunks.push(new Uint8Array(2 * BLOCK));
  return { chunks, entries: laidOut };
}

/** tarChunks lays out entries as a ustar archive, as a list of chunks to write one after another. */
export function tarChunks(entries: ReadonlyArray<readonly [string, Uint8Array | readonly Uint8Array[]]>): Uint8Array[] {
  return tarLayout(entries).chunks;
}

/** tarBytes lays out entries as one ustar archive in memory. */
export function tarBytes(entries: ReadonlyArray<readonly [string, Uint8Array | readonly Uint8Array[]]>): Uint8Array {
  return concatBytes(tarChunks(entries));
}

/** bad refuses an archive: CKPT_BAD_ARCHIVE with what is wrong. */
function bad(why: string): never {
  throw new ImageError('CKPT_BAD_ARCHIVE', why);
}

/** truncated refuses an archive that ends before its last entry does: CKPT_TRUNCATED, saying where. */
function truncated(why: string): never {
  throw new ImageError('CKPT_TRUNCATED', `the image is truncated: ${why}`);
}

const USTAR_MAGIC = 'ustar';

/**
 * checkIsImage refuses bytes that are not the start of a ckpt image:
 * CKPT_NOT_AN_IMAGE for anything but a tar archive whose first entry is
 * manifest.cbor (another program's tar, a file that is not a tar at all).
 */
export function checkIsImage(archive: Uint8Array): void {
  if (archive.length === 0) throw new ImageError('CKPT_NOT_AN_IMAGE', 'not a ckpt image: it is empty');
  const block = new Uint8Array(BLOCK);
  block.set(archive.subarray(0, BLOCK));
  const { path } = nameAndSize(block);
  if (archive.length < BLOCK) {
    // what there is of a header names the manifest (every byte of its 100-byte name field that is there matches)
    const name = new Uint8Array(100);
    name.set(new TextEncoder().encode('manifest.cbor'));
    if (sameBytes(archive.subarray(0, 100), name.subarray(0, Math.min(100, archive.length)))) truncated(`it ends at byte ${archive.length}, inside the header of manifest.cbor`);
  }
  const magic = Buffer.from(block.buffer, block.byteOffset + 257, 5).toString('latin1');
  if (magic !== USTAR_MAGIC) throw new ImageError('CKPT_NOT_AN_IMAGE', 'not a ckpt image: it is not a tar archive (nor a gzip or zstd one)');
  if (path !== 'manifest.cbor') throw new ImageError('CKPT_NOT_AN_IMAGE', `not a ckpt image: a tar archive whose first entry is ${JSON.stringify(path)}, not manifest.cbor`);
}

const canonicalHeaders = new Map<string, Uint8Array>();

/** canonicalHeader is headerFor, remembered: a reader compares every header it sees with it. */
function canonicalHeader(path: string, size: number): Uint8Array {
  const key = `${path}\0${size}`;
  let h = canonicalHeaders.get(key);
  if (!h) {
    if (canonicalHeaders.size > 64) canonicalHeaders.clear();
    h = headerFor(path, size);
    canonicalHeaders.set(key, h);
  }
  return h;
}

/** nameAndSize reads a ustar header's name (offset 0, NUL-terminated) and octal size (offset 124); NaN for a size that is not plain octal. */
function nameAndSize(block: Uint8Array): { path: string; size: number } {
  let n = 0;
  while (n < 100 && block[n] !== 0) n++;
  const path = Buffer.from(block.buffer, block.byteOffset, n).toString('latin1');
  let size = 0;
  let i = 124;
  while (i < 136 && block[i] === 0x20) i++;
  const first = i;
  for (; i < 136 && block[i]! >= 0x30 && block[i]! <= 0x37; i++) size = size * 8 + (block[i]! - 0x30);
  return { path, size: i === first ? NaN : size };
}

/**
 * readHeader accepts exactly the header ckpt writes for one of the format's
 * entries (the checksum alone would miss flips in its own terminator bytes),
 * and otherwise says what is wrong with it.
 */
function readHeader(block: Uint8Array, at: number): { path: string; size: number } {
  const { path, size } = nameAndSize(block);
  if (Number.isSafeInteger(size) && (ENTRIES as readonly string[]).includes(path) && sameBytes(block, canonicalHeader(path, size))) return { path, size };
  let h: Header;
  try {
    h = new Header(Buffer.from(block.buffer, block.byteOffset, BLOCK), 0);
  } catch (e) {
    return bad(`tar header at byte ${at} cannot be parsed: ${(e as Error).message}`);
  }
  if (!h.cksumValid) bad(`tar header at byte ${at} has a bad checksum`);
  const name = h.path ?? '';
  if (h.type !== 'File') bad(`entry ${JSON.stringify(name)} is a ${h.type}, not a regular file`);
  if (!(ENTRIES as readonly string[]).includes(name)) bad(`unexpected entry ${JSON.stringify(name)}`);
  return bad(`tar header of ${name} at byte ${at} is not the one format v1 writes (mode, owner, time and names are fixed)`);
}

/**
 * untar reads the entries of an image archive, refusing anything format v1
 * does not contain: other names or types, entries out of order or twice,
 * sizes beyond the archive, non-zero padding, a missing end-of-archive
 * marker or data after it. Every byte of a valid image is thus fixed
 * (headers must be the ones ckpt writes), covered by an entry's SHA-256,
 * or zero.
 * The entries are views into `archive`: nothing is allocated from what a
 * header claims.
 */
export function untar(archive: Uint8Array): Map<string, Uint8Array> {
  checkIsImage(archive);
  const entries = new Map<string, Uint8Array>();
  let at = 0;
  let next = 0; // index in ENTRIES the next entry may have at the earliest
  for (;;) {
    if (at + BLOCK > archive.length) truncated(`it ends at byte ${archive.length}, ${at === archive.length ? 'where a header or its end-of-archive marker should follow' : 'in the middle of a header'}`);
    const block = archive.subarray(at, at + BLOCK);
    if (isZero(block)) break;
    const { path, size } = readHeader(block, at);
    const k = (ENTRIES as readonly string[]).indexOf(path);
    if (entries.has(path)) bad(`entry ${path} appears twice`);
    if (k < next) bad(`entry ${path} is out of order (format v1 writes ${ENTRIES.join(', ')})`);
    if (entries.size === 0 && k !== 0) bad('manifest.cbor must be the first entry');
    next = k + 1;
    if (at + BLOCK + size > archive.length) truncated(`entry ${path} has ${archive.length - at - BLOCK} of its ${size} bytes`);
    const end = at + BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (end > archive.length) truncated(`entry ${path} ends without its padding`);
    if (!isZero(archive.subarray(at + BLOCK + size, end))) bad(`entry ${path} is not followed by zero padding`);
    entries.set(path, archive.subarray(at + BLOCK, at + BLOCK + size));
    at = end;
  }
  // The end-of-archive marker is two zero blocks; tar writers may add more zeros to fill a record.
  if (at + 2 * BLOCK > archive.length) truncated('it ends without its end-of-archive marker');
  if (archive.length % BLOCK !== 0 || !isZero(archive.subarray(at))) bad(`the archive has data after its end-of-archive marker (byte ${at})`);
  return entries;
}

/** DigestedEntry: the SHA-256 (hex) of the archive's bytes [start, end), taken as an entry's data. */
export interface DigestedEntry {
  start: number;
  end: number;
  digest: string;
}

/**
 * EntryDigester hashes each entry's data while the archive's bytes arrive
 * in order, so that reading and hashing overlap. It follows the headers as
 * untar does (name and size at their fixed offsets) and stops at anything
 * it cannot follow; untar then judges the archive, and a digest counts
 * only for the very bytes untar hands out as that entry (see digestsFor).
 */
export class EntryDigester {
  readonly digested = new Map<string, DigestedEntry>();
  private at = 0; // the next header
  private entry: { path: string; start: number; end: number; fed: number; hash: Hash } | null = null;
  private stopped = false;

  constructor(private readonly archive: Uint8Array) {}

  /** advance: the archive's bytes [0, available) are now in place. */
  advance(available: number): void {
    while (!this.stopped) {
      const e = this.entry;
      if (e) {
        const upto = Math.min(e.end, available);
        if (upto > e.fed) e.hash.update(this.archive.subarray(e.fed, upto));
        e.fed = upto;
        if (e.fed < e.end) return;
        if (!this.digested.has(e.path)) this.digested.set(e.path, { start: e.start, end: e.end, digest: e.hash.digest('hex') });
        this.at = e.start + Math.ceil((e.end - e.start) / BLOCK) * BLOCK;
        this.entry = null;
      }
      if (this.at + BLOCK > available) return;
      const block = this.archive.subarray(this.at, this.at + BLOCK);
      const { path, size } = nameAndSize(block);
      if (isZero(block) || !Number.isSafeInteger(size) || this.at + BLOCK + size > this.archive.length) {
        this.stopped = true;
        return;
      }
      this.entry = { path, start: this.at + BLOCK, end: this.at + BLOCK + size, fed: this.at + BLOCK, hash: createHash('sha256') };
    }
  }
}

/** digestsFor keeps the digests of exactly the bytes each of untar's entries is: the same offset and length in `archive`. */
export function digestsFor(archive: Uint8Array, entries: ReadonlyMap<string, Uint8Array>, digested: ReadonlyMap<string, DigestedEntry>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [path, view] of entries) {
    const d = digested.get(path);
    const start = view.byteOffset - archive.byteOffset;
    if (d && view.buffer === archive.buffer && d.start === start && d.end === start + view.length) out.set(path, d.digest);
  }
  return out;
}
