/**
 * A column file holds a record whose typed arrays (its columns) lie outside
 * its CBOR, each on its own and 8-byte aligned: a save writes each column
 * from where it lies (one writev, no copy into an encoder's buffer) and a
 * load reads each into a buffer of its own, viewed as its typed array
 * without a copy. A part of 100,000 tasks is a few dozen columns of tens of
 * megabytes, and copying them through an encoder and back cost more than
 * writing and reading them.
 *
 * Layout: MAGIC (8 bytes), the header's length (u32 little-endian), 4 zero
 * bytes, the header (CBOR: [the record with each column replaced by a tag
 * COLUMN_TAG holding its index, [kind, byte length] per column]), zero
 * padding to a multiple of 8, then the columns in order, each padded to a
 * multiple of 8. Columns are little-endian. Pure: the caller does the I/O.
 */
import { decode, encode, Tag } from 'cbor-x';
import { byteLength, concatBytes } from '../codec/bytes.js';

const MAGIC = new TextEncoder().encode('ckptcol1');
const COLUMN_TAG = 49_344;
/** the typed arrays a column may be, by kind */
const KINDS = [Uint8Array, Int32Array, Float64Array, Uint32Array, Int16Array, Uint16Array, Int8Array] as const;
type Column = InstanceType<(typeof KINDS)[number]>;
const PREFIX = 16;
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** ByteRuns is a byte column given as the pieces it is made of, written one after another as one column (read back as one Uint8Array). */
export class ByteRuns {
  readonly byteLength: number;

  constructor(readonly runs: readonly Uint8Array[]) {
    this.byteLength = byteLength(runs);
  }

  /** joined copies the pieces into one array. */
  joined(): Uint8Array {
    return concatBytes(this.runs);
  }
}

/** ColumnFileError says what in a column file is not as written. */
export class ColumnFileError extends Error {
  override readonly name = 'ColumnFileError';
}

const pad = (n: number): number => (8 - (n % 8)) % 8;
const ZEROS = new Uint8Array(8);

/** bytesOf views a column's bytes, little-endian (a copy, swapped, on a big-endian machine). */
function bytesOf(c: Column): Uint8Array {
  const bytes = new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  return littleEndian || c.BYTES_PER_ELEMENT === 1 ? bytes : swapped(bytes, c.BYTES_PER_ELEMENT);
}

function swapped(bytes: Uint8Array, size: number): Uint8Array {
  const b = Buffer.from(bytes);
  if (size === 2) b.swap16();
  else if (size === 4) b.swap32();
  else b.swap64();
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * encodeColumnFile lays `record` out as a column file: the pieces to write
 * back to back (the columns themselves among them, not copies).
 */
export function encodeColumnFile(record: unknown): Uint8Array[] {
  const columns: Array<Column | ByteRuns> = [];
  const lift = (v: unknown): unknown => {
    if (v instanceof ByteRuns) return new Tag(columns.push(v) - 1, COLUMN_TAG);
    if (ArrayBuffer.isView(v)) {
      if (!KINDS.some((k) => v instanceof k)) throw new TypeError(`a column cannot be a ${v.constructor.name}`);
      return new Tag(columns.push(v as Column) - 1, COLUMN_TAG);
    }
    if (Array.isArray(v)) return v.map(lift);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, lift(x)]));
    return v;
  };
  const body = lift(record);
  const encoded = encode([body, columns.map((c) => [c instanceof ByteRuns ? 0 : KINDS.findIndex((k) => c instanceof k), c.byteLength])]);
  const header = new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  const prefix = new Uint8Array(PREFIX);
  prefix.set(MAGIC);
  new DataView(prefix.buffer).setUint32(8, header.length, true);
  const out: Uint8Array[] = [prefix, header, ZEROS.subarray(0, pad(PREFIX + header.length))];
  for (const c of columns) {
    if (c instanceof ByteRuns) out.push(...c.runs.filter((r) => r.length > 0));
    else if (c.byteLength > 0) out.push(bytesOf(c));
    if (pad(c.byteLength) > 0) out.push(ZEROS.subarray(0, pad(c.byteLength)));
  }
  return out;
}

/** ColumnSource reads a column file's bytes: `length` of them at `at` into `into`. */
export interface ColumnSource {
  size: number;
  readInto(into: Uint8Array, at: number): void;
}

/**
 * decodeColumnFile reads a column file: its header, then each column into a
 * buffer of its own, and returns the record with its columns in place.
 */
export function decodeColumnFile(source: ColumnSource): unknown {
  if (source.size < PREFIX) throw new ColumnFileError(`a column file of ${source.size} bytes is shorter than its prefix`);
  const prefix = new Uint8Array(PREFIX);
  source.readInto(prefix, 0);
  if (!MAGIC.every((b, i) => prefix[i] === b)) throw new ColumnFileError('not a column file');
  const headerLength = new DataView(prefix.buffer).getUint32(8, true);
  if (PREFIX + headerLength > source.size) throw new ColumnFileError(`its header of ${headerLength} bytes runs past its ${source.size}`);
  const header = new Uint8Array(headerLength);
  source.readInto(header, PREFIX);
  const [body, list] = decode(header) as [unknown, Array<[number, number]>];
  if (!Array.isArray(list)) throw new ColumnFileError('its header lists no columns');
  let at = PREFIX + headerLength + pad(PREFIX + headerLength);
  const columns = list.map(([kind, length]) => {
    const Kind = KINDS[kind];
    if (!Kind || !Number.isInteger(length) || length < 0 || length % Kind.BYTES_PER_ELEMENT !== 0) throw new ColumnFileError(`column of kind ${kind} and ${length} bytes`);
    if (at + length > source.size) throw new ColumnFileError(`a column of ${length} bytes at ${at} runs past the file's ${source.size}`);
    // not zeroed first (37 MB for 100,000 tasks): readInto fills every byte or throws
    const buffer = Buffer.allocUnsafeSlow(length).buffer as ArrayBuffer;
    const bytes = new Uint8Array(buffer, 0, length);
    source.readInto(bytes, at);
    at += length + pad(length);
    if (!littleEndian && Kind.BYTES_PER_ELEMENT > 1) bytes.set(swapped(bytes, Kind.BYTES_PER_ELEMENT));
    return new Kind(buffer, 0, length / Kind.BYTES_PER_ELEMENT);
  });
  const place = (v: unknown): unknown => {
    if (v instanceof Tag && v.tag === COLUMN_TAG) {
      const c = columns[v.value as number];
      if (!c) throw new ColumnFileError(`column ${String(v.value)} does not exist`);
      return c;
    }
    if (Array.isArray(v)) return v.map(place);
    if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, place(x)]));
    return v;
  };
  return place(body);
}
