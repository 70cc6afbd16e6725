import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePprof, encodePprof } from '../../src/formats/pprof.js';
import { InputError } from '../../src/model/errors.js';
import { profileTotal } from '../../src/model/profile.js';
import { QueryEngine } from '../../src/query/engine.js';
import { parseSelector } from '../../src/query/selector.js';
import { openStore } from '../../src/store/index.js';
import type { SeriesQuery, Store } from '../../src/store/store.js';
import { memoryStore, profileOf, SAMPLE, SAMPLE_SHAPE, shape } from './fixtures.js';

const T = Date.UTC(2024, 4, 1, 12, 0, 0);
const MIN = 60_000;
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

function q(selector: string, from = T - MIN, to = T + 10 * MIN, tenant = 'acme'): SeriesQuery {
  return { tenant, selector: parseSelector(selector), from, to };
}

/** The same expectations against the in-memory fake and the real DuckDB engine. */
function engineSuite(name: string, open: () => Promise<Store>): void {
  describe(`QueryEngine on ${name}`, () => {
    let store: Store;
    let engine: QueryEngine;
    beforeAll(async () => {
      store = await open();
      engine = new QueryEngine(store);
      await store.write('acme', [
        profileOf(SAMPLE, { labels: { service_name: 'app', pod: 'a' }, timeMs: T }),
        profileOf({ 'main;work;hash': 90, 'main;gc': 10 }, { labels: { service_name: 'app', pod: 'a' }, timeMs: T + 5 * MIN }),
        profileOf({ 'other;x': 3 }, { labels: { service_name: 'other', pod: 'b' }, timeMs: T }),
      ]);
      await store.write('globex', [profileOf({ 'secret;x': 1000 }, { labels: { service_name: 'app' }, timeMs: T })]);
    });
    afterAll(async () => store.close());

    it('merges a selection into a flame graph whose total is the sum of its samples', async () => {
      const t = await engine.flamegraph(q(`${CPU}{service_name="app"}`, T, T + MIN));
      expect(t.total).toBe(77);
      expect(shape(t)).toEqual(SAMPLE_SHAPE);
    });

    it('merges over the whole range, trims to max nodes, applies filters', async () => {
      const all = await engine.flamegraph(q(`${CPU}{service_name="app"}`));
      expect(all.total).toBe(177);
      const trimmed = await engine.flamegraph(q(`${CPU}{service_name="app"}`), { maxNodes: 3 });
      expect(shape(trimmed)).toEqual({ 'total 177/0': [{ 'main 177/0': [{ 'work 150/10': ['other 140/140'] }, 'other 27/27'] }] });
      const focused = await engine.flamegraph(q(`${CPU}{service_name="app"}`), { focus: '^hash$' });
      expect(shape(focused)).toEqual({ 'total 124/0': ['hash 124/124'] });
      const hidden = await engine.flamegraph(q(`${CPU}{service_name="app"}`), { hideBinary: 'libc' });
      expect(hidden.total).toBe(177);
    });

    it('keeps tenants apart and honours [from, to) and matchers', async () => {
      expect((await engine.flamegraph(q(`${CPU}{service_name="app"}`, T - MIN, T + MIN, 'globex'))).total).toBe(1000);
      expect((await engine.flamegraph(q(`${CPU}{service_name="app"}`, T - MIN, T + MIN, 'nobody'))).total).toBe(0);
      expect((await engine.flamegraph(q(`${CPU}{service_name="app"}`, T + 1, T + MIN))).total).toBe(0);
      expect((await engine.flamegraph(q(`${CPU}{service_name=~"app|other"}`, T, T + MIN))).total).toBe(80);
      expect((await engine.flamegraph(q(`${CPU}{pod!="a"}`))).total).toBe(3);
    });

    it('rejects a bad filter regex even when nothing matches the selection', async () => {
      await expect(engine.flamegraph(q(`${CPU}{service_name="nobody"}`), { focus: '(' })).rejects.toThrow(/invalid focus regex/);
      await expect(engine.top(q(`${CPU}{service_name="nobody"}`), { filter: '[' })).rejects.toThrow(InputError);
    });

    it('rejects a range that ends before it starts', async () => {
      await expect(engine.flamegraph(q(CPU, T, T - 1))).rejects.toThrow(InputError);
      await expect(engine.top(q(CPU, T, T - 1))).rejects.toThrow(/ends before it starts/);
    });

    it('answers the top table with recursion counted once', async () => {
      const top = await engine.top(q(`${CPU}{service_name="app"}`, T, T + MIN), { sort: 'total', limit: 3 });
      expect(top).toEqual({
        total: 77,
        entries: [
          { name: 'main', self: 0, total: 77 },
          { name: 'work', self: 10, total: 60 },
          { name: 'hash', self: 34, total: 34 },
        ],
      });
      const rec = await engine.top(q(`${CPU}{service_name="app"}`, T, T + MIN), { filter: '^rec$' });
      expect(rec.entries).toEqual([{ name: 'rec', self: 0, total: 4 }]);
    });

    it('diffs two time ranges of one service', async () => {
      const { tree, table } = await engine.diff(
        q(`${CPU}{service_name="app"}`, T, T + MIN),
        q(`${CPU}{service_name="app"}`, T + 5 * MIN, T + 6 * MIN),
      );
      expect([tree.baseTotal, tree.headTotal]).toEqual([77, 100]);
      expect(table.entries[0]).toMatchObject({ name: 'hash', baseSelf: 34, headSelf: 90, selfChange: 56 });
      await expect(engine.diff(q(CPU), q('memory:alloc_space:bytes:space:bytes'))).rejects.toThrow(/different profile types/);
    });

    it('shows one function sandwiched between its callers and callees', async () => {
      const s = await engine.sandwich(q(`${CPU}{service_name="app"}`, T, T + MIN), 'work');
      expect(shape(s.callers)).toEqual({ 'work 60/0': ['main 60/60'] });
      expect(shape(s.callees)).toEqual({ 'work 60/10': ['hash 30/30', 'memcpy 20/20'] });
    });

    it('returns series by group, heaviest first, limited', async () => {
      const all = await engine.series(q(CPU), MIN, ['service_name'], 'sum');
      expect(all.map((s) => s.labels)).toEqual([[{ name: 'service_name', value: 'app' }], [{ name: 'service_name', value: 'other' }]]);
      const app = all[0]!;
      expect(app.points.reduce((a, p) => a + p.value, 0)).toBe(177);
      expect(app.points.map((p) => p.value).sort((a, b) => a - b)).toEqual([77, 100]);
      // A label named twice groups once (URLs repeat parameters easily): labels stay a valid label set.
      expect(await engine.series(q(CPU), MIN, ['service_name', 'service_name'], 'sum')).toEqual(all);
      const one = await engine.series(q(CPU), MIN, ['service_name'], 'sum', 1);
      expect(one).toHaveLength(1);
      await expect(engine.series(q(CPU), 0)).rejects.toThrow(/step must be positive/);
      await expect(engine.series(q(CPU, 0, T), 1000)).rejects.toThrow(/limit 11000/);
      // A step past what a 64-bit millisecond count holds is a user error, not an engine failure.
      await expect(engine.series(q(CPU), Infinity)).rejects.toThrow(InputError);
      await expect(engine.series(q(CPU), 1e300)).rejects.toThrow(/step/);
    });

    it('merges into a Profile that pprof export encodes and decodes with the same numbers', async () => {
      const p = await engine.mergeProfile(q(`${CPU}{service_name="app"}`, T, T + MIN));
      expect(p.type.name).toBe('process_cpu');
      expect(p.labels).toEqual([{ name: 'service_name', value: 'app' }]);
      expect(profileTotal(p)).toBe(77);
      const back = decodePprof(encodePprof(p));
      expect(back.reduce((a, x) => a + profileTotal(x), 0)).toBe(77);
    });
  });
}

engineSuite('the in-memory store', memoryStore);

const dir = mkdtempSync(path.join(tmpdir(), 'kiln-query-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
engineSuite('DuckDB', () => openStore(dir, { threads: 1 }));
