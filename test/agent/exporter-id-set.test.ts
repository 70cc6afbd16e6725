import { describe, expect, it } from 'vitest';
import { IdSet } from '../../src/agent/exporter-id-set.js';

describe('IdSet', () => {
  it('answers as a Set<bigint> through adds, deletes and growth, ids sharing their low bits included', () => {
    const set = new IdSet();
    const ref = new Set<bigint>();
    let seed = 99;
    const next = (n: number): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    // Ids from a pool of 20 000 (so deletes and re-adds meet), a quarter of them sharing their low 32 bits with another (one slot home for two).
    const idOf = (): bigint => {
      const k = next(20_000);
      return k % 4 === 0 ? (BigInt(k) << 40n) | BigInt(Math.imul(k >> 2, 2246822519) >>> 0) : (BigInt(k + 1) << 40n) | BigInt(Math.imul(k, 2246822519) >>> 0);
    };
    for (let i = 0; i < 60_000; i++) {
      const id = next(400) === 0 ? 0n : idOf();
      const op = next(3);
      if (op === 0) {
        set.delete(id);
        ref.delete(id);
      } else {
        set.add(id);
        ref.add(id);
      }
      const probe = idOf();
      expect(set.has(probe)).toBe(ref.has(probe));
      if (i % 10_000 === 0) {
        expect(set.size).toBe(ref.size);
        for (const r of ref) expect(set.has(r)).toBe(true);
      }
    }
    expect(set.size).toBe(ref.size);
    for (const r of ref) expect(set.has(r)).toBe(true);
    for (const r of ref) set.delete(r);
    expect(set.size).toBe(0);
  });
});
