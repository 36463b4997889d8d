/**
 * ViewCache keeps DataViews of the few byte arrays a syscall copies between
 * (a page, a kernel buffer), so that a short copy can move 32-bit words
 * instead of bytes without making a view, an object to collect, per copy.
 * Entries are replaced round robin; a miss costs one view.
 */
const SLOTS = 8;

export class ViewCache {
  private readonly arrays: Array<Uint8Array | null> = new Array<Uint8Array | null>(SLOTS).fill(null);
  private readonly views: Array<DataView | null> = new Array<DataView | null>(SLOTS).fill(null);
  private next = 0;

  /** viewOf returns a DataView spanning exactly `bytes`. */
  viewOf(bytes: Uint8Array): DataView {
    for (let i = 0; i < SLOTS; i++) if (this.arrays[i] === bytes) return this.views[i]!;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.arrays[this.next] = bytes;
    this.views[this.next] = view;
    this.next = (this.next + 1) % SLOTS;
    return view;
  }
}
