/**
 * A Map that forgets everything once it grows past `capacity`. Content ids never change meaning, so a
 * forgotten entry only costs one lookup in the database; clearing wholesale keeps the bound without
 * per-access LRU bookkeeping on the hot write path.
 */
export class BoundedCache<K, V> {
  private map = new Map<K, V>();

  constructor(readonly capacity: number) {}

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Returns true when it forgot everything to make room for this key. */
  set(key: K, value: V): boolean {
    const forget = this.map.size >= this.capacity && !this.map.has(key);
    if (forget) this.map = new Map();
    this.map.set(key, value);
    return forget;
  }

  get size(): number {
    return this.map.size;
  }
}
