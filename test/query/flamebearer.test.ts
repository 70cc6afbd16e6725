import { describe, expect, it } from 'vitest';
import {
  flamebearerMetadata, fromFlamebearer, fromFlameGraph, fromFlameGraphDiff, timelineStepSec, toDiffFlamebearerProfile,
  toFlamebearer, toFlamebearerProfile, toFlameGraph, toFlameGraphDiff, toTimeline, toPyroscopeTree, fromPyroscopeTree,
} from '../../src/formats/flamebearer.js';
import { CPU_TYPE, parseProfileType } from '../../src/model/index.js';
import { buildDiffTree } from '../../src/query/diff.js';
import { buildTree, trimFlameTree } from '../../src/query/tree.js';
import { folded, SAMPLE } from './fixtures.js';

describe('querier.v1 FlameGraph / flamebearer levels', () => {
  it('encodes [x delta, total, self, name] per level, children after the parent self', () => {
    const fg = toFlameGraph(buildTree(folded({ 'a;b': 3, a: 2, c: 5 })));
    expect(fg).toEqual({
      names: ['total', 'a', 'b', 'c'],
      levels: [{ values: [0, 10, 0, 0] }, { values: [0, 5, 2, 1, 0, 5, 5, 3] }, { values: [2, 3, 3, 2] }],
      total: 10,
      maxSelf: 5,
    });
  });

  it('de-duplicates names and delta-encodes gaps on a level', () => {
    // b appears twice; the second b sits after a's self (x = 4 + 1) behind c's end (x = 4): gap 1.
    const fb = toFlamebearer(buildTree(folded({ 'a;b': 4, 'c;b': 2, c: 1 })));
    expect(fb.names).toEqual(['total', 'a', 'b', 'c']);
    expect(fb.levels[2]).toEqual([0, 4, 4, 2, 1, 2, 2, 2]);
    expect(fb.numTicks).toBe(7);
    expect(fb.maxSelf).toBe(4);
  });

  it('decodes back to the same tree, totals intact, trimmed or not', () => {
    const tree = buildTree(folded(SAMPLE));
    expect(fromFlamebearer(toFlamebearer(tree))).toEqual(tree);
    const trimmed = trimFlameTree(tree, 4);
    const back = fromFlameGraph(toFlameGraph(trimmed));
    expect(back).toEqual(trimmed);
    expect(back.total).toBe(77);
  });

  it('wraps the legacy /render body with metadata and a timeline', () => {
    const tree = buildTree(folded({ a: 1e9 }));
    const tl = toTimeline([{ timeMs: 1_000_015_000, value: 7 }], 1_000_000_000, 1_000_060_000, 15);
    const p = toFlamebearerProfile(tree, CPU_TYPE, { spyName: 'ebpfspy', timeline: tl });
    expect(p).toMatchObject({
      version: 1,
      flamebearer: { names: ['total', 'a'], numTicks: 1e9, maxSelf: 1e9 },
      metadata: { format: 'single', spyName: 'ebpfspy', units: 'samples', sampleRate: 1e9, name: 'cpu' },
      timeline: { startTime: 1_000_000, samples: [0, 7, 0, 0], durationDelta: 15 },
      groups: null,
      heatmap: null,
    });
    expect(p).not.toHaveProperty('leftTicks');
    // JSON must survive a round trip unchanged (what an HTTP client gets).
    expect(JSON.parse(JSON.stringify(p))).toEqual(p);
  });

  it('names units the way Pyroscope does', () => {
    expect(flamebearerMetadata(parseProfileType('memory:inuse_space:bytes:space:bytes'), 'single').units).toBe('bytes');
    expect(flamebearerMetadata(parseProfileType('memory:alloc_objects:count:space:bytes'), 'single').units).toBe('objects');
    expect(flamebearerMetadata(parseProfileType('goroutine:goroutine:count:goroutine:count'), 'single').units).toBe('objects');
    expect(flamebearerMetadata(parseProfileType('block:delay:nanoseconds:contentions:count'), 'single')).toMatchObject({ units: 'nanoseconds', sampleRate: 100 });
  });

  it('picks a readable timeline step of at least 15 s', () => {
    expect(timelineStepSec(0, 3_600_000)).toBe(15);
    expect(timelineStepSec(0, 24 * 3_600_000)).toBe(60);
    expect(timelineStepSec(0, 7 * 24 * 3_600_000)).toBe(300);
  });
});

describe('FlameGraphDiff / render-diff', () => {
  const base = folded({ a: 2, 'a;b': 3 });
  const head = folded({ 'a;b': 1, c: 4 });

  it('encodes 7-number nodes with separate left and right x axes', () => {
    const fg = toFlameGraphDiff(buildDiffTree(base, head));
    expect(fg).toEqual({
      names: ['total', 'a', 'b', 'c'],
      levels: [
        { values: [0, 5, 0, 0, 5, 0, 0] },
        { values: [0, 5, 2, 0, 1, 0, 1, 0, 0, 0, 0, 4, 4, 3] },
        { values: [2, 3, 3, 0, 1, 1, 2] },
      ],
      total: 10,
      maxSelf: 4,
      leftTicks: 5,
      rightTicks: 5,
    });
  });

  it('decodes back to the same diff tree', () => {
    const big = buildDiffTree(folded(SAMPLE), folded({ ...SAMPLE, 'main;idle': 50, 'main;new;thing': 9 }));
    expect(fromFlameGraphDiff(toFlameGraphDiff(big))).toEqual(big);
  });

  it('is the render-diff body with format double and left/right ticks', () => {
    const p = toDiffFlamebearerProfile(buildDiffTree(base, head), CPU_TYPE);
    expect(p).toMatchObject({ version: 1, metadata: { format: 'double' }, leftTicks: 5, rightTicks: 5, flamebearer: { numTicks: 10 } });
    for (const l of p.flamebearer.levels) expect(l.length % 7).toBe(0);
  });
});

describe('PROFILE_FORMAT_TREE bytes', () => {
  it('writes pre-order nodes as varint name length, name, self, child count under a nameless root', () => {
    expect([...toPyroscopeTree(buildTree(folded({ a: 2 })))]).toEqual([0, 0, 1, 1, 0x61, 2, 0]);
    // 300 needs two varint bytes: 0xac 0x02.
    expect([...toPyroscopeTree(buildTree(folded({ a: 300 })))].slice(5, 7)).toEqual([0xac, 0x02]);
  });

  it('decodes back to the same tree, negative values (delta profiles) included', () => {
    const tree = buildTree(folded(SAMPLE));
    expect(fromPyroscopeTree(toPyroscopeTree(tree))).toEqual(tree);
    const neg = buildTree(folded({ 'a;b': -5, 'a;c': 9, 'é;ü': 1 }));
    expect(fromPyroscopeTree(toPyroscopeTree(neg))).toEqual(neg);
  });
});
