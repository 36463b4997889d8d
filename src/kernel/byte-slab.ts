/**
 * Register sets live in shared 64 KiB slabs, each task holding a slab and an
 * offset: a host holds 100,000s of tasks, and an ArrayBuffer, or even a
 * view, per task costs far more than the bytes themselves.
 */
const SLAB_SIZE = 64 * 1024;
let slab = new Uint8Array(SLAB_SIZE);
let used = 0;

/** slabWithRoom returns the slab the next `size` bytes will be carved from, starting a new one when this one is full. */
export function slabWithRoom(size: number): Uint8Array {
  if (size > SLAB_SIZE) throw new RangeError(`a slab slot holds at most ${SLAB_SIZE} bytes, not ${size}`);
  if (((used + 7) & ~7) + size > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    used = 0;
  }
  return slab;
}

/** claim carves `size` zeroed bytes from the slab slabWithRoom(size) returned, and returns their offset. */
export function claim(size: number): number {
  const at = (used + 7) & ~7;
  used = at + size;
  return at;
}
