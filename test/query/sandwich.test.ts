import { describe, expect, it } from 'vitest';
import { sandwich } from '../../src/query/sandwich.js';
import { topTable } from '../../src/query/top.js';
import { folded, SAMPLE, shape } from './fixtures.js';

describe('sandwich', () => {
  it('shows callers above (inverted) and callees below one function', () => {
    const s = sandwich(folded(SAMPLE), 'hash');
    expect(shape(s.callers)).toEqual({
      'hash 34/0': [{ 'rec 4/0': [{ 'rec 4/0': ['main 4/4'] }] }, { 'work 30/0': ['main 30/30'] }],
    });
    expect(shape(s.callees)).toBe('hash 34/34');
  });

  it('callees of a function with children, callers up to the root', () => {
    const s = sandwich(folded(SAMPLE), 'work');
    expect(shape(s.callers)).toEqual({ 'work 60/0': ['main 60/60'] });
    expect(shape(s.callees)).toEqual({ 'work 60/10': ['hash 30/30', 'memcpy 20/20'] });
  });

  it('counts each stack once for a recursive function; both roots equal the top-table total', () => {
    const stacks = folded(SAMPLE);
    const s = sandwich(stacks, 'rec');
    expect(shape(s.callees)).toEqual({ 'rec 4/0': [{ 'rec 4/0': ['hash 4/4'] }] });
    expect(shape(s.callers)).toEqual({ 'rec 4/0': ['main 4/4'] });
    for (const fn of ['hash', 'memcpy', 'work', 'rec', 'main']) {
      const sw = sandwich(stacks, fn);
      const row = topTable(stacks).entries.find((e) => e.name === fn)!;
      expect(sw.callers.total).toBe(row.total);
      expect(sw.callees.total).toBe(row.total);
    }
  });

  it('an unknown function gives empty trees', () => {
    const s = sandwich(folded(SAMPLE), 'nope');
    expect(s.callers.total).toBe(0);
    expect(s.callees.children).toEqual([]);
  });
});
