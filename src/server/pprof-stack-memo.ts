import xxhash from 'xxhash-wasm';
import { doubled, room } from './open-addressing.js';

const { h64Raw } = await xxhash();

/**
 * Int32s per table slot: [hash, serial + 1 (0 = empty), length, arena start]. The length and start sit in
 * the slot so a lookup reads the slot and then the slots it compares, not two more arrays by serial.
 */
const SLOT = 4;

/**
 * The memo's hash of a stack, one location slot at a time (leaf first), from `n | 0`: the caller mixes
 * each slot in as it finds it, so the slots are not read again to hash them.
 */
export function mixSlot(h: number, slot: number): number {
  return Math.imul(h ^ slot, 0x5bd1e995) ^ (h >>> 15);
}

/**
 * The decode thread's stacks, by their location slots (pprof-ingest.ts's memo), across requests: each
 * gets a small serial number and its content id once, and is then found by comparing its slots.
 *
 * Flat typed arrays, not a Map of objects: an agent push looks up ≈ 800 stacks of ≈ 25 frames among
 * thousands memoized, and the lookup is bound by memory latency. A Map entry, its object and the
 * object's slot array were four cache misses; here a table slot and the slots themselves, kept in one
 * arena, are one or two. Every hit is confirmed by comparing all slots, never by the hash alone.
 */
export class StackMemo {
  private table = new Int32Array(SLOT << 13);
  private count = 0;
  private arena = new Int32Array(1 << 16);
  private arenaLength = 0;
  /** Stack serial i's slots: arena[start[i] .. start[i] + length[i]). */
  private start = new Int32Array(1024);
  private length = new Int32Array(1024);
  /** Stack serial i's content id as u32 words (low, high). */
  ids = new Uint32Array(2 * 1024);
  /** The StoredStacks (by its id) found to hold stack i (0: none yet); stored stacks stay stored, so it need not be asked again. */
  storedIn = new Int32Array(1024);
  private idBuf = new Uint32Array(2 * 256);

  /** Stacks memoized. */
  get size(): number {
    return this.count;
  }

  /** Location slots held by all of them. */
  get slotsHeld(): number {
    return this.arenaLength;
  }

  forget(): void {
    this.table = new Int32Array(SLOT << 13);
    this.count = 0;
    this.arenaLength = 0;
    this.storedIn.fill(0);
  }

  /** Stack i's location slots (a view: valid until the memo is next changed). */
  slotsOf(i: number): Int32Array {
    const from = this.start[i]!;
    return this.arena.subarray(from, from + this.length[i]!);
  }

  /**
   * The serial of the stack of location slots `slots[0 .. n)` (leaf first), whose hash is `h` (mixSlot
   * over them); a new one gets the model's stackId, xxhash64 of [3, location ids…] as little-endian u64s,
   * from `locIds` (u32 words per slot).
   */
  serial(slots: Int32Array, n: number, h: number, locIds: Uint32Array): number {
    const table = this.table;
    const mask = table.length / SLOT - 1;
    let at = h & mask;
    for (; ; at = (at + 1) & mask) {
      const base = at * SLOT;
      const e = table[base + 1]! - 1;
      if (e < 0) break;
      if (table[base] === h && table[base + 2] === n && this.sameSlots(table[base + 3]!, slots, n)) return e;
    }
    const e = this.count++;
    if (this.arenaLength + n > this.arena.length) {
      const a = new Int32Array(Math.max(this.arena.length * 2, this.arenaLength + n));
      a.set(this.arena.subarray(0, this.arenaLength));
      this.arena = a;
    }
    this.arena.set(slots.subarray(0, n), this.arenaLength);
    this.start = room(this.start, e, (k) => new Int32Array(k));
    this.length = room(this.length, e, (k) => new Int32Array(k));
    this.storedIn = room(this.storedIn, e, (k) => new Int32Array(k));
    this.ids = room(this.ids, 2 * e + 1, (k) => new Uint32Array(k));
    this.start[e] = this.arenaLength;
    this.length[e] = n;
    this.storedIn[e] = 0;
    this.arenaLength += n;
    if (this.idBuf.length < 2 * n + 2) this.idBuf = new Uint32Array(4 * n + 2);
    const buf = this.idBuf;
    buf[0] = 3;
    buf[1] = 0;
    for (let i = 0; i < n; i++) {
      buf[2 * i + 2] = locIds[2 * slots[i]!]!;
      buf[2 * i + 3] = locIds[2 * slots[i]! + 1]!;
    }
    const id = h64Raw(new Uint8Array(buf.buffer, 0, (n + 1) * 8));
    this.ids[2 * e] = Number(id & 0xffffffffn);
    this.ids[2 * e + 1] = Number(id >> 32n);
    // `at` is the empty slot the probe ended on.
    table[at * SLOT] = h;
    table[at * SLOT + 1] = e + 1;
    table[at * SLOT + 2] = n;
    table[at * SLOT + 3] = this.start[e]!;
    if (2 * this.count > mask + 1) this.rehash();
    return e;
  }

  /** Whether the `n` slots kept in the arena from `from` are `slots[0 .. n)`. */
  private sameSlots(from: number, slots: Int32Array, n: number): boolean {
    const arena = this.arena;
    for (let i = 0; i < n; i++) if (arena[from + i] !== slots[i]) return false;
    return true;
  }

  private rehash(): void {
    this.table = doubled(this.table, SLOT);
  }
}
