/** Byte comparisons used on every image read: plain loops, several times faster than Array methods on large arrays. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function isZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** byteLength is the total length of chunks. */
export function byteLength(chunks: readonly Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}

/** concatBytes copies chunks one after another into one array. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(byteLength(chunks));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * ByteRunJoiner collects byte ranges one after another as views: a range
 * that starts where the last ended, in the same buffer, lengthens that view
 * (pages read from one file lie back to back), so nothing is copied and
 * there is no view per range.
 */
export class ByteRunJoiner {
  private readonly runs: Uint8Array[] = [];
  private buffer: ArrayBufferLike | null = null;
  private start = 0;
  private end = 0;

  /** add appends the `length` bytes of `bytes` from `at` on. */
  add(bytes: Uint8Array, at: number, length: number): void {
    const from = bytes.byteOffset + at;
    if (bytes.buffer === this.buffer && from === this.end) {
      this.end += length;
      return;
    }
    this.close();
    this.buffer = bytes.buffer;
    this.start = from;
    this.end = from + length;
  }

  /** joined gives the views, the last range closed. */
  joined(): Uint8Array[] {
    this.close();
    return this.runs;
  }

  private close(): void {
    if (this.buffer) this.runs.push(new Uint8Array(this.buffer, this.start, this.end - this.start));
    this.buffer = null;
  }
}
