import { describe, expect, it } from 'vitest';
import { withCallSite } from '../../src/query/call-site.js';
import { QueryEngine } from '../../src/query/engine.js';
import { buildTree } from '../../src/query/tree.js';
import { folded, memoryStore, profileOf, SAMPLE, shape } from './fixtures.js';

describe("call site (Pyroscope's stack_trace_selector)", () => {
  it('keeps the stacks that start with the call site, whole, so the graph still starts at the root', () => {
    const kept = withCallSite(folded(SAMPLE), ['main', 'work']);
    expect(shape(buildTree(kept))).toEqual({ 'total 60/0': [{ 'main 60/0': [{ 'work 60/10': ['hash 30/30', 'memcpy 20/20'] }] }] });
  });

  it('matches a prefix from the root only, frame by frame, by exact name', () => {
    expect(withCallSite(folded(SAMPLE), ['work'])).toEqual([]);
    expect(withCallSite(folded(SAMPLE), ['main', 'wor'])).toEqual([]);
    expect(withCallSite(folded(SAMPLE), ['main', 'rec', 'rec', 'hash']).map((s) => s.value)).toEqual([4]);
    expect(withCallSite(folded(SAMPLE), ['main', 'work', 'hash', 'deeper'])).toEqual([]);
  });

  it('an empty call site keeps everything', () => {
    expect(withCallSite(folded(SAMPLE), []).reduce((a, s) => a + s.value, 0)).toBe(77);
  });

  it('the query engine applies it before focus and hide, to flame graphs and tables alike', async () => {
    const store = await memoryStore();
    await store.write('t', [profileOf(SAMPLE, { timeMs: 1000 })]);
    const engine = new QueryEngine(store);
    const q = { tenant: 't', selector: { profileType: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds', matchers: [] }, from: 0, to: 2000 };
    expect((await engine.flamegraph(q, { callSite: ['main', 'work'] })).total).toBe(60);
    expect((await engine.flamegraph(q, { callSite: ['main', 'work'], focus: '^memcpy$' })).total).toBe(20);
    const top = await engine.top(q, { callSite: ['main', 'gc'] });
    expect(top).toEqual({ total: 8, entries: [{ name: 'memcpy', self: 8, total: 8 }, { name: 'gc', self: 0, total: 8 }, { name: 'main', self: 0, total: 8 }] });
  });
});
