/**
 * A bounded least-recently-used cache (symbol tables, names, processes, labels). Entries carry a weight (default 1) so a cache of symbol tables
 * can be bounded by total symbols rather than by table count: one huge binary must not pin memory that
 * fifty small ones would share.
 */
export class LruCache<K, V> {
  // A Map iterates in insertion order; re-inserting on access keeps the least recent first.
  private readonly entries = new Map<K, { value: V; weight: number }>();
  private totalWeight = 0;
  /** The most recently used key while it is in: asking for it again moves nothing (a lookup per frame asks the same table in a row). */
  private newest: K | undefined;
  private hasNewest = false;
  evictions = 0;

  constructor(
    private readonly maxWeight: number,
    private readonly weigh: (value: V) => number = () => 1,
    /** Called for each entry pushed out by the bound (not for delete() or clear()). */
    private readonly onEvict?: (key: K, value: V) => void,
  ) {
    if (!(maxWeight > 0)) throw new RangeError(`LRU capacity must be positive, got ${maxWeight}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get weight(): number {
    return this.totalWeight;
  }

  get(key: K): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    // Re-inserting leaves a deleted slot in the Map's table, which grows and rehashes as they pile up.
    if (!this.hasNewest || this.newest !== key) {
      this.entries.delete(key);
      this.entries.set(key, e);
      this.newest = key;
      this.hasNewest = true;
    }
    return e.value;
  }

  /** The value without touching its recency. */
  peek(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  set(key: K, value: V): void {
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.totalWeight -= old.weight;
      this.entries.delete(key);
    }
    const weight = Math.max(1, this.weigh(value));
    this.entries.set(key, { value, weight });
    this.newest = key;
    this.hasNewest = true;
    this.totalWeight += weight;
    // Evict oldest first, but never the entry just added: a single oversized value is still usable.
    for (const [k, e] of this.entries) {
      if (this.totalWeight <= this.maxWeight || k === key) break;
      this.entries.delete(k);
      this.totalWeight -= e.weight;
      this.evictions++;
      this.onEvict?.(k, e.value);
    }
  }

  delete(key: K): boolean {
    const e = this.entries.get(key);
    if (e === undefined) return false;
    this.entries.delete(key);
    if (this.hasNewest && this.newest === key) this.forgetNewest();
    this.totalWeight -= e.weight;
    return true;
  }

  /** Entries, least recently used first, without touching their recency. */
  *[Symbol.iterator](): IterableIterator<[K, V]> {
    for (const [k, e] of this.entries) yield [k, e.value];
  }

  keys(): K[] {
    return [...this.entries.keys()];
  }

  clear(): void {
    this.entries.clear();
    this.forgetNewest();
    this.totalWeight = 0;
  }

  private forgetNewest(): void {
    this.newest = undefined;
    this.hasNewest = false;
  }
}
