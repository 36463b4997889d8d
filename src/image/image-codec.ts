/**
 * encodeImage and decodeImage convert a ContainerImage to and from the
 * entries of format v1. Records are plain CBOR (no cbor-x extensions); page
 * contents go raw into pages.bin, each distinct private page once. decode
 * checks the manifest, every entry's SHA-256, every record's schema and the
 * cross-references between records before returning anything.
 */
import { createHash } from 'node:crypto';
import { decode, encode } from 'cbor-x';
import type { ZodType } from 'zod';
import { archByName } from '../arch/registry.js';
import type { ContainerImage } from './container-image.js';
import { ENTRIES, FORMAT_VERSION, IMAGE_MAGIC, ImageError, TOOL_VERSION, type EntryName } from './format.js';
import { checkImage } from './image-consistency.js';
import { storePages } from './page-store.js';
import { decodeMemory, encodeMemory } from './memory-record.js';
import { uniformPages } from '../codec/image-pages.js';
import { filesSchema, manifestSchema, memorySchema, namespacesSchema, programsSchema, schedulerSchema, tasksSchema } from './records.js';
import { sameBytes } from '../codec/bytes.js';

export interface EncodeOptions {
  /** store program text in the image (the default: an image restores anywhere); false refers to it by path and hash only */
  embedPrograms?: boolean;
}

/** EntryBytes is an entry's content: one array, or chunks to be written one after another (pages.bin, uncopied). */
export type EntryBytes = Uint8Array | readonly Uint8Array[];

export function sha256(bytes: Uint8Array | string | readonly Uint8Array[]): string {
  const h = createHash('sha256');
  if (Array.isArray(bytes)) for (const chunk of bytes) h.update(chunk);
  else h.update(bytes as Uint8Array | string);
  return h.digest('hex');
}

function cbor(value: unknown): Uint8Array {
  const b = encode(value);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** EncodedBody is every entry after the manifest, in archive order, with what the manifest says about them. */
export interface EncodedBody {
  body: Array<[EntryName, EntryBytes]>;
  /** distinct pages stored in pages.bin */
  pages: number;
}

/** encodeBody returns the entries the manifest describes, in archive order. */
export function encodeBody(img: ContainerImage, opts: EncodeOptions = {}): EncodedBody {
  const { bin: pages, shared, remap } = storePages(img.pages);
  const body: Array<[EntryName, EntryBytes]> = [
    ['namespaces.cbor', cbor({ base: img.base, userNs: img.userNs, pidNs: img.pidNs })],
    ['tasks.cbor', cbor({ init: img.init, tasks: img.tasks })],
    ['memory.cbor', encodeMemory({ mms: img.mms, shared, fpus: img.fpus }, remap)],
    ['files.cbor', cbor({ files: img.files, console: img.console })],
    ['programs.cbor', cbor(img.programs.map(([path, text]) => ({ path, sha256: sha256(text), ...(opts.embedPrograms === false ? {} : { text }) })))],
    ['scheduler.cbor', cbor({ round: img.round })],
    ['pages.bin', pages],
  ];
  return { body, pages: shared.length };
}

/**
 * manifestEntries returns manifest.cbor and manifest.sha256 for a body whose
 * entries have the given SHA-256 digests (hex). A digest is always 64
 * characters, so the manifest's size does not depend on the digests: a
 * writer may lay the archive out before it knows them.
 */
export function manifestEntries(img: ContainerImage, encoded: EncodedBody, digests: ReadonlyMap<EntryName, string>): Array<[EntryName, Uint8Array]> {
  const manifest = {
    magic: IMAGE_MAGIC,
    formatVersion: FORMAT_VERSION,
    tool: TOOL_VERSION,
    arch: img.arch,
    ...(img.kernel === undefined ? {} : { kernel: img.kernel }),
    pageSize: archByName(img.arch)!.pageSize,
    pidMax: img.pidMax,
    container: img.name,
    depth: img.tasks.reduce((d, t) => Math.max(d, t.numbers.length), 0),
    counts: { tasks: img.tasks.length, pidNamespaces: img.pidNs.length, userNamespaces: img.userNs.length, pages: encoded.pages },
    entries: Object.fromEntries(encoded.body.map(([name]) => [name, digests.get(name)!])),
  };
  const manifestBytes = cbor(manifest);
  return [['manifest.cbor', manifestBytes], ['manifest.sha256', manifestDigest(manifestBytes)]];
}

/** encodeImage returns the entries of the image in archive order. */
export function encodeImage(img: ContainerImage, opts: EncodeOptions = {}): Array<[EntryName, EntryBytes]> {
  const encoded = encodeBody(img, opts);
  const digests = new Map(encoded.body.map(([name, bytes]) => [name, sha256(bytes)]));
  return [...manifestEntries(img, encoded, digests), ...encoded.body];
}

/** manifestDigest is the manifest.sha256 entry: one line in sha256sum's format, so `sha256sum -c manifest.sha256` checks an unpacked image. */
export function manifestDigest(manifest: Uint8Array): Uint8Array {
  return new TextEncoder().encode(`${sha256(manifest)}  manifest.cbor\n`);
}

/** record decodes and checks one record; `read` decodes the CBOR (cbor-x's decode unless the record has its own reader) */
function record<T>(entries: ReadonlyMap<string, Uint8Array>, name: EntryName, schema: ZodType<T>, read: (bytes: Uint8Array) => unknown = decode): T {
  const bytes = entries.get(name);
  if (!bytes) throw new ImageError('CKPT_BAD_ARCHIVE', `the image has no ${name}`);
  let value: unknown;
  try {
    value = read(bytes);
  } catch (e) {
    throw new ImageError('CKPT_BAD_RECORD', `${name} is not valid CBOR: ${(e as Error).message}`);
  }
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ImageError('CKPT_BAD_RECORD', `${name}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return r.data;
}

/** ProgramResolver finds the text of a program the image refers to by path and SHA-256; null: do not look (programs keep empty text, for inspecting only). */
export type ProgramResolver = ((path: string, sha256: string) => string | undefined) | null;

/**
 * decodeImage checks and decodes an image's entries. `digests`: SHA-256s
 * already computed over exactly these bytes (readImageFile hashes while it
 * reads); an entry without one is hashed here.
 */
export function decodeImage(entries: ReadonlyMap<string, Uint8Array>, resolve: ProgramResolver = () => undefined, digests: ReadonlyMap<string, string> = new Map()): ContainerImage {
  const manifestBytes = entries.get('manifest.cbor');
  if (!manifestBytes) throw new ImageError('CKPT_NOT_AN_IMAGE', 'not a ckpt image: it has no manifest.cbor');
  // The manifest's own digest first: a damaged manifest is damage, not another format version.
  const digest = entries.get('manifest.sha256');
  if (digest && !sameBytes(digest, manifestDigest(manifestBytes))) throw new ImageError('CKPT_BAD_CHECKSUM', 'manifest.cbor does not match manifest.sha256');
  let raw: unknown;
  try {
    raw = decode(manifestBytes);
  } catch {
    throw new ImageError('CKPT_NOT_AN_IMAGE', 'not a ckpt image: manifest.cbor is not CBOR');
  }
  const m = raw as { magic?: unknown; formatVersion?: unknown };
  if (m?.magic !== IMAGE_MAGIC) throw new ImageError('CKPT_NOT_AN_IMAGE', 'not a ckpt image: the manifest has the wrong magic');
  if (m.formatVersion !== FORMAT_VERSION) throw new ImageError('CKPT_BAD_VERSION', `image format version ${String(m.formatVersion)} is not supported (this ckpt reads version ${FORMAT_VERSION})`);
  if (!digest) throw new ImageError('CKPT_BAD_ARCHIVE', 'the image has no manifest.sha256');
  const manifest = record(entries, 'manifest.cbor', manifestSchema);
  for (const name of ENTRIES.slice(2)) {
    const bytes = entries.get(name);
    if (!bytes) throw new ImageError('CKPT_BAD_ARCHIVE', `the image has no ${name}`);
    if (manifest.entries[name] !== (digests.get(name) ?? sha256(bytes))) throw new ImageError('CKPT_BAD_CHECKSUM', `${name} does not match its SHA-256 in the manifest`);
  }
  const arch = archByName(manifest.arch)!;
  if (manifest.pageSize !== arch.pageSize) throw new ImageError('CKPT_INCONSISTENT', `page size ${manifest.pageSize} is not ${arch.name}'s ${arch.pageSize}`);
  const ns = record(entries, 'namespaces.cbor', namespacesSchema);
  const { init, tasks } = record(entries, 'tasks.cbor', tasksSchema);
  // page references flattened as they are read, not a pair each (memory-record.ts); cbor-x for what that reader leaves
  const memory = record(entries, 'memory.cbor', memorySchema, (bytes) => decodeMemory(bytes) ?? decode(bytes));
  const files = record(entries, 'files.cbor', filesSchema);
  const programs = record(entries, 'programs.cbor', programsSchema);
  const scheduler = record(entries, 'scheduler.cbor', schedulerSchema);
  const pagesBin = entries.get('pages.bin')!;
  if (pagesBin.length !== memory.shared.length * arch.pageSize) throw new ImageError('CKPT_INCONSISTENT', `pages.bin holds ${pagesBin.length} bytes, not ${memory.shared.length} pages of ${arch.pageSize}`);
  const counted = (what: string, claimed: number, actual: number): void => {
    if (claimed !== actual) throw new ImageError('CKPT_INCONSISTENT', `the manifest counts ${claimed} ${what} but the image has ${actual}`);
  };
  counted('tasks', manifest.counts.tasks, tasks.length);
  counted('pid namespaces', manifest.counts.pidNamespaces, ns.pidNs.length);
  counted('user namespaces', manifest.counts.userNamespaces, ns.userNs.length);
  counted('pages', manifest.counts.pages, memory.shared.length);
  counted('pid levels of depth', manifest.depth, tasks.reduce((d, t) => Math.max(d, t.numbers.length), 0));
  const img: ContainerImage = {
    name: manifest.container,
    arch: arch.name,
    ...(manifest.kernel === undefined ? {} : { kernel: manifest.kernel }),
    pidMax: manifest.pidMax,
    base: ns.base,
    userNs: ns.userNs,
    pidNs: ns.pidNs,
    tasks: tasks as ContainerImage['tasks'],
    init,
    // pages.bin itself: a restore copies the pages into frames, or adopts it
    pages: uniformPages(arch.pageSize, pagesBin, memory.shared),
    mms: memory.mms,
    fpus: memory.fpus,
    files: files.files,
    console: files.console,
    programs: programs.map((p): [string, string] => [p.path, '']),
    round: scheduler.round,
  };
  checkImage(img);
  // Programs are looked for only once the image is known to be consistent.
  if (resolve === null) return img;
  // Every missing program is named, not only the first.
  const missing: Array<{ code: 'CKPT_MISSING_PROGRAM'; message: string }> = [];
  img.programs = programs.map((p): [string, string] => {
    const text = p.text ?? resolve(p.path, p.sha256);
    if (text === undefined) missing.push({ code: 'CKPT_MISSING_PROGRAM', message: `program ${p.path} (sha256 ${p.sha256.slice(0, 12)}…) is not in the image and was not found on the target; make it available there (images are self-contained unless dumped with --no-embed-programs)` });
    else if (sha256(text) !== p.sha256) missing.push({ code: 'CKPT_MISSING_PROGRAM', message: `program ${p.path} on the target differs from the one checkpointed (SHA-256 mismatch)` });
    return [p.path, text ?? ''];
  });
  if (missing.length > 0) throw new ImageError('CKPT_MISSING_PROGRAM', `${missing[0]!.message}${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`, missing);
  return img;
}
