import { describe, expect, it } from 'vitest';
import { filterStacks } from '../../src/query/stacks.js';
import type { FlameNode } from '../../src/query/tree.js';
import { buildTree, countNodes, trimFlameTree, walk } from '../../src/query/tree.js';
import { InputError } from '../../src/model/errors.js';
import { nthSmallest } from '../../src/query/tree-builder.js';
import { folded, SAMPLE, SAMPLE_SHAPE, shape } from './fixtures.js';

/** Every node's total is its self plus its children's totals. */
function expectConsistent(root: FlameNode): void {
  walk(root, (n) => expect(n.self + n.children.reduce((a, c) => a + c.total, 0)).toBe(n.total));
}

describe('buildTree', () => {
  it('merges stacks into a tree whose total is the sum of the samples', () => {
    const t = buildTree(folded(SAMPLE));
    expect(t.total).toBe(77);
    expectConsistent(t);
    expect(shape(t)).toEqual(SAMPLE_SHAPE);
  });

  it('an empty selection is a lone root of 0', () => {
    expect(shape(buildTree([]))).toBe('total 0/0');
  });
});

describe('trimFlameTree', () => {
  it('keeps the heaviest nodes and folds the rest into `other` per parent, totals unchanged', () => {
    const full = buildTree(folded(SAMPLE));
    const t = trimFlameTree(full, 4);
    expect(shape(t)).toEqual({
      'total 77/0': [{ 'main 77/0': [{ 'work 60/10': ['hash 30/30', 'other 20/20'] }, 'other 17/17'] }],
    });
    expectConsistent(t);
  });

  it('trims the same way while merging', () => {
    expect(shape(buildTree(folded(SAMPLE), 4))).toEqual(shape(trimFlameTree(buildTree(folded(SAMPLE)), 4)));
  });

  it('does nothing when the tree already fits or the limit is 0', () => {
    const full = buildTree(folded(SAMPLE));
    expect(trimFlameTree(full, 11)).toEqual(full);
    expect(trimFlameTree(full, 0)).toEqual(full);
  });

  it('breaks ties so a wide flat tree stays within the budget', () => {
    const wide: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) wide[`f${String(i).padStart(4, '0')}`] = 1;
    const t = trimFlameTree(buildTree(folded(wide)), 10);
    expect(t.total).toBe(1000);
    expect(t.children).toHaveLength(10); // 9 kept + other
    expect(t.children.at(-1)).toMatchObject({ name: 'other', total: 991 });
    expect(countNodes(t)).toBe(11);
  });

  it('keeps totals for every limit on a deeper random tree', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const stacks: Record<string, number> = {};
    for (let i = 0; i < 500; i++) {
      const depth = 1 + Math.floor(rnd() * 8);
      const frames = Array.from({ length: depth }, () => `f${Math.floor(rnd() * 6)}`);
      stacks[frames.join(';')] = (stacks[frames.join(';')] ?? 0) + 1 + Math.floor(rnd() * 100);
    }
    const full = buildTree(folded(stacks));
    // Both ways of trimming: after building (trimFlameTree) and while merging (buildTree's maxNodes).
    const trims = [(max: number) => trimFlameTree(full, max), (max: number) => buildTree(folded(stacks), max)];
    for (const [max, trim] of [1, 2, 5, 50, 300].flatMap((m) => trims.map((f) => [m, f] as const))) {
      const t = trim(max);
      expect(t.total).toBe(full.total);
      expectConsistent(t);
      // Kept nodes ≤ max; each kept parent may add one `other`.
      let kept = 0;
      walk(t, (n) => { if (n.name !== 'other') kept++; });
      expect(kept).toBeLessThanOrEqual(max);
    }
  });
});

describe('filters', () => {
  const tree = (f: Parameters<typeof filterStacks>[1]) => shape(buildTree(filterStacks(folded(SAMPLE), f)));

  it('focus re-roots every stack at the outermost matching frame', () => {
    expect(tree({ focus: 'work' })).toEqual({ 'total 60/0': [{ 'work 60/10': ['hash 30/30', 'memcpy 20/20'] }] });
    expect(tree({ focus: '^hash$' })).toEqual({ 'total 34/0': ['hash 34/34'] });
    // Recursive: the outer `rec` roots the stack, the inner one stays below it.
    expect(tree({ focus: '^rec$' })).toEqual({ 'total 4/0': [{ 'rec 4/0': [{ 'rec 4/0': ['hash 4/4'] }] }] });
  });

  it('hide drops the frame and hands its callees and self to its caller', () => {
    expect(tree({ hide: '^work$' })).toEqual({
      'total 77/0': [
        { 'main 77/10': [{ 'gc 8/0': ['memcpy 8/8'] }, 'hash 30/30', 'idle 5/5', 'memcpy 20/20', { 'rec 4/0': [{ 'rec 4/0': ['hash 4/4'] }] }] },
      ],
    });
  });

  it('focus and hide by binary match the mapping path', () => {
    expect(tree({ focusBinary: 'libc' })).toEqual({ 'total 28/0': ['memcpy 28/28'] });
    expect(tree({ hideBinary: 'libc\\.so' })).toEqual({
      'total 77/0': [{ 'main 77/0': ['gc 8/8', 'idle 5/5', { 'rec 4/0': [{ 'rec 4/0': ['hash 4/4'] }] }, { 'work 60/30': ['hash 30/30'] }] }],
    });
  });

  it('a focus that matches nothing gives an empty tree; a bad regex is an InputError', () => {
    expect(tree({ focus: 'nope' })).toBe('total 0/0');
    expect(() => tree({ hide: '(' })).toThrow(InputError);
    expect(() => tree({ focusBinary: '[' })).toThrow(/invalid focus binary regex/);
  });

  it('patterns are RE2 like every user regex (pprof -focus is Go regexp too), matched anywhere in the name', () => {
    expect(tree({ focus: '(?i)HASH' })).toEqual(tree({ focus: 'hash' }));
    expect(tree({ focus: 'as' })).toEqual(tree({ focus: '^hash$' }));
    expect(() => tree({ hide: 'work(?=s)' })).toThrow(/invalid hide regex "work\(\?=s\)" is not valid RE2: lookahead/);
    expect(() => tree({ focus: '(w)\\1' })).toThrow(InputError);
  });

  it('a catastrophic-backtracking pattern costs linear time', () => {
    const name = `${'a'.repeat(30)}b`;
    const started = performance.now();
    const shown = shape(buildTree(filterStacks(folded({ [`main;${name}`]: 5 }), { hide: '(a+)+$' })));
    expect(shown).toEqual({ 'total 5/0': [{ 'main 5/0': [`${name} 5/5`] }] });
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('nthSmallest', () => {
  it('agrees with sorting, duplicates and extremes included', () => {
    let seed = 3;
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (const n of [1, 2, 3, 10, 101, 1000]) {
      for (const dup of [2, 1000]) {
        const a = Float64Array.from({ length: n }, () => Math.floor(rnd() * dup));
        const sorted = a.slice().sort();
        for (const k of [0, Math.floor(n / 3), n - 1]) expect(nthSmallest(a.slice(), k)).toBe(sorted[k]);
      }
    }
  });
});
