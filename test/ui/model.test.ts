import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile as PprofProfile } from 'pprof-format';
import { describe, expect, it } from 'vitest';
import { toFlameGraph, toFlameGraphDiff } from '../../src/formats/flamebearer.js';
import { compileRegex } from '../../src/model/matcher.js';
import { buildDiffTree } from '../../src/query/diff.js';
import type { Frame, WeightedStack } from '../../src/query/stacks.js';
import { buildTree } from '../../src/query/tree.js';
import { decodeDiffFlameGraph, decodeFlameGraph } from '../../ui/src/model/decode.js';
import { describeEntry, entryPattern, stackFilter } from '../../ui/src/model/frame-filter.js';
import { packageOf, packagePattern } from '../../ui/src/model/frame-kind.js';
import { findPath, nodeName, nodePath, type FlameTree } from '../../ui/src/model/flame-tree.js';
import { nameTest } from '../../ui/src/model/name-query.js';
import { searchMatches } from '../../ui/src/model/search.js';
import { pprofFiles, requireTestdata } from '../support/testdata.js';

/** Folded text → the stacks the server's query code merges, so the UI decodes exactly what the server encodes. */
function stacks(folded: string): WeightedStack[] {
  return folded
    .trim()
    .split('\n')
    .map((l) => {
      const sp = l.lastIndexOf(' ');
      // Frames with a name only (no binary, address or location), as this test always built them.
      return { frames: l.slice(0, sp).split(';').map((name) => ({ name, binary: '' }) as Frame), value: Number(l.slice(sp + 1)) };
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
  it('names the root after a sandwich\'s function, leaving frames named "total" alone', () => {
    const s = decodeFlameGraph(JSON.parse(JSON.stringify(toFlameGraph(buildTree(stacks('total;a 3\nb 2'))))), 'parse');
    expect(nodeName(s, 0)).toBe('parse');
    expect(nodeName(s, findPath(s, ['total']))).toBe('total');
  });
  it('rejects a level whose length is not whole nodes', () => {
    expect(() => decodeFlameGraph({ names: ['total'], levels: [{ values: ['0', '1', '1'] }] })).toThrow(/multiple of 4/);
  });
});

describe('search', () => {
  const t = graph(SAMPLE);
  const search = (q: string) => searchMatches(t, nameTest(q)!);
  it('highlights every substring match, any case, and sums nested matches once', () => {
    const m = search('RSE'); // parse (40) and recurse (5, nested twice)
    expect(m.value).toBe(45);
    expect([...m.matched].filter(Boolean).length).toBe(3);
    expect(nameTest('')).toBeNull();
  });
  it('reads /regex/ as RE2, unanchored, as the server reads focus, hide and filter', () => {
    expect(search('/^pa/').value).toBe(40);
    expect(search('/(?i)^PA/').value).toBe(40); // RE2's inline flag: a JavaScript RegExp would refuse it
    expect(search('/[unclosed/').value).toBe(0); // still being typed: nothing, no error
    expect(search('/(?=lookahead)/').value).toBe(0); // not RE2: nothing, as the server would refuse it
  });
  it('answers a pattern that makes a backtracking engine hang at once', () => {
    const name = `${'a'.repeat(5000)}!`;
    const began = performance.now();
    expect(nameTest('/(a+)+$/')!(name)).toBe(false); // a JavaScript RegExp takes longer than the universe here
    expect(nameTest('/(a+)+!/')!(name)).toBe(true);
    expect(performance.now() - began).toBeLessThan(500);
  });
  it('never matches the `other` remainder of a trimmed graph', () => {
    const trimmed = decodeFlameGraph(JSON.parse(JSON.stringify(toFlameGraph(buildTree(stacks('main;a 50\nmain;b 1\nmain;c 1\nmain;d 1'), 3)))));
    const other = findPath(trimmed, ['main', 'other']);
    expect(other, 'the fixture must be trimmed').toBeGreaterThan(0);
    expect(searchMatches(trimmed, nameTest('other')!).value).toBe(0);
    expect(searchMatches(trimmed, nameTest('/./')!).matched[other]).toBe(0);
  });
});

describe('focus and hide as the server stack filters', () => {
  const re = (pattern: string) => compileRegex(pattern, { anchored: false });
  it('selects a function by its exact name, whatever characters it holds', () => {
    const name = 'net/http.(*conn).serve';
    expect(re(entryPattern(name)).test(name)).toBe(true);
    expect(re(entryPattern(name)).test(`${name}2`)).toBe(false);
    expect(re(entryPattern(name)).test('net/http.(*conn)Xserve')).toBe(false);
    expect(re(entryPattern('a+b')).test('aab')).toBe(false);
  });
  it('joins every hidden entry into one regex and leaves unset filters out', () => {
    const f = stackFilter('', ['runtime.gc', 'pkg:checkout']);
    expect(f.focus).toBeUndefined();
    const hide = re(f.hide!);
    expect(['runtime.gc', 'checkout.handle', 'checkout.parseCart'].every((n) => hide.test(n))).toBe(true);
    expect(['runtime.gcBg', 'main', 'http.serve', 'checkoutx.a'].some((n) => hide.test(n))).toBe(false);
    expect(stackFilter('', [])).toEqual({ focus: undefined, hide: undefined });
    expect(describeEntry('pkg:net/http')).toBe('package net/http');
  });
  it('focuses on nothing, rather than everything, for a package no name can have', () => {
    expect(re(stackFilter('pkg:', []).focus!).test('main')).toBe(false);
  });
  it('selects a package exactly as packageOf colours it, for every function name in the corpus', () => {
    const names = corpusNames();
    expect(names.length).toBeGreaterThan(3000);
    names.push('::operator new(unsigned long)', '::a::b', 'std::vector<int>::push_back', 'java/lang/Thread:::run');
    const byPackage = new Map<string, string[]>();
    for (const n of names) if (n !== '') byPackage.set(packageOf(n), [...(byPackage.get(packageOf(n)) ?? []), n]);
    const missed: string[] = [];
    const wrong: string[] = [];
    for (const [p, own] of byPackage) {
      const r = re(packagePattern(p));
      // Every name is selected by its own package…
      for (const n of own) if (!r.test(n)) missed.push(`${p} !~ ${n}`);
      // …and by no other. Every branch of a package's regex spells the package out, so only names that
      // contain it can match: testing those is testing every name, in a fraction of the time.
      for (const n of names) if (n.includes(p) && packageOf(n) !== p && r.test(n)) wrong.push(`${p} ~ ${n}`);
    }
    expect(missed).toEqual([]);
    expect(wrong).toEqual([]);
  });
});

/** Function names from every pprof of the corpus and every stackcollapse-perf result (kernel, JIT, binaries). */
function corpusNames(): string[] {
  const names = new Set<string>();
  for (const f of pprofFiles()) {
    let bytes = readFileSync(f);
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
    const p = PprofProfile.decode(bytes);
    for (const fn of p.function) names.add(String(p.stringTable.strings[Number(fn.name)]));
  }
  const results = path.join(requireTestdata('perf'), 'flamegraph-tests', 'results');
  for (const f of readdirSync(results)) {
    for (const line of readFileSync(path.join(results, f), 'utf8').split('\n')) {
      for (const frame of line.slice(0, line.lastIndexOf(' ')).split(';')) names.add(frame);
    }
  }
  return [...names];
}

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
