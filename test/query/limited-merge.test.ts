import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Id } from '../../src/model/index.js';
import { DEFAULT_MAX_NODES, flameStackLimit, QueryEngine } from '../../src/query/engine.js';
import { buildTree, OTHER_NAME } from '../../src/query/tree.js';
import { openStore } from '../../src/store/index.js';
import { OTHER_STACK_ID } from '../../src/store/store.js';
import type { MergeQuery, SeriesQuery, Store } from '../../src/store/store.js';
import { folded, profileOf, SAMPLE, shape } from './fixtures.js';

const T = Date.UTC(2024, 4, 1, 12);
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

/**
 * The real DuckDB store, watched: records the limit each merge asked for and the stack ids each
 * resolve asked for, and (to see a cut without writing 100 000 stacks) answers any limited merge
 * with only its `cutTo` heaviest stacks plus the remainder — as the store would past the limit.
 */
class WatchedStore implements Store {
  readonly limits: (number | undefined)[] = [];
  readonly resolved: Id[][] = [];
  constructor(private readonly inner: Store, private readonly cutTo: number) {}
  write: Store['write'] = (t, p) => this.inner.write(t, p);
  profileTypes: Store['profileTypes'] = (q) => this.inner.profileTypes(q);
  labelNames: Store['labelNames'] = (q) => this.inner.labelNames(q);
  labelValues: Store['labelValues'] = (q, n) => this.inner.labelValues(q, n);
  series: Store['series'] = (q) => this.inner.series(q);
  mergeStacks = (q: MergeQuery) => {
    this.limits.push(q.limit);
    return this.inner.mergeStacks(q.limit ? { ...q, limit: Math.min(q.limit, this.cutTo) } : q);
  };
  mergeStacksGrouped: Store['mergeStacksGrouped'] = (q) => this.inner.mergeStacksGrouped(q);
  resolveStacks: Store['resolveStacks'] = (t, ids, s) => {
    this.resolved.push([...ids]);
    return this.inner.resolveStacks(t, ids, s);
  };
  seriesPoints: Store['seriesPoints'] = (q) => this.inner.seriesPoints(q);
  listProfiles: Store['listProfiles'] = (q) => this.inner.listProfiles(q);
  listSpans: Store['listSpans'] = (q) => this.inner.listSpans(q);
  footprint: Store['footprint'] = (q) => this.inner.footprint(q);
  dropBefore: Store['dropBefore'] = (ms) => this.inner.dropBefore(ms);
  stats: Store['stats'] = () => this.inner.stats();
  health: Store['health'] = () => this.inner.health();
  close: Store['close'] = () => this.inner.close();
}

const dir = mkdtempSync(path.join(tmpdir(), 'kiln-limited-'));
let inner: Store;
let watched: WatchedStore;
let engine: QueryEngine;
const q: SeriesQuery = { tenant: 'acme', selector: { profileType: CPU, matchers: [] }, from: T - 60_000, to: T + 60_000 };

beforeAll(async () => {
  inner = await openStore(dir, { threads: 1 });
  await inner.write('acme', [profileOf(SAMPLE, { timeMs: T })]); // 6 stacks, total 77
  watched = new WatchedStore(inner, 2);
  engine = new QueryEngine(watched);
});
afterAll(async () => {
  await inner?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('flame graphs ask the store for a limited merge', () => {
  it('asks for the flame graph limit, resolves only the stacks kept, and keeps the unlimited total in `other`', async () => {
    watched.limits.length = 0;
    watched.resolved.length = 0;
    const limited = await engine.flamegraph(q);
    expect(watched.limits).toEqual([flameStackLimit(DEFAULT_MAX_NODES)]);
    expect(watched.resolved).toHaveLength(1);
    expect(watched.resolved[0]).toHaveLength(2);
    expect(watched.resolved[0]).not.toContain(OTHER_STACK_ID);

    const unlimited = await new QueryEngine(inner).flamegraph(q, { maxNodes: 0 });
    expect(unlimited.total).toBe(77);
    expect(limited.total).toBe(unlimited.total);
    // The two heaviest stacks (main;work;hash 30, main;work;libc.so!memcpy 20) stay; 27 is `other`.
    expect(shape(limited)).toEqual({
      'total 77/0': [{ 'main 50/0': [{ 'work 50/0': ['hash 30/30', 'memcpy 20/20'] }] }, 'other 27/27'],
    });
  });

  it('the remainder and what trimming cuts under the root make one `other`, never two', () => {
    // Three nodes kept (total, a, x): b and c are cut under the root, where the remainder 5 goes too.
    const t = buildTree(folded({ 'a;x': 10, b: 3, c: 2 }), 3, 5);
    expect(t.children.filter((c) => c.name === OTHER_NAME)).toHaveLength(1);
    expect(shape(t)).toEqual({ 'total 20/0': [{ 'a 10/0': ['x 10/10'] }, 'other 10/10'] });
    // Without trimming the remainder alone is the root's `other`.
    expect(shape(buildTree(folded({ 'a;x': 10 }), 0, 5))).toEqual({ 'total 15/0': [{ 'a 10/0': ['x 10/10'] }, 'other 5/5'] });
  });

  it('asks for every stack where a cut would be wrong: max_nodes 0, focus, call site, top, diff, sandwich, pprof', async () => {
    watched.limits.length = 0;
    await engine.flamegraph(q, { maxNodes: 0 });
    await engine.flamegraph(q, { focus: '^idle$' });
    await engine.flamegraph(q, { callSite: ['main', 'idle'] });
    const top = await engine.top(q);
    await engine.diff(q, q);
    await engine.sandwich(q, 'work');
    await engine.mergeProfile(q);
    expect(watched.limits).toEqual([undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
    // The top table stays exact: memcpy's self is summed over both its stacks, one of them light.
    expect(top.total).toBe(77);
    expect(top.entries.find((e) => e.name === 'memcpy')).toEqual({ name: 'memcpy', self: 28, total: 28 });
    expect(top.entries.map((e) => e.name)).not.toContain(OTHER_NAME);
  });

  it('a focus that only light stacks hold is still found', async () => {
    const t = await engine.flamegraph(q, { focus: '^idle$' });
    expect(shape(t)).toEqual({ 'total 5/0': ['idle 5/5'] });
  });
});
