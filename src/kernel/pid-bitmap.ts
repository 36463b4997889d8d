/**
 * PidBitmap is one namespace's pid bitmap: 32768-bit pages allocated on first
 * use, each with a count of free bits so that full pages are skipped whole,
 * as kernel/pid.c's pidmap array with nr_free. Scans work a 32-bit word at a
 * time: a 4,194,304-pid namespace with one free pid is found in at most 128
 * page checks plus one page's words, never pid by pid.
 */

export const BITS_PER_PAGE = 32768;
const WORDS_PER_PAGE = BITS_PER_PAGE / 32;
const PAGE_SHIFT = 15;

/** lowestZeroBit returns the index of the lowest clear bit of a word that is not all ones. */
function lowestZeroBit(word: number): number {
  const inv = ~word;
  return 31 - Math.clz32(inv & -inv);
}

/** bitCount counts the set bits of a 32-bit word. */
function bitCount(word: number): number {
  let v = word - ((word >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

export class PidBitmap {
  /** null until first use; made full of null rather than holey, so the array never changes elements kind (and map) when a page is first stored */
  private readonly pages: Array<Uint32Array | null>;
  private readonly free: Int32Array;

  /** Creates an empty bitmap for pids 0..limit-1. */
  constructor(readonly limit: number) {
    const count = Math.ceil(limit / BITS_PER_PAGE);
    this.pages = new Array<Uint32Array | null>(count).fill(null);
    this.free = new Int32Array(count).fill(BITS_PER_PAGE);
  }

  /** pageFor returns page `p`, made (all pids free) on first use. */
  private pageFor(p: number): Uint32Array {
    let page = this.pages[p];
    if (!page) {
      page = new Uint32Array(WORDS_PER_PAGE);
      this.pages[p] = page;
    }
    return page;
  }

  /** test reports whether pid `nr` is taken. */
  test(nr: number): boolean {
    const page = this.pages[nr >>> PAGE_SHIFT];
    if (!page) return false;
    return ((page[(nr & (BITS_PER_PAGE - 1)) >>> 5]! >>> (nr & 31)) & 1) === 1;
  }

  /** set takes pid `nr`; returns false when it was already taken (test_and_set_bit). */
  set(nr: number): boolean {
    const p = nr >>> PAGE_SHIFT;
    const page = this.pageFor(p);
    const w = (nr & (BITS_PER_PAGE - 1)) >>> 5;
    const bit = 1 << (nr & 31);
    if ((page[w]! & bit) !== 0) return false;
    page[w] = page[w]! | bit;
    this.free[p] = this.free[p]! - 1;
    return true;
  }

  /** setRun takes pids first..first+count-1 (any taken already stay so), a word at a time: a stored host's 100,000s of numbers in use are marked in runs. */
  setRun(first: number, count: number): void {
    const end = first + count;
    for (let nr = first; nr < end; ) {
      const p = nr >>> PAGE_SHIFT;
      const page = this.pageFor(p);
      const w = (nr & (BITS_PER_PAGE - 1)) >>> 5;
      const low = nr & 31;
      const n = Math.min(32 - low, end - nr);
      const mask = (n === 32 ? -1 : ((1 << n) - 1) << low) | 0;
      const added = mask & ~page[w]!;
      page[w] = page[w]! | mask;
      this.free[p] = this.free[p]! - bitCount(added);
      nr += n;
    }
  }

  /** clear releases pid `nr`. */
  clear(nr: number): void {
    const p = nr >>> PAGE_SHIFT;
    const page = this.pages[p];
    if (!page) return;
    const w = (nr & (BITS_PER_PAGE - 1)) >>> 5;
    const bit = 1 << (nr & 31);
    if ((page[w]! & bit) === 0) return;
    page[w] = page[w]! & ~bit;
    this.free[p] = this.free[p]! + 1;
  }

  /** takenRuns lists the taken pids as [first, count] pairs, lowest first: untouched pages are skipped whole, a page a 32-bit word at a time. */
  takenRuns(): number[] {
    const out: number[] = [];
    let start = -1;
    const close = (nr: number): void => {
      if (start >= 0) out.push(start, nr - start);
      start = -1;
    };
    for (let p = 0; p < this.pages.length; p++) {
      const page = this.pages[p];
      const base = p * BITS_PER_PAGE;
      if (!page || this.free[p] === BITS_PER_PAGE) {
        close(base);
        continue;
      }
      for (let w = 0; w < WORDS_PER_PAGE; w++) {
        const word = page[w]! | 0;
        if (word === 0 && start < 0) continue;
        if (word === -1 && start >= 0) continue;
        for (let b = 0; b < 32; b++) {
          const set = ((word >>> b) & 1) === 1;
          if (set && start < 0) start = base + w * 32 + b;
          else if (!set) close(base + w * 32 + b);
        }
      }
    }
    close(Math.min(this.pages.length * BITS_PER_PAGE, this.limit));
    return out;
  }

  /** findZero returns the lowest free pid in [from, to), or -1. */
  findZero(from: number, to: number): number {
    const end = Math.min(to, this.limit);
    let nr = Math.max(from, 0);
    while (nr < end) {
      const p = nr >>> PAGE_SHIFT;
      const pageBase = p * BITS_PER_PAGE;
      const pageEnd = Math.min(pageBase + BITS_PER_PAGE, end);
      const page = this.pages[p];
      if (!page) return nr; // never touched: every bit is free
      if (this.free[p]! > 0) {
        let w = (nr - pageBase) >>> 5;
        // mask off bits below nr in its first word
        let word = page[w]! | ((1 << (nr & 31)) - 1);
        const lastWord = (pageEnd - 1 - pageBase) >>> 5;
        for (;;) {
          if (word !== -1) {
            const found = pageBase + w * 32 + lowestZeroBit(word);
            return found < pageEnd ? found : -1;
          }
          if (++w > lastWord) break;
          word = page[w]! | 0;
        }
      }
      nr = pageEnd;
    }
    return -1;
  }
}
