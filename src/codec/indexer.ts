/** Indexer numbers distinct objects in the order they are first met: how serializers store a shared object once and refer to it by index. */
export class Indexer<T> {
  readonly items: T[] = [];
  private readonly index = new Map<T, number>();

  /** of returns the item's index, adding it if it is new. */
  of(item: T): number {
    let i = this.index.get(item);
    if (i === undefined) {
      i = this.items.push(item) - 1;
      this.index.set(item, i);
    }
    return i;
  }

  /** get returns the item's index, or undefined when it has none yet. */
  get(item: T): number | undefined {
    return this.index.get(item);
  }

  /**
   * once numbers an item the caller knows it meets only this once (a page
   * frame no other address space holds): no lookup entry is kept for it, so
   * has() does not see it. 100,000s of frames need no map of them.
   */
  once(item: T): number {
    return this.items.push(item) - 1;
  }

  has(item: T): boolean {
    return this.index.has(item);
  }
}
