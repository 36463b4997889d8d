/**
 * WordViews keeps Int32Array views of the few byte arrays a syscall copies
 * between (a page, a kernel buffer), so that a short aligned copy can move
 * 32-bit words as array elements, without making a view, an object to
 * collect, per copy. Entries are replaced round robin; a miss costs one view.
 */
const SLOTS = 8;

export class WordViews {
  private readonly arrays: Array<Uint8Array | null> = new Array<Uint8Array | null>(SLOTS).fill(null);
  private readonly views: Array<Int32Array | null> = new Array<Int32Array | null>(SLOTS).fill(null);
  private next = 0;

  /** wordsOf returns the words of `bytes`, whose byteOffset must be a multiple of 4 (a trailing part word is left out). */
  wordsOf(bytes: Uint8Array): Int32Array {
    for (let i = 0; i < SLOTS; i++) if (this.arrays[i] === bytes) return this.views[i]!;
    const view = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
    this.arrays[this.next] = bytes;
    this.views[this.next] = view;
    this.next = (this.next + 1) % SLOTS;
    return view;
  }
}
