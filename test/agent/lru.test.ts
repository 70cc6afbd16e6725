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

  it('refuses a bound that is not positive', () => {
    expect(() => new LruCache(0)).toThrow(/positive/);
  });
});
