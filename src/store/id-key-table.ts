import type { Id } from '../model/index.js';

/**
 * u64 content ids held without bigints: rows carry ids in BigUint64Arrays, read here as pairs of u32
 * words. Used where an id is looked up once per sample row or stack (DuckDB's stack keys, the write
 * path's "stack stored" set), where a Map keyed by bigint cost an allocation and a hash per lookup.
 * u64 id (as two u32 words) → non-negative integer key; open addressing, linear probing, grows ×2.
 */
export class IdKeyTable {
  private lo = new Uint32Array(1024);
  private hi = new Uint32Array(1024);
  private keys = new Int32Array(1024).fill(-1);
  size = 0;

  /** The key, or -1. */
  get(lo: number, hi: number): number {
    const mask = this.keys.length - 1;
    for (let at = slotOf(lo, hi) & mask; ; at = (at + 1) & mask) {
      const k = this.keys[at]!;
      if (k < 0) return -1;
      if (this.lo[at] === lo && this.hi[at] === hi) return k;
    }
  }

  getId(id: Id): number {
    return this.get(Number(id & 0xffffffffn), Number(id >> 32n));
  }

  setId(id: Id, key: number): void {
    this.set(Number(id & 0xffffffffn), Number(id >> 32n), key);
  }

  set(lo: number, hi: number, key: number): void {
    if ((this.size + 1) * 2 > this.keys.length) this.grow();
    const mask = this.keys.length - 1;
    for (let at = slotOf(lo, hi) & mask; ; at = (at + 1) & mask) {
      if (this.keys[at]! < 0) {
        this.lo[at] = lo;
        this.hi[at] = hi;
        this.keys[at] = key;
        this.size++;
        return;
      }
      if (this.lo[at] === lo && this.hi[at] === hi) {
        this.keys[at] = key;
        return;
      }
    }
  }

  private grow(): void {
    const { lo, hi, keys } = this;
    this.lo = new Uint32Array(keys.length * 2);
    this.hi = new Uint32Array(keys.length * 2);
    this.keys = new Int32Array(keys.length * 2).fill(-1);
    this.size = 0;
    for (let i = 0; i < keys.length; i++) if (keys[i]! >= 0) this.set(lo[i]!, hi[i]!, keys[i]!);
  }
}

/** Ids are xxhash64 values, already uniform: mixing the two words is enough. */
function slotOf(lo: number, hi: number): number {
  return (lo ^ Math.imul(hi, 0x9e3779b1)) >>> 0;
}
