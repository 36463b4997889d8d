/**
 * Small fixed-size records carved out of shared typed arrays: a task's
 * register bytes, a pid's numbers. A host holds 100,000s of tasks, and an
 * ArrayBuffer, a view or even a small array per record costs far more than
 * the record itself, in memory and in garbage-collector copying. A record
 * holds its slab and an offset; a slab is freed when no record uses it.
 */
export class Slabs<T extends Uint8Array | Int32Array> {
  private slab: T;
  private used = 0;

  constructor(
    private readonly make: (length: number) => T,
    /** elements per slab */
    private readonly length: number,
    /** records start at multiples of this many elements, a power of two */
    private readonly align: number,
  ) {
    this.slab = make(length);
  }

  /** withRoom returns the slab the next `size` elements will be carved from, starting a new one when this one is full. */
  withRoom(size: number): T {
    if (size > this.length) tooLarge(this.length, size);
    if (this.alignedUsed() + size > this.length) {
      this.slab = this.make(this.length);
      this.used = 0;
    }
    return this.slab;
  }

  /** claim carves `size` zeroed elements from the slab withRoom(size) returned, and returns their offset. */
  claim(size: number): number {
    const at = this.alignedUsed();
    this.used = at + size;
    return at;
  }

  private alignedUsed(): number {
    return (this.used + this.align - 1) & -this.align;
  }
}

/** tooLarge throws withRoom's RangeError, out of the path every fork runs (see pid.ts tooFewNumbers). */
function tooLarge(length: number, size: number): never {
  throw new RangeError(`a slab slot holds at most ${length} elements, not ${size}`);
}

/** Register sets: 64 KiB slabs, each set 8-byte aligned like the 8-byte registers in it. */
export const registerSlabs = new Slabs((n) => new Uint8Array(n), 64 * 1024, 8);

/** Pid numbers, one int per level (every pid_max fits): 16,384 per slab. */
export const pidNumberSlabs = new Slabs((n) => new Int32Array(n), 16 * 1024, 1);
