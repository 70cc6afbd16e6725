import { describe, expect, it } from 'vitest';
import { LruCache } from '../../src/agent/lru.js';

describe('LruCache', () => {
  it('evicts the least recently used entry first, a read counting as a use', () => {
    const c = new LruCache<string, number>(2);
    c.set('a', 1);
    c.set('b', 2);
    expect(c.get('a')).toBe(1); // now b is the oldest
    c.set('c', 3);
    expect([...c].map(([k]) => k)).toEqual(['a', 'c']);
    expect(c.evictions).toBe(1);
  });

  it('bounds the total weight, and keeps a single oversized entry usable', () => {
    const c = new LruCache<string, number[]>(10, (v) => v.length);
    c.set('small', [1, 2, 3]);
    c.set('medium', [1, 2, 3, 4, 5]);
    expect(c.weight).toBe(8);
    c.set('huge', new Array<number>(50).fill(0));
    expect([...c].map(([k]) => k)).toEqual(['huge']);
    expect(c.weight).toBe(50);
    c.set('huge', [1]); // replacing an entry replaces its weight
    expect(c.weight).toBe(1);
    expect(c.delete('huge')).toBe(true);
    expect(c.size).toBe(0);
    expect(c.weight).toBe(0);
  });

  it('keeps the same order as a plain list would, through repeated reads of the newest entry, deletes and clears', () => {
    // Reference: a list, least recent first; a read or a write moves the key to the end.
    const bound = 4;
    const c = new LruCache<number, number>(bound);
    let list: number[] = [];
    let seed = 7;
    // The high bits of the generator: its low bits repeat every few steps.
    const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) % 8;
    for (let step = 0; step < 3000; step++) {
      const key = next();
      const op = next();
      if (op < 4) {
        // reads: often the newest entry again, as frames of one binary in a row do
        const k = op < 2 && list.length > 0 ? list[list.length - 1]! : key;
        const had = list.includes(k);
        expect(c.get(k) !== undefined).toBe(had);
        if (had) list = [...list.filter((x) => x !== k), k];
      } else if (op < 7) {
        c.set(key, key);
        list = [...list.filter((x) => x !== key), key];
        if (list.length > bound) list = list.slice(list.length - bound);
      } else if (step % 97 === 0) {
        c.clear();
        list = [];
      } else {
        expect(c.delete(key)).toBe(list.includes(key));
        list = list.filter((x) => x !== key);
      }
      expect(c.keys()).toEqual(list);
    }
  });

  it('refuses a bound that is not positive', () => {
    expect(() => new LruCache(0)).toThrow(/positive/);
  });
});
