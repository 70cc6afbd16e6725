import type { Id } from '../model/index.js';

/**
 * Stacks seen before, by their location slots (small integers ContentIds gives each distinct
 * location), each with its content id. Held as columns — slots of every entry in one arena, id
 * words and "stored" flags in typed arrays — rather than an object and an Int32Array per stack:
 * a lookup is a Map probe, one run of the arena and one pair of words, and nothing here is an
 * object the garbage collector walks one by one.
 *
 * Entry indices only grow until `clear`; a hash collision simply replaces the older entry under
 * that hash (its arena run becomes garbage, counted in `slotsUsed`, so the owner clears in time).
 */
export class StackMemo {
  /** 30-bit slot hash → entry index (small integers on both sides: V8's fast path). */
  private byHash = new Map<number, number>();
  private start = new Int32Array(1024);
  private length = new Int32Array(1024);
  /** Entry i's id as little-endian u32 words: `2i` low, `2i + 1` high. */
  private idWords = new Uint32Array(2048);
  private storedFlags = new Uint8Array(1024);
  private ids: Id[] = [];
  private arena = new Int32Array(1 << 16);
  /** Arena slots written since the last clear (live and replaced). */
  slotsUsed = 0;

  get size(): number {
    return this.ids.length;
  }

  /** The entry whose slots are `frames[0..n)`, or -1. `hash` is the caller's hash of them. */
  find(frames: Int32Array, n: number, hash: number): number {
    const e = this.byHash.get(hash);
    if (e === undefined || this.length[e] !== n) return -1;
    const arena = this.arena;
    const at = this.start[e]!;
    let i = 0;
    while (i < n && arena[at + i] === frames[i]) i++;
    return i === n ? e : -1;
  }

  /** A new entry for `frames[0..n)` with content id `id`; returns its index. */
  add(frames: Int32Array, n: number, hash: number, id: Id): number {
    const e = this.ids.length;
    if (e === this.start.length) this.growEntries();
    if (this.slotsUsed + n > this.arena.length) this.growArena(this.slotsUsed + n);
    this.arena.set(frames.subarray(0, n), this.slotsUsed);
    this.start[e] = this.slotsUsed;
    this.length[e] = n;
    this.slotsUsed += n;
    this.idWords[2 * e] = Number(id & 0xffffffffn);
    this.idWords[2 * e + 1] = Number(id >> 32n);
    this.ids.push(id);
    this.byHash.set(hash, e);
    return e;
  }

  low(e: number): number {
    return this.idWords[2 * e]!;
  }

  high(e: number): number {
    return this.idWords[2 * e + 1]!;
  }

  id(e: number): Id {
    return this.ids[e]!;
  }

  stored(e: number): boolean {
    return this.storedFlags[e] === 1;
  }

  markStored(e: number): void {
    this.storedFlags[e] = 1;
  }

  clear(): void {
    this.byHash = new Map();
    this.ids = [];
    this.slotsUsed = 0;
    this.storedFlags.fill(0);
  }

  private growEntries(): void {
    const n = this.start.length * 2;
    this.start = grown(this.start, new Int32Array(n));
    this.length = grown(this.length, new Int32Array(n));
    this.idWords = grown(this.idWords, new Uint32Array(2 * n));
    this.storedFlags = grown(this.storedFlags, new Uint8Array(n));
  }

  private growArena(need: number): void {
    let n = this.arena.length * 2;
    while (n < need) n *= 2;
    this.arena = grown(this.arena, new Int32Array(n));
  }
}

function grown<T extends Int32Array | Uint32Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
