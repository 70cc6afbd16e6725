import { describe, expect, it } from 'vitest';
import { toFlameGraph, toFlameGraphDiff } from '../../src/formats/flamebearer.js';
import { buildDiffTree } from '../../src/query/diff.js';
import type { WeightedStack } from '../../src/query/stacks.js';
import { buildTree } from '../../src/query/tree.js';
import { functionTable, searchMatches } from '../../ui/src/model/aggregate.js';
import { decodeDiffFlameGraph, decodeFlameGraph } from '../../ui/src/model/decode.js';
import { findPath, nodeName, nodePath, type FlameTree } from '../../ui/src/model/flame-tree.js';
import { focusFrames, focusFunction, frameFilter, hideFrames, hideFunction, sandwich, toFolded } from '../../ui/src/model/transforms.js';

/** Folded text → the stacks the server's query code merges, so the UI decodes exactly what the server encodes. */
function stacks(folded: string): WeightedStack[] {
  return folded
    .trim()
    .split('\n')
    .map((l) => {
      const sp = l.lastIndexOf(' ');
      return { frames: l.slice(0, sp).split(';').map((name) => ({ name, binary: '' })), value: Number(l.slice(sp + 1)) };
    });
}

const SAMPLE = `
main;serve;parse 30
main;serve;parse;alloc 10
main;serve;write 20
main;gc 15
main;recurse;recurse;leaf 5
idle 20
`;

function graph(folded: string): FlameTree {
  // Through JSON, as the browser receives it (int64 as strings is handled by Number()).
  return decodeFlameGraph(JSON.parse(JSON.stringify(toFlameGraph(buildTree(stacks(folded))))));
}

function find(t: FlameTree, path: string): number {
  return findPath(t, path.split(';'));
}

describe('decoding the querier FlameGraph', () => {
  const t = graph(SAMPLE);
  it('rebuilds totals, self and parentage from delta-encoded levels', () => {
    expect(t.total[0]).toBe(100);
    expect(nodeName(t, 0)).toBe('total');
    const parse = find(t, 'main;serve;parse');
    expect(parse).toBeGreaterThan(0);
    expect(t.total[parse]).toBe(40);
    expect(t.self[parse]).toBe(30);
    expect(nodePath(t, parse)).toEqual(['main', 'serve', 'parse']);
    expect(t.total[find(t, 'main')]).toBe(80);
    expect(t.total[find(t, 'idle')]).toBe(20);
    expect(find(t, 'main;nope')).toBe(-1);
  });
  it('keeps every child inside its parent and siblings apart', () => {
    for (let i = 1; i < t.count; i++) {
      const p = t.parent[i];
      expect(t.x[i]).toBeGreaterThanOrEqual(t.x[p]);
      expect(t.x[i] + t.total[i]).toBeLessThanOrEqual(t.x[p] + t.total[p]);
      expect(i).toBeGreaterThanOrEqual(t.childStart[p]);
      expect(i).toBeLessThan(t.childEnd[p]);
    }
  });
  it('rejects a level whose length is not whole nodes', () => {
    expect(() => decodeFlameGraph({ names: ['total'], levels: [{ values: ['0', '1', '1'] }] })).toThrow(/multiple of 4/);
  });
});

describe('function table and search', () => {
  const t = graph(SAMPLE);
  it('sums self per function and counts a recursive function once in total', () => {
    const rows = new Map(functionTable(t).map((r) => [r.name, r]));
    expect(rows.get('parse')).toMatchObject({ self: 30, total: 40 });
    expect(rows.get('main')).toMatchObject({ self: 0, total: 80 });
    expect(rows.get('recurse')).toMatchObject({ self: 0, total: 5 });
    expect(rows.get('leaf')).toMatchObject({ self: 5, total: 5 });
  });
  it('highlights every match and sums nested matches once', () => {
    const m = searchMatches(t, 'rse'); // parse (40) and recurse (5, nested twice)
    expect(m.value).toBe(45);
    expect([...m.matched].filter(Boolean).length).toBe(3);
    expect(searchMatches(t, '/^pa/').value).toBe(40);
    expect(searchMatches(t, '/[unclosed/').value).toBe(0);
  });
});

describe('focus, hide, sandwich, folded', () => {
  const t = graph(SAMPLE);
  it('hides a function by moving its callees and self to its caller', () => {
    const h = hideFunction(t, 'serve');
    expect(h.total[0]).toBe(100);
    expect(h.total[find(h, 'main;parse')]).toBe(40);
    expect(find(h, 'main;serve')).toBe(-1);
  });
  it('hides and focuses on a whole package', () => {
    const go = graph('main;net/http.serve;app/db.query;net/http.write 10\nmain;app/db.scan 5\nmain;app/api.get 7');
    const hidden = hideFrames(go, frameFilter('pkg:net/http'));
    expect(hidden.total[0]).toBe(22);
    expect(hidden.total[find(hidden, 'main;app/db.query')]).toBe(10);
    const focused = focusFrames(go, frameFilter('pkg:app/db'));
    expect(focused.total[0]).toBe(15);
    expect(focused.total[find(focused, 'app/db.query;net/http.write')]).toBe(10);
    expect(frameFilter('main')('main')).toBe(true);
    expect(frameFilter('main')('pkg:main')).toBe(false);
  });
  it('focuses on a function: its calls merged under the root', () => {
    const f = focusFunction(t, 'serve');
    expect(f.total[0]).toBe(60);
    expect(f.total[find(f, 'serve;write')]).toBe(20);
  });
  it('sandwich: callers inverted, callees focused', () => {
    const s = sandwich(t, 'parse');
    expect(nodeName(s.callers, 0)).toBe('parse');
    expect(s.callers.total[findPath(s.callers, ['serve', 'main'])]).toBe(40);
    expect(nodeName(s.callees, 0)).toBe('parse');
    expect(s.callees.total[0]).toBe(40);
    expect(s.callees.self[0]).toBe(30);
    expect(s.callees.total[findPath(s.callees, ['alloc'])]).toBe(10);
  });
  it('exports folded stacks that sum to the root', () => {
    const lines = toFolded(t).trim().split('\n');
    expect(lines).toContain('main;serve;parse;alloc 10');
    expect(lines.reduce((s, l) => s + Number(l.split(' ').pop()), 0)).toBe(100);
  });
});

describe('decoding the querier FlameGraphDiff', () => {
  it('keeps both sides per node and lays out on their sum', () => {
    const base = stacks('main;a 60\nmain;b 40');
    const head = stacks('main;a 30\nmain;b 70\nmain;c 10');
    const fg = toFlameGraphDiff(buildDiffTree(base, head));
    const t = decodeDiffFlameGraph(JSON.parse(JSON.stringify(fg)));
    const b = findPath(t, ['main', 'b']);
    expect(t.diff!.leftTotal[b]).toBe(40);
    expect(t.diff!.rightTotal[b]).toBe(70);
    expect(t.total[b]).toBe(110);
    expect(t.diff!.leftTicks).toBe(100);
    expect(t.diff!.rightTicks).toBe(110);
    const c = findPath(t, ['main', 'c']);
    expect(t.diff!.leftTotal[c]).toBe(0);
    expect(t.diff!.rightTotal[c]).toBe(10);
  });
});
