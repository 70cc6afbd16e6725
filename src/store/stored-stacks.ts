import type { Stack } from '../model/index.js';

/**
 * Stack ids the write path knows are stored, readable from decode worker threads: a decoder that
 * reduces a pprof to rows and content ids (server/pprof-ingest.ts) builds symbol rows only for the
 * stacks not in here. An agent pushes mostly the same stacks every 10 s, so once they are stored a
 * push costs its rows, not the ≈ 4 000 strings and objects of its dictionary.
 *
 * A lossy set in a SharedArrayBuffer: buckets of four slots, a slot holds one id; a newer id hashing
 * to a full bucket replaces one (that stack's symbols are then merely sent again, and the write path drops
 * them as known). Only the write path's thread adds, and only ids committed to the store (stored
 * stacks are never deleted), so "present" is always true; "absent" may be stale, which costs only time.
 * Each slot is [sequence, low word, high word]: the writer makes the sequence odd while it writes, a
 * reader that sees an odd or changed sequence treats the slot as absent (Atomics order the words).
 */
const SLOT_WORDS = 3;
const WAYS = 4;
/** 2^18 slots (3 MiB): more stacks than one server's agents usually send (a miss only costs time). */
const DEFAULT_SLOTS = 1 << 18;

/** Set numbers of this process (decoders on other threads get the number with the buffer). */
let nextId = 1;

export class StoredStacks {
  private readonly words: Int32Array;
  private readonly mask: number;

  /**
   * @param id names the set (the store) within the process, for decoders that remember what they
   * found in it: a stack stored in one store is not in another.
   */
  constructor(
    readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(DEFAULT_SLOTS * SLOT_WORDS * 4),
    readonly id: number = nextId++,
  ) {
    this.words = new Int32Array(buffer);
    const buckets = this.words.length / SLOT_WORDS / WAYS;
    if (!Number.isInteger(buckets) || (buckets & (buckets - 1)) !== 0) throw new RangeError(`stored-stack set of ${buckets} buckets: must be a power of two`);
    this.mask = buckets - 1;
  }

  /** Only for ids committed to the store. `lo`, `hi`: the id's little-endian u32 words. */
  add(lo: number, hi: number): void {
    if (this.has(lo, hi)) return;
    // Four slots per bucket: an empty one if any, else one chosen by the id (the older id is forgotten).
    const bucket = this.bucket(lo, hi);
    const w = this.words;
    let at = bucket + ((lo >>> 0) & (WAYS - 1)) * SLOT_WORDS;
    for (let way = 0; way < WAYS; way++) {
      if (Atomics.load(w, bucket + way * SLOT_WORDS) === 0) {
        at = bucket + way * SLOT_WORDS;
        break;
      }
    }
    Atomics.add(w, at, 1);
    Atomics.store(w, at + 1, lo | 0);
    Atomics.store(w, at + 2, hi | 0);
    Atomics.add(w, at, 1);
  }

  has(lo: number, hi: number): boolean {
    const bucket = this.bucket(lo, hi);
    const w = this.words;
    for (let way = 0; way < WAYS; way++) {
      const at = bucket + way * SLOT_WORDS;
      // A plain read first (most slots hold other ids); a match is then confirmed under the sequence.
      if (w[at + 1] !== (lo | 0)) continue;
      const seq = Atomics.load(w, at);
      if ((seq & 1) === 1 || seq === 0) continue;
      const same = Atomics.load(w, at + 1) === (lo | 0) && Atomics.load(w, at + 2) === (hi | 0);
      if (same && Atomics.load(w, at) === seq) return true;
    }
    return false;
  }

  private bucket(lo: number, hi: number): number {
    // Ids are xxhash64 values, already uniform: mixing the two words is enough.
    return (((lo ^ Math.imul(hi, 0x9e3779b1)) >>> 2) & this.mask) * SLOT_WORDS * WAYS;
  }
}

/** Each store's set, for the server's decoders (a store wrapped by others has none: nothing is skipped). */
const byStore = new WeakMap<object, StoredStacks>();

export function registerStoredStacks(store: object, stacks: StoredStacks): void {
  byStore.set(store, stacks);
}

export function storedStacksOf(store: object): StoredStacks | undefined {
  return byStore.get(store);
}

/**
 * The frames a decoder leaves out of a dictionary for a stack `StoredStacks` knows (its id comes with
 * the dictionary). Compared by identity: the write path refuses to store it as a stack of no frames.
 */
export const STORED_STACK: Stack = Object.freeze([] as number[]);
