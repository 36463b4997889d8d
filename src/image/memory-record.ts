/**
 * memory.cbor without an object per page. The record is plain CBOR,
 * {mms: [[users, mappings, [[index, page], ...]], ...], shared, fpus}, and
 * its page references are most of it: 65,536 pairs for a 256 MiB container,
 * which as JavaScript arrays are what the peak memory of dump and restore
 * paid for. encodeMemory writes references held flattened in a
 * Float64Array (PageRefs) straight as CBOR pairs, byte for byte what cbor-x
 * writes for the pairs themselves; decodeMemory reads them back flattened.
 * Everything else in the record goes through cbor-x. decodeMemory reads
 * what cbor-x writes (definite lengths, no tags but typed arrays' 64); for
 * anything else it returns null and the caller decodes with cbor-x, so
 * every error is the one it always was.
 */
import { decode, encode } from 'cbor-x';
import { refCount, refIndex, refPage, type PageRefs, type VmaRecord } from '../codec/address-space-record.js';
import { concatBytes } from '../codec/bytes.js';

export interface MemoryRecord {
  mms: Array<[users: number, vmas: VmaRecord[], refs: PageRefs]>;
  shared: boolean[];
  fpus: Uint8Array[];
}

/** CborWriter collects a record's bytes in pieces: heads and numbers written here, other values by cbor-x. */
class CborWriter {
  private readonly pieces: Uint8Array[] = [];
  private scratch = new Uint8Array(1 << 16);
  private view = new DataView(this.scratch.buffer);
  private at = 0;

  private room(n: number): void {
    if (this.at + n <= this.scratch.length) return;
    this.flush();
    if (n > this.scratch.length) {
      this.scratch = new Uint8Array(n);
      this.view = new DataView(this.scratch.buffer);
    }
  }

  private flush(): void {
    if (this.at > 0) this.pieces.push(this.scratch.slice(0, this.at));
    this.at = 0;
  }

  /** head writes a major type's head with an argument as cbor-x does: the shortest form for arrays and numbers. */
  head(major: number, n: number): void {
    this.room(5);
    const m = major << 5;
    if (n < 0x18) this.scratch[this.at++] = m | n;
    else if (n < 0x100) {
      this.scratch[this.at++] = m | 0x18;
      this.scratch[this.at++] = n;
    } else if (n < 0x10000) {
      this.scratch[this.at++] = m | 0x19;
      this.view.setUint16(this.at, n);
      this.at += 2;
    } else {
      this.scratch[this.at++] = m | 0x1a;
      this.view.setUint32(this.at, n);
      this.at += 4;
    }
  }

  /** natural writes a natural number as cbor-x does: an unsigned integer below 2^32, a float64 from there. */
  natural(n: number): void {
    if (n >>> 0 === n) return this.head(0, n);
    this.room(9);
    this.scratch[this.at++] = 0xfb;
    this.view.setFloat64(this.at, n);
    this.at += 8;
  }

  /** objectHead writes the head of an object as cbor-x does (always a 16-bit count) */
  objectHead(keys: number): void {
    this.room(3);
    this.scratch[this.at++] = 0xb9;
    this.view.setUint16(this.at, keys);
    this.at += 2;
  }

  value(v: unknown): void {
    this.flush();
    const b = encode(v);
    this.pieces.push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice());
  }

  finish(): Uint8Array {
    this.flush();
    return concatBytes(this.pieces);
  }
}

/** encodeMemory encodes memory.cbor; `remap` renumbers the pages (storePages's numbering). */
export function encodeMemory(record: MemoryRecord, remap?: Int32Array): Uint8Array {
  const w = new CborWriter();
  w.objectHead(3);
  w.value('mms');
  w.head(4, record.mms.length);
  for (const [users, vmas, refs] of record.mms) {
    w.head(4, 3);
    w.value(users);
    w.value(vmas);
    const n = refCount(refs);
    w.head(4, n);
    for (let k = 0; k < n; k++) {
      const page = refPage(refs, k);
      w.head(4, 2);
      w.natural(refIndex(refs, k));
      w.natural(remap ? remap[page]! : page);
    }
  }
  w.value('shared');
  w.value(record.shared);
  w.value('fpus');
  w.value(record.fpus);
  return w.finish();
}

/** Unreadable: this reader does not take the record; cbor-x decodes it instead. */
class Unreadable extends Error {}

/** CborReader reads the plain CBOR cbor-x writes for a memory record. */
class CborReader {
  private at = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get done(): boolean {
    return this.at === this.bytes.length;
  }

  private need(n: number): void {
    if (this.at + n > this.bytes.length) throw new Unreadable();
  }

  /** head reads a head and returns its major type and argument (an additional-information value 24..27 read on) */
  private head(): [major: number, n: number, info: number] {
    this.need(1);
    const b = this.bytes[this.at++]!;
    const major = b >> 5;
    const info = b & 0x1f;
    if (info < 0x18) return [major, info, info];
    if (info === 0x18) {
      this.need(1);
      return [major, this.bytes[this.at++]!, info];
    }
    if (info === 0x19) {
      this.need(2);
      this.at += 2;
      return [major, this.view.getUint16(this.at - 2), info];
    }
    if (info === 0x1a) {
      this.need(4);
      this.at += 4;
      return [major, this.view.getUint32(this.at - 4), info];
    }
    // a float64 (its bytes read by the caller); 64-bit integers (cbor-x may give a BigInt), indefinite lengths and reserved values are left to cbor-x
    if (info === 0x1b && major === 7) return [major, 0, info];
    throw new Unreadable();
  }

  /** natural reads a page index or number: an unsigned integer, or a float64 holding a safe natural; null for anything else */
  natural(): number | null {
    const start = this.at;
    const [major, n, info] = this.head();
    if (major === 0) return n;
    if (major === 7 && info === 0x1b) {
      this.need(8);
      const v = this.view.getFloat64(this.at);
      this.at += 8;
      if (Number.isSafeInteger(v) && v >= 0) return v;
    }
    this.at = start;
    return null;
  }

  arrayLength(): number {
    const [major, n] = this.head();
    if (major !== 4) throw new Unreadable();
    return n;
  }

  /** refs reads an address space's page references: flattened when every one is a pair of naturals, else as cbor-x would give them */
  refs(): PageRefs | unknown {
    const start = this.at;
    const n = this.arrayLength();
    const flat = new Float64Array(2 * n);
    for (let k = 0; k < n; k++) {
      if (this.bytes[this.at] !== 0x82) return this.rewind(start);
      this.at++;
      const index = this.natural();
      const page = index === null ? null : this.natural();
      if (index === null || page === null) return this.rewind(start);
      flat[2 * k] = index;
      flat[2 * k + 1] = page;
    }
    return flat;
  }

  /** rewind reads the value at `start` again as values: references that are not all pairs of naturals, for the schema to name what is wrong */
  private rewind(start: number): unknown {
    this.at = start;
    return this.value();
  }

  /** record reads a memory record: an object whose mms hold [users, mappings, references] */
  record(): unknown {
    const [major, n] = this.head();
    if (major !== 5) throw new Unreadable();
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const key = this.value();
      if (typeof key !== 'string' || key === '__proto__' || key in out) throw new Unreadable();
      if (key !== 'mms' || this.bytes[this.at]! >> 5 !== 4) {
        out[key] = this.value();
        continue;
      }
      const mms: unknown[] = new Array(this.arrayLength());
      for (let k = 0; k < mms.length; k++) mms[k] = this.bytes[this.at] === 0x83 ? (this.at++, [this.value(), this.value(), this.refs()]) : this.value();
      out[key] = mms;
    }
    return out;
  }

  /** value reads any value of the kinds cbor-x writes in this record, as cbor-x decodes them */
  value(): unknown {
    const start = this.at;
    const [major, n, info] = this.head();
    switch (major) {
      case 0:
        return n;
      case 1:
        return -1 - n;
      case 4: {
        const out: unknown[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = this.value();
        return out;
      }
      case 5: {
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const key = this.value();
          if (typeof key !== 'string' || key === '__proto__') throw new Unreadable();
          out[key] = this.value();
        }
        return out;
      }
      case 7:
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        if (info === 0x1b) {
          this.need(8);
          this.at += 8;
          return this.view.getFloat64(this.at - 8);
        }
        throw new Unreadable(); // undefined, float16 and float32 (which cbor-x rounds), simple values
      default:
        // byte and text strings, tags (typed arrays): cbor-x's own reading of exactly this item
        this.at = start;
        return this.viaCborX();
    }
  }

  /** viaCborX decodes the one item at `at` with cbor-x, after finding where it ends */
  private viaCborX(): unknown {
    const start = this.at;
    this.skip();
    return decode(this.bytes.subarray(start, this.at));
  }

  /** skip steps over one item */
  private skip(): void {
    const [major, n, info] = this.head();
    if (major === 2 || major === 3) {
      this.need(n);
      this.at += n;
    } else if (major === 4) for (let i = 0; i < n; i++) this.skip();
    else if (major === 5) for (let i = 0; i < 2 * n; i++) this.skip();
    else if (major === 6) {
      if (n !== 64) throw new Unreadable(); // a Uint8Array; no other tag is in a memory record
      this.skip();
    } else if (major === 7 && info === 0x1b) {
      this.need(8);
      this.at += 8;
    }
  }
}

/**
 * decodeMemory reads memory.cbor with every address space's page
 * references flattened; null when the bytes are not the plain CBOR of a
 * memory record as cbor-x writes it (the caller then decodes with cbor-x).
 */
export function decodeMemory(bytes: Uint8Array): unknown {
  const r = new CborReader(bytes);
  try {
    const out = r.record();
    return r.done ? out : null;
  } catch {
    return null; // Unreadable, or cbor-x refusing an item: cbor-x reads the whole record and says what is wrong
  }
}
