/**
 * Helpers of the decode threads' memo tables (pprof-ingest.ts, pprof-stack-memo.ts): typed arrays
 * that grow, and open-addressed tables of fixed-size Int32 slots whose first two ints are the key's
 * hash and its entry + 1 (0 = an empty slot), probed linearly.
 */

/** `a` with room for index `n` (doubled, so growing one entry at a time stays linear). */
export function room<T extends Int32Array | Uint32Array | Float64Array>(a: T, n: number, make: (size: number) => T): T {
  if (n < a.length) return a;
  const b = make(Math.max(n + 1, a.length * 2));
  b.set(a);
  return b;
}

/** The table `old` (slots of `slotInts` ints) at twice its size, every entry in its new place. */
export function doubled(old: Int32Array, slotInts: number): Int32Array<ArrayBuffer> {
  const table = new Int32Array(old.length * 2);
  const mask = table.length / slotInts - 1;
  for (let i = 0; i < old.length; i += slotInts) {
    if (old[i + 1] === 0) continue;
    for (let at = old[i]! & mask; ; at = (at + 1) & mask) {
      if (table[at * slotInts + 1] === 0) {
        table.set(old.subarray(i, i + slotInts), at * slotInts);
        break;
      }
    }
  }
  return table;
}
