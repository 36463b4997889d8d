/**
 * allocBytes hands out small zeroed byte arrays carved from shared 64 KiB
 * buffers. Every task keeps its registers as bytes; one ArrayBuffer per task
 * costs far more than a view on a shared one when hosts hold 100,000 tasks.
 */
const SLAB_SIZE = 64 * 1024;
let slab = new ArrayBuffer(SLAB_SIZE);
let used = 0;

export function allocBytes(size: number): Uint8Array {
  if (size > SLAB_SIZE / 4) return new Uint8Array(size);
  const aligned = (used + 7) & ~7;
  if (aligned + size > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    used = 0;
    return allocBytes(size);
  }
  used = aligned + size;
  return new Uint8Array(slab, aligned, size);
}
