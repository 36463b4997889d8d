/**
 * Mutations of valid images into hostile ones, as data: each mutation is a
 * plain value (so fast-check can generate, print and shrink it) and
 * `applyMutation` turns a seed image into the mutated archive bytes. The
 * kinds follow issue 5: bit flips, truncation, entries reordered,
 * duplicated, missing or unknown, wrong types and sizes in tar headers,
 * huge declared lengths, deeply nested or huge CBOR, wrong types in
 * records, semantically inconsistent content, checksums that do not match,
 * and (allowed to be accepted) random values in valid places.
 */
import { decode, encode } from 'cbor-x';
import fc from 'fast-check';
import { Header } from 'tar';
import { NSIG } from '../../src/abi/signals.js';
import { tarBytes, untar } from '../../src/image/archive.js';
import { concatBytes } from '../../src/codec/bytes.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { ENTRIES } from '../../src/image/format.js';
import { decodeImage, encodeImage, manifestDigest, sha256 } from '../../src/image/image-codec.js';
import { addBytes, pageCount } from '../../src/codec/image-pages.js';
import { refPairs } from '../../src/codec/address-space-record.js';

const BLOCK = 512;

/** Seed: a valid image, as archive bytes and decoded. */
export interface Seed {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly image: ContainerImage;
}

export function seedOf(name: string, bytes: Uint8Array): Seed {
  return { name, bytes, image: decodeImage(untar(bytes)) };
}

export const SEMANTIC_CASES = [
  'parent-cycle',
  'parent-self',
  'duplicate-pid',
  'duplicate-tid',
  'missing-parent',
  'parent-out-of-range',
  'leader-missing',
  'leader-not-a-leader',
  'pid-at-pid-max',
  'pid-max-too-big',
  'depth-over-32',
  'levels-wrong',
  'regs-length',
  'fpu-length',
  'extra-unknown',
  'host-user-ns',
  'second-root-user-ns',
  'caps-beyond-permitted',
  'children-wrong',
  'zombie-scheduled',
  'init-not-pid-1',
  'page-outside-vma',
  'vma-overlap',
  'ns-for-children-unrelated',
  'exe-not-listed',
  'fd-twice',
  'group-beyond-pid-max',
  'session-leader-elsewhere',
  'stop-signal-beyond-nsig',
] as const;
export type SemanticCase = (typeof SEMANTIC_CASES)[number];

export const HEADER_TYPES = ['SymbolicLink', 'Link', 'CharacterDevice', 'BlockDevice', 'FIFO', 'Directory', 'ExtendedHeader', 'GlobalExtendedHeader', 'ContiguousFile'] as const;
export const HOSTILE_PATHS = ['/etc/passwd', '../manifest.cbor', 'a/../../b', 'tasks.cbor/', './tasks.cbor', 'pages.bin.bak', 'MANIFEST.CBOR', ''] as const;
export const CBOR_BOMBS = ['deep-array', 'deep-map', 'long-bytes-claim', 'long-array-claim', 'long-map-claim', 'long-text-claim', 'big-array', 'indefinite-unterminated', 'tag'] as const;

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'reorder'; i: number; j: number }
  | { kind: 'duplicate'; i: number; at: number }
  | { kind: 'drop'; i: number }
  | { kind: 'extra-entry'; name: (typeof HOSTILE_PATHS)[number]; at: number }
  | { kind: 'header-type'; i: number; type: (typeof HEADER_TYPES)[number] }
  | { kind: 'header-path'; i: number; path: (typeof HOSTILE_PATHS)[number] }
  | { kind: 'header-size'; i: number; size: number }
  | { kind: 'trailing'; bytes: number[] }
  | { kind: 'cbor-bomb'; entry: number; bomb: (typeof CBOR_BOMBS)[number] }
  | { kind: 'wrong-type'; entry: number; pick: number }
  | { kind: 'unsealed'; entry: number; pick: number }
  | { kind: 'semantic'; which: SemanticCase; pick: number }
  | { kind: 'random-value'; entry: number; pick: number; value: number };

/** MUST_REJECT: every kind but random-value makes an image no valid dump could be. */
export function mustReject(m: Mutation): boolean {
  return m.kind !== 'random-value';
}

const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const pick = fc.nat({ max: 1_000_000 });
const entryIndex = fc.nat({ max: ENTRIES.length - 1 });
const recordIndex = fc.integer({ min: 2, max: ENTRIES.length - 2 }); // the .cbor records after the manifest digest

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('flip' as const), at: unit, bit: fc.nat({ max: 7 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: unit }), weight: 2 },
  fc.record({ kind: fc.constant('reorder' as const), i: entryIndex, j: entryIndex }).filter((m) => m.i !== m.j),
  fc.record({ kind: fc.constant('duplicate' as const), i: entryIndex, at: fc.nat({ max: ENTRIES.length }) }),
  fc.record({ kind: fc.constant('drop' as const), i: entryIndex }),
  fc.record({ kind: fc.constant('extra-entry' as const), name: fc.constantFrom(...HOSTILE_PATHS), at: fc.nat({ max: ENTRIES.length }) }),
  fc.record({ kind: fc.constant('header-type' as const), i: entryIndex, type: fc.constantFrom(...HEADER_TYPES) }),
  fc.record({ kind: fc.constant('header-path' as const), i: entryIndex, path: fc.constantFrom(...HOSTILE_PATHS) }),
  fc.record({ kind: fc.constant('header-size' as const), i: entryIndex, size: fc.oneof(fc.nat({ max: 100_000 }), fc.constantFrom(2 ** 33 - 1, 2 ** 40, 2 ** 52)) }),
  fc.record({ kind: fc.constant('trailing' as const), bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 1024 }) }).filter((m) => m.bytes.some((b) => b !== 0) || m.bytes.length % BLOCK !== 0),
  fc.record({ kind: fc.constant('cbor-bomb' as const), entry: fc.nat({ max: ENTRIES.length - 2 }).map((e) => (e === 1 ? 0 : e)), bomb: fc.constantFrom(...CBOR_BOMBS) }),
  { arbitrary: fc.record({ kind: fc.constant('wrong-type' as const), entry: fc.oneof(fc.constant(0), recordIndex), pick }), weight: 3 },
  fc.record({ kind: fc.constant('unsealed' as const), entry: fc.oneof(fc.constant(0), recordIndex), pick }),
  { arbitrary: fc.record({ kind: fc.constant('semantic' as const), which: fc.constantFrom(...SEMANTIC_CASES), pick }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant('random-value' as const), entry: fc.oneof(fc.constant(0), recordIndex), pick, value: fc.oneof(fc.integer({ min: -3, max: 70_000 }), fc.constantFrom(2 ** 31, 2 ** 32, 2 ** 53 - 1, 4_194_304)) }), weight: 3 },
);

// ---- archive-level helpers -------------------------------------------------

type Entry = [string, Uint8Array];

function entriesOf(seed: Seed): Entry[] {
  return [...untar(seed.bytes).entries()];
}

/** headerBlock writes one tar header; `type` and `size` may be anything tar can encode. */
function headerBlock(path: string, size: number, type: string, linkpath = ''): Uint8Array {
  const h = new Header({ path, mode: 0o644, uid: 0, gid: 0, size, mtime: new Date(0), type: type as 'File', uname: '', gname: '', linkpath });
  const block = Buffer.alloc(BLOCK);
  h.encode(block, 0);
  return new Uint8Array(block.buffer, block.byteOffset, BLOCK);
}

/** rawTar lays entries out like tarBytes but lets a header lie about its type, path or size. */
function rawTar(entries: Entry[], lie?: { i: number; type?: string; path?: string; size?: number }): Uint8Array {
  const parts: Uint8Array[] = [];
  entries.forEach(([path, bytes], i) => {
    const l = lie && lie.i === i ? lie : undefined;
    parts.push(headerBlock(l?.path ?? path, l?.size ?? bytes.length, l?.type ?? 'File', l?.type === 'SymbolicLink' || l?.type === 'Link' ? '/etc/shadow' : ''));
    parts.push(bytes, new Uint8Array((BLOCK - (bytes.length % BLOCK)) % BLOCK));
  });
  parts.push(new Uint8Array(2 * BLOCK));
  return concatBytes(parts);
}

/** withManifestDigest recomputes manifest.sha256 for whatever manifest.cbor now holds. */
function withManifestDigest(entries: Entry[]): Entry[] {
  const manifest = entries.find(([n]) => n === 'manifest.cbor')?.[1] ?? new Uint8Array();
  return entries.map(([n, b]): Entry => [n, n === 'manifest.sha256' ? manifestDigest(manifest) : b]);
}

/** reseal recomputes the manifest's entry digests and manifest.sha256, so a record change reaches the schemas. */
function reseal(entries: Entry[]): Entry[] {
  const map = new Map(entries);
  const manifest = decode(map.get('manifest.cbor')!) as { entries: Record<string, string> };
  for (const name of ENTRIES.slice(2)) if (map.has(name)) manifest.entries[name] = sha256(map.get(name)!);
  const mBytes = plainCbor(manifest);
  return withManifestDigest(entries.map(([n, b]): Entry => [n, n === 'manifest.cbor' ? mBytes : b]));
}

/** sealed fixes the digests after `name` changed: only manifest.sha256 when the manifest itself did. */
function sealed(entries: Entry[], name: string): Entry[] {
  return name === 'manifest.cbor' ? withManifestDigest(entries) : reseal(entries);
}

function plainCbor(value: unknown): Uint8Array {
  const b = encode(value);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

// ---- record-level helpers --------------------------------------------------

type Path = Array<string | number>;

/** leaves lists the paths of every leaf of a decoded record (byte strings count as leaves). */
function leaves(value: unknown, path: Path = [], out: Path[] = []): Path[] {
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') out.push(path);
  else if (Array.isArray(value)) value.forEach((v, i) => leaves(v, [...path, i], out));
  else for (const [k, v] of Object.entries(value)) leaves(v, [...path, k], out);
  if (out.length === 0) out.push(path);
  return out;
}

function getAt(root: unknown, path: Path): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], root);
}

function setAt(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1]!] = value;
  return root;
}

/** otherType gives a value of a JSON type different from `v`'s that no schema field of v's kind accepts. */
function otherType(v: unknown): unknown {
  if (typeof v === 'number') return 'x';
  if (typeof v === 'string') return 7;
  if (typeof v === 'boolean') return 1;
  if (v === null) return { not: 'null' };
  if (v instanceof Uint8Array) return 3;
  if (Array.isArray(v)) return 'not an array';
  return [1, 2, 3];
}

/** rewriteRecord replaces record `name` of an archive with `change` of its decoded value, and fixes the digests unless told to keep them. */
export function rewriteRecord(archive: Uint8Array, name: string, change: (record: unknown) => unknown, keepDigests = false): Uint8Array {
  const entries = [...untar(archive)].map(([n, b]): Entry => [n, n === name ? plainCbor(change(decode(b))) : b]);
  return tarBytes(keepDigests ? entries : sealed(entries, name));
}

function mutateRecord(seed: Seed, entry: number, change: (record: unknown) => unknown, keepDigests = false): Uint8Array {
  return rewriteRecord(seed.bytes, ENTRIES[entry]!, change, keepDigests);
}

// ---- CBOR bombs ------------------------------------------------------------

function cborBomb(bomb: (typeof CBOR_BOMBS)[number]): Uint8Array {
  switch (bomb) {
    case 'deep-array':
      return new Uint8Array(200_000).fill(0x81); // [[[[...
    case 'deep-map':
      return Uint8Array.from({ length: 200_000 }, (_, i) => (i % 2 === 0 ? 0xa1 : 0x00)); // {0: {0: ...
    case 'long-bytes-claim':
      return Uint8Array.from([0x5b, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 1, 2, 3]); // 2^40-byte string, 3 bytes given
    case 'long-array-claim':
      return Uint8Array.from([0x9b, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x01]); // 2^32-1 elements, 1 given
    case 'long-map-claim':
      return Uint8Array.from([0xbb, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02]);
    case 'long-text-claim':
      return Uint8Array.from([0x7a, 0x7f, 0xff, 0xff, 0xff, 0x61]);
    case 'big-array': {
      const n = 300_000; // a real but huge array of small ints: bounded by the bytes given
      const out = new Uint8Array(5 + n);
      out.set([0x9a, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
      return out;
    }
    case 'indefinite-unterminated':
      return Uint8Array.from([0x9f, 0x01, 0x02, 0x9f, 0x03]);
    case 'tag':
      return Uint8Array.from([0xd9, 0xd9, 0xf7, 0xc1, 0x1a, 0x00, 0x00, 0x00, 0x01]); // self-describe tag, then a date tag
  }
}

// ---- semantic mutations on the decoded image --------------------------------

function clone(img: ContainerImage): ContainerImage {
  return structuredClone(img);
}

/** leadersOf lists non-init process indices, in order. */
function processes(img: ContainerImage): number[] {
  return img.tasks.map((t, i) => (t.leader === i && i !== img.init ? i : -1)).filter((i) => i >= 0);
}

function semantic(seed: Seed, which: SemanticCase, n: number): Uint8Array {
  const img = clone(seed.image);
  const tasks = img.tasks;
  const procs = processes(img);
  const one = <T>(xs: readonly T[]): T => xs[n % xs.length]!;
  const some = procs.length > 0 ? one(procs) : img.init;
  const t = tasks[some]!;
  switch (which) {
    case 'parent-cycle': {
      // a process's parent becomes one of its own descendants (or a later process)
      const later = procs.filter((j) => j > some);
      const j = later.length > 0 ? one(later) : some;
      tasks[t.parent]?.children.splice(tasks[t.parent]!.children.indexOf(some), 1);
      t.parent = j;
      tasks[j]!.children.push(some);
      break;
    }
    case 'parent-self':
      t.parent = some;
      t.children.push(some);
      break;
    case 'duplicate-pid': {
      const other = one(tasks.map((_, i) => i).filter((i) => i !== some));
      t.numbers[0] = tasks[other]!.numbers[0]!;
      break;
    }
    case 'duplicate-tid': {
      // a task takes the pid another task has in their common innermost namespace
      const sameNs = tasks.map((x, i) => (x.ns === t.ns && i !== some ? i : -1)).filter((i) => i >= 0);
      const other = sameNs.length > 0 ? one(sameNs) : img.init;
      t.numbers[t.numbers.length - 1] = tasks[other]!.numbers[tasks[other]!.numbers.length - 1]!;
      if (sameNs.length === 0) t.numbers[0] = 1;
      break;
    }
    case 'missing-parent':
      if (some === img.init) tasks.push({ ...structuredClone(t), leader: tasks.length, parent: -1, numbers: [img.pidMax - 1], children: [] });
      else {
        tasks[t.parent]!.children.splice(tasks[t.parent]!.children.indexOf(some), 1);
        t.parent = -1;
      }
      break;
    case 'parent-out-of-range':
      t.parent = tasks.length + (n % 5);
      break;
    case 'leader-missing':
      t.leader = tasks.length + (n % 5);
      break;
    case 'leader-not-a-leader': {
      // two tasks each naming the other as leader: a thread group without a leader
      const other = one(tasks.map((_, i) => i).filter((i) => i !== some));
      t.leader = other;
      tasks[other]!.leader = some;
      break;
    }
    case 'pid-at-pid-max':
      t.numbers[n % t.numbers.length] = img.pidMax + (n % 3);
      break;
    case 'pid-max-too-big':
      img.pidMax = 4_194_305 + n;
      break;
    case 'depth-over-32':
      for (let k = 0; k < 33; k++) img.pidNs.push([img.pidNs.length - 1, 0, 0, true]);
      break;
    case 'levels-wrong':
      if (n % 2 === 0) t.numbers.push(7);
      else t.outer = [...t.outer, 5];
      break;
    case 'regs-length':
      t.regs = n % 2 === 0 ? t.regs.slice(0, t.regs.length - 1 - (n % 16)) : Uint8Array.from([...t.regs, 0, 0, 0, 0]);
      break;
    case 'fpu-length':
      img.fpus[t.fpu] = img.fpus[t.fpu]!.slice(0, n % img.fpus[t.fpu]!.length);
      break;
    case 'extra-unknown':
      t.extra = [...t.extra, [n % 2 === 0 ? 'debugregs' : t.extra[0]?.[0] ?? 'tls', new Uint8Array(n % 40)]];
      break;
    case 'host-user-ns':
      t.cred[3] = -1;
      break;
    case 'second-root-user-ns':
      img.userNs.push([-1, 0]);
      t.cred[3] = img.userNs.length - 1;
      break;
    case 'caps-beyond-permitted':
      t.cred[4] = n % 2 === 0 ? 2 ** 41 + 1 : 1;
      t.cred[5] = 0;
      break;
    case 'children-wrong':
      t.children.push(n % 2 === 0 ? img.init : some);
      break;
    case 'zombie-scheduled': {
      const zombie = tasks.findIndex((x) => x.exited);
      if (zombie >= 0) img.round.push(zombie);
      else img.round.push(...img.round, img.init, img.init);
      break;
    }
    case 'init-not-pid-1':
      tasks[img.init]!.numbers[0] = 2 + (n % 100);
      break;
    case 'page-outside-vma': {
      const mm = img.mms[t.mm]!;
      mm[2] = [...refPairs(mm[2]), [Math.floor(0xfff00000 / 4096) + (n % 16), 0] as [number, number]].sort((a, b) => a[0] - b[0]);
      if (pageCount(img.pages) === 0) addBytes(img.pages, new Uint8Array(img.pages.size), false);
      break;
    }
    case 'vma-overlap': {
      const vmas = img.mms[t.mm]![1];
      const v = vmas[n % vmas.length];
      if (v) vmas.push([v[0], v[1], v[2], v[3], 'again']);
      else vmas.push([4096, 0, 3, false, 'backwards']);
      break;
    }
    case 'ns-for-children-unrelated':
      img.pidNs.push([0, 0, 0, true], [img.pidNs.length, 0, 0, true]);
      t.nsForChildren = img.pidNs.length - 1;
      break;
    case 'exe-not-listed':
      t.exePath = `/not/in/the/image/${n}`;
      break;
    case 'group-beyond-pid-max':
      t.pgid = [img.pidMax + (n % 7)];
      break;
    case 'stop-signal-beyond-nsig':
      t.group.stopSignal = NSIG + 1 + (n % 200);
      break;
    case 'session-leader-elsewhere': {
      const leader = tasks.find((x, i) => x.leader === i && x.group.sessionLeader);
      if (leader) leader.pgid = [img.pidMax - 1 - (n % 3)];
      else t.group.sessionLeader = true;
      break;
    }
    case 'fd-twice': {
      const table = img.files[t.files]!;
      table[1].push([table[1][0]?.[0] ?? 0, 'console', 2], [table[1][0]?.[0] ?? 0, 'console', 2]);
      break;
    }
  }
  return tarBytes(encodeImage(img, { embedPrograms: true }));
}

// ---- applying a mutation ----------------------------------------------------

/** applyMutation makes the hostile archive bytes for `m` from `seed`. */
export function applyMutation(seed: Seed, m: Mutation): Uint8Array {
  const bytes = seed.bytes;
  switch (m.kind) {
    case 'flip': {
      const out = bytes.slice();
      const at = Math.floor(m.at * out.length);
      out[at] = out[at]! ^ (1 << m.bit);
      return out;
    }
    case 'truncate':
      return bytes.slice(0, Math.floor(m.at * bytes.length));
    case 'reorder': {
      const e = entriesOf(seed);
      [e[m.i], e[m.j]] = [e[m.j]!, e[m.i]!];
      return rawTar(e);
    }
    case 'duplicate': {
      const e = entriesOf(seed);
      e.splice(m.at, 0, e[m.i]!);
      return rawTar(e);
    }
    case 'drop':
      return rawTar(entriesOf(seed).filter((_, i) => i !== m.i));
    case 'extra-entry': {
      const e = entriesOf(seed);
      e.splice(m.at, 0, [m.name, new Uint8Array([1, 2, 3])]);
      return rawTar(e);
    }
    case 'header-type':
      return rawTar(entriesOf(seed), { i: m.i, type: m.type });
    case 'header-path':
      return rawTar(entriesOf(seed), { i: m.i, path: m.path });
    case 'header-size':
      return rawTar(entriesOf(seed), { i: m.i, size: m.size === entriesOf(seed)[m.i]![1].length ? m.size + 1 : m.size });
    case 'trailing':
      return Uint8Array.from([...bytes, ...m.bytes]);
    case 'cbor-bomb': {
      const name = ENTRIES[m.entry]!;
      return tarBytes(sealed(entriesOf(seed).map(([n, b]): Entry => [n, n === name ? cborBomb(m.bomb) : b]), name));
    }
    case 'wrong-type':
      return mutateRecord(seed, m.entry, (record) => {
        const all = leaves(record);
        const path = all[m.pick % all.length]!;
        return setAt(record, path, otherType(getAt(record, path)));
      });
    case 'unsealed':
      // a record changed but its digest left as it was: a checksum that does not match
      return mutateRecord(
        seed,
        m.entry,
        (record) => {
          const all = leaves(record);
          const path = all[m.pick % all.length]!;
          const v = getAt(record, path);
          return setAt(record, path, typeof v === 'number' ? v + 1 : typeof v === 'string' ? `${v}!` : typeof v === 'boolean' ? !v : otherType(v));
        },
        true,
      );
    case 'semantic':
      return semantic(seed, m.which, m.pick);
    case 'random-value':
      return mutateRecord(seed, m.entry, (record) => {
        const numeric = leaves(record).filter((p) => typeof getAt(record, p) === 'number');
        if (numeric.length === 0) return record;
        return setAt(record, numeric[m.pick % numeric.length]!, m.value);
      });
  }
}
