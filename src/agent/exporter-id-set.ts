import type { Id } from '../model/ids.js';

/**
 * A set of 64-bit content ids in one BigUint64Array (open addressing, linear probing, deletion by
 * shifting back the entries after), for the rows push's stacks confirmed stored (exporter-rows.ts):
 * 8 bytes a slot, grown at 5/8 full — against ≈ 50 bytes an id in a Set<bigint> (a heap BigInt each plus
 * the set's entry). On a host where processes come and go it fills with the stacks of processes long
 * gone until its bound, so its size per id is what the agent holds there. Ids are xxhash64 values: their
 * low bits are already spread, and 0 (the empty slot) stands apart.
 */
export class IdSet {
  private slots = new BigUint64Array(1024);
  private count = 0;
  private hasZero = false;

  get size(): number {
    return this.count + (this.hasZero ? 1 : 0);
  }

  has(id: Id): boolean {
    if (id === 0n) return this.hasZero;
    return this.slots[this.find(id)] === id;
  }

  add(id: Id): void {
    if (id === 0n) {
      this.hasZero = true;
      return;
    }
    const s = this.find(id);
    if (this.slots[s] === id) return;
    this.slots[s] = id;
    if (++this.count * 8 > this.slots.length * 5) this.grow();
  }

  delete(id: Id): void {
    if (id === 0n) {
      this.hasZero = false;
      return;
    }
    const slots = this.slots;
    const mask = slots.length - 1;
    let hole = this.find(id);
    if (slots[hole] !== id) return;
    slots[hole] = 0n;
    this.count--;
    // Entries after the hole that probed past it move back into it, so no lookup stops early.
    for (let s = (hole + 1) & mask; slots[s] !== 0n; s = (s + 1) & mask) {
      const home = this.home(slots[s]!, mask);
      // Movable when its home is not inside (hole, s] going round the table.
      if ((s > hole && (home <= hole || home > s)) || (s < hole && home <= hole && home > s)) {
        slots[hole] = slots[s]!;
        slots[s] = 0n;
        hole = s;
      }
    }
  }

  /** The slot holding `id`, or the empty slot where it would go. */
  private find(id: Id): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    let s = this.home(id, mask);
    for (let v = slots[s]!; v !== 0n && v !== id; v = slots[s]!) s = (s + 1) & mask;
    return s;
  }

  private home(id: Id, mask: number): number {
    return Number(BigInt.asUintN(32, id)) & mask;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new BigUint64Array(old.length * 2);
    const mask = this.slots.length - 1;
    for (const id of old) {
      if (id === 0n) continue;
      let s = this.home(id, mask);
      while (this.slots[s] !== 0n) s = (s + 1) & mask;
      this.slots[s] = id;
    }
  }
}
