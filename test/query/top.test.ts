import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import { parseTopSort, topTable } from '../../src/query/top.js';
import { folded, SAMPLE } from './fixtures.js';

describe('topTable', () => {
  it('gives self and total per function, heaviest self first', () => {
    const t = topTable(folded(SAMPLE));
    expect(t.total).toBe(77);
    expect(t.entries).toEqual([
      { name: 'hash', self: 34, total: 34 },
      { name: 'memcpy', self: 28, total: 28 },
      { name: 'work', self: 10, total: 60 },
      { name: 'idle', self: 5, total: 5 },
      { name: 'main', self: 0, total: 77 },
      { name: 'gc', self: 0, total: 8 },
      { name: 'rec', self: 0, total: 4 },
    ]);
  });

  it('counts a recursive function once per stack in its total', () => {
    const t = topTable(folded({ 'a;b;a;b;a': 10, 'a;c': 5 }));
    expect(t.entries.find((e) => e.name === 'a')).toEqual({ name: 'a', self: 10, total: 15 });
    expect(t.entries.find((e) => e.name === 'b')).toEqual({ name: 'b', self: 0, total: 10 });
    // No function's total can exceed the profile's total.
    for (const e of t.entries) expect(e.total).toBeLessThanOrEqual(t.total);
  });

  it('sorts by total or name, limits and filters (the total stays the whole selection)', () => {
    const byTotal = topTable(folded(SAMPLE), { sort: 'total', limit: 3 });
    expect(byTotal.entries.map((e) => e.name)).toEqual(['main', 'work', 'hash']);
    const byName = topTable(folded(SAMPLE), { sort: 'name' });
    expect(byName.entries.map((e) => e.name)).toEqual(['gc', 'hash', 'idle', 'main', 'memcpy', 'rec', 'work']);
    const filtered = topTable(folded(SAMPLE), { filter: 'm' });
    expect(filtered.entries.map((e) => e.name)).toEqual(['memcpy', 'main']);
    expect(filtered.total).toBe(77);
  });

  it('rejects a bad filter regex and an unknown sort', () => {
    expect(() => topTable(folded(SAMPLE), { filter: '*' })).toThrow(InputError);
    expect(() => parseTopSort('cost')).toThrow(/unknown sort "cost": use self, total or name/);
    expect(parseTopSort('total')).toBe('total');
  });
});
