import { describe, expect, it } from 'vitest';
import type { DiffNode } from '../../src/query/diff.js';
import { buildDiffTree, diffTable } from '../../src/query/diff.js';
import { folded } from './fixtures.js';

const BASE = { 'main;work;hash': 30, 'main;work': 10, 'main;idle': 10 };
const HEAD = { 'main;work;hash': 60, 'main;work': 10, 'main;gc': 5 };

function dshape(n: DiffNode): unknown {
  const head = `${n.name} ${n.baseTotal}/${n.baseSelf} → ${n.headTotal}/${n.headSelf}`;
  return n.children.length === 0 ? head : { [head]: n.children.map(dshape) };
}

describe('diff tree', () => {
  it('merges both selections with base and head values on every node', () => {
    expect(dshape(buildDiffTree(folded(BASE), folded(HEAD)))).toEqual({
      'total 50/0 → 75/0': [
        {
          'main 50/0 → 75/0': [
            'gc 0/0 → 5/5',
            'idle 10/10 → 0/0',
            { 'work 40/10 → 70/10': ['hash 30/30 → 60/60'] },
          ],
        },
      ],
    });
  });

  it('normalises the base to the head total on request', () => {
    const t = buildDiffTree(folded(BASE), folded(HEAD), { normalize: true });
    expect(t.baseTotal).toBe(75);
    expect(t.headTotal).toBe(75);
    // hash was 60% of base (45 of 75 scaled) and is 80% of head (60): a real change in share.
    const hash = t.children[0]!.children.find((c) => c.name === 'work')!.children[0]!;
    expect([hash.baseTotal, hash.headTotal]).toEqual([45, 60]);
  });

  it('trims by the larger side and keeps both totals', () => {
    const t = buildDiffTree(folded(BASE), folded(HEAD), { maxNodes: 3 });
    expect(dshape(t)).toEqual({
      'total 50/0 → 75/0': [{ 'main 50/0 → 75/0': [{ 'work 40/10 → 70/10': ['other 30/30 → 60/60'] }, 'other 10/10 → 5/5'] }],
    });
  });
});

describe('diff table', () => {
  it('lists every function of either side, largest self change first', () => {
    const t = diffTable(folded(BASE), folded(HEAD));
    expect(t.baseTotal).toBe(50);
    expect(t.headTotal).toBe(75);
    expect(t.entries.map((e) => [e.name, e.selfChange, e.totalChange])).toEqual([
      ['hash', 30, 30],
      ['idle', -10, -10],
      ['gc', 5, 5],
      ['work', 0, 30],
      ['main', 0, 25],
    ]);
    expect(t.entries[1]).toEqual({ name: 'idle', baseSelf: 10, baseTotal: 10, headSelf: 0, headTotal: 0, selfChange: -10, totalChange: -10 });
  });

  it('sorts by total change, normalises, limits', () => {
    const t = diffTable(folded(BASE), folded(HEAD), { sort: 'total', limit: 2 });
    expect(t.entries.map((e) => e.name)).toEqual(['hash', 'work']);
    const n = diffTable(folded(BASE), folded(HEAD), { normalize: true });
    expect(n.baseTotal).toBe(75);
    expect(n.entries.find((e) => e.name === 'main')!.totalChange).toBe(0);
  });
});

describe('diff tree trimming keeps both sides exact', () => {
  it('for every limit, on both columns, every node is self + children', () => {
    const base: Record<string, number> = {};
    const head: Record<string, number> = {};
    for (let i = 0; i < 300; i++) {
      const k = Array.from({ length: 1 + (i % 7) }, (_, d) => `f${(i * 7 + d * 13) % 11}`).join(';');
      base[k] = (base[k] ?? 0) + (i % 5);
      head[k] = (head[k] ?? 0) + (i % 3) * 2;
    }
    const full = buildDiffTree(folded(base), folded(head));
    for (const max of [1, 3, 10, 40, 0]) {
      const t = buildDiffTree(folded(base), folded(head), { maxNodes: max });
      expect([t.baseTotal, t.headTotal]).toEqual([full.baseTotal, full.headTotal]);
      const check = (n: DiffNode): number => {
        expect(n.baseSelf + n.children.reduce((a, c) => a + c.baseTotal, 0)).toBe(n.baseTotal);
        expect(n.headSelf + n.children.reduce((a, c) => a + c.headTotal, 0)).toBe(n.headTotal);
        return 1 + n.children.reduce((a, c) => a + (c.name === 'other' ? 0 : check(c)), 0);
      };
      const kept = check(t);
      if (max > 0) expect(kept).toBeLessThanOrEqual(max);
    }
  });
});
