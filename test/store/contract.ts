import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Labels, Profile } from '../../src/model/index.js';
import { CPU_TYPE, DictionaryBuilder, InputError, frameNames, profileTypeId, seriesId } from '../../src/model/index.js';
import type { Store } from '../../src/store/store.js';
import { OTHER_STACK_ID } from '../../src/store/store.js';
import { ALLOC_TYPE, anyType, DAY, HOUR, MINUTE, T0, folded, freshTenant, labelsOf, mergedFolded, selector } from './fixtures.js';

/**
 * The Store contract, engine-agnostic: every engine runs this suite. `open` must open the *same*
 * storage each time (tests close and reopen it to check durability); tests isolate themselves by
 * writing under a tenant of their own, so the storage may be shared by the whole suite.
 */
export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let tenant: string;
    const hour = { from: T0 - HOUR, to: T0 + HOUR };

    beforeEach(async () => {
      store = await open();
      tenant = freshTenant();
    });
    afterEach(async () => {
      await store.close();
    });

    describe('write and merge', () => {
      it('sums values by stack over the matching series and resolves them to the written frames', async () => {
        const res = await store.write(tenant, [
          folded({ labels: { service_name: 'checkout' }, timeMs: T0, samples: { 'main;handle;parse': 30, 'main;handle': 10 } }),
          folded({ labels: { service_name: 'checkout' }, timeMs: T0 + 10_000, samples: { 'main;handle;parse': 5, 'main;gc': 7 } }),
        ]);
        expect(res).toEqual({ profiles: 2, rows: 4 });
        expect(await mergedFolded(store, tenant, selector(), hour)).toEqual({ 'main;handle;parse': 35, 'main;handle': 10, 'main;gc': 7 });
      });

      it('sums a stack listed twice in one profile and ignores zero values', async () => {
        const b = new DictionaryBuilder();
        const p = folded({ labels: { service_name: 'a' }, timeMs: T0, samples: { 'x;y': 2, 'x;z': 0 }, dict: b });
        const twice: Profile = { ...p, stacks: [...p.stacks, p.stacks[0]!], values: [...p.values, 3] };
        await store.write(tenant, [twice]);
        expect(await mergedFolded(store, tenant, selector(), hour)).toEqual({ 'x;y': 5 });
      });

      it('keeps exact integer values at nanosecond scale', async () => {
        const period = 52_631_578;
        await store.write(tenant, [folded({ labels: { service_name: 'a' }, timeMs: T0, samples: { 'a;b': 123 * period, 'a;c': 1 * period, 'a;d': 7 } })]);
        expect(await mergedFolded(store, tenant, selector(), hour)).toEqual({ 'a;b': 123 * period, 'a;c': period, 'a;d': 7 });
      });

      it('keeps fractional values', async () => {
        await store.write(tenant, [folded({ labels: { service_name: 'a' }, timeMs: T0, samples: { 'a;b': 1.5, 'a;c': 0.25 } })]);
        expect(await mergedFolded(store, tenant, selector(), hour)).toEqual({ 'a;b': 1.5, 'a;c': 0.25 });
      });

      it('merges over the widest range a date can name, at the cost of the days stored', async () => {
        await store.write(tenant, [folded({ labels: { service_name: 'a' }, timeMs: T0, samples: { 'a;b': 2 } })]);
        // ±8.64e15 ms are the ends of JavaScript dates: 200 million calendar days, of which one holds data.
        expect(await mergedFolded(store, tenant, selector(), { from: -8.64e15, to: 8.64e15 })).toEqual({ 'a;b': 2 });
      });

      it('merges only profiles inside [from, to)', async () => {
        await store.write(tenant, [
          folded({ labels: { service_name: 'a' }, timeMs: T0 - MINUTE, samples: { before: 1 } }),
          folded({ labels: { service_name: 'a' }, timeMs: T0, samples: { start: 2 } }),
          folded({ labels: { service_name: 'a' }, timeMs: T0 + MINUTE - 1, samples: { inside: 4 } }),
          folded({ labels: { service_name: 'a' }, timeMs: T0 + MINUTE, samples: { end: 8 } }),
        ]);
        expect(await mergedFolded(store, tenant, selector(), { from: T0, to: T0 + MINUTE })).toEqual({ start: 2, inside: 4 });
        expect(await store.mergeStacks({ tenant, selector: selector(), from: T0 + 2 * MINUTE, to: T0 + HOUR })).toEqual([]);
      });

      it('merges across day boundaries', async () => {
        const midnight = Date.UTC(2026, 0, 11);
        await store.write(tenant, [
          folded({ labels: { service_name: 'a' }, timeMs: midnight - 1, samples: { 'a;b': 1 } }),
          folded({ labels: { service_name: 'a' }, timeMs: midnight, samples: { 'a;b': 2 } }),
          folded({ labels: { service_name: 'a' }, timeMs: midnight + DAY + 5, samples: { 'a;c': 4 } }),
        ]);
        expect(await mergedFolded(store, tenant, selector(), { from: midnight - HOUR, to: midnight + 2 * DAY })).toEqual({ 'a;b': 3, 'a;c': 4 });
      });

      it('writes an empty batch and a profile without samples as nothing', async () => {
        expect(await store.write(tenant, [])).toEqual({ profiles: 0, rows: 0 });
        expect(await store.write(tenant, [folded({ labels: { service_name: 'a' }, timeMs: T0, samples: {} })])).toEqual({ profiles: 0, rows: 0 });
        expect(await store.series({ tenant, selector: selector(), ...hour })).toEqual([]);
      });
    });

    describe('selectors and series', () => {
      beforeEach(async () => {
        await store.write(tenant, [
          folded({ labels: { service_name: 'checkout', env: 'prod', pod: 'c-1' }, timeMs: T0, samples: { 'checkout;a': 1 } }),
          folded({ labels: { service_name: 'checkout', env: 'staging', pod: 'c-2' }, timeMs: T0, samples: { 'checkout;b': 2 } }),
          folded({ labels: { service_name: 'cart', env: 'prod' }, timeMs: T0, samples: { 'cart;c': 4 } }),
          folded({ labels: { service_name: 'checkout', env: 'prod', pod: 'c-1' }, timeMs: T0, samples: { 'alloc;x': 1000 }, type: ALLOC_TYPE }),
        ]);
      });

      const totalOf = async (matchers: Parameters<typeof selector>[0], type = CPU_TYPE) => {
        const m = await store.mergeStacks({ tenant, selector: selector(matchers, type), ...hour });
        return m.reduce((s, x) => s + x.value, 0);
      };

      it('matches =, !=, =~, !~ and treats a missing label as empty, per profile type', async () => {
        expect(await totalOf([])).toBe(7);
        expect(await totalOf([{ name: 'service_name', op: '=', value: 'checkout' }])).toBe(3);
        expect(await totalOf([{ name: 'env', op: '!=', value: 'prod' }])).toBe(2);
        expect(await totalOf([{ name: 'service_name', op: '=~', value: 'check.*' }])).toBe(3);
        expect(await totalOf([{ name: 'service_name', op: '=~', value: 'check' }])).toBe(0); // anchored
        expect(await totalOf([{ name: 'service_name', op: '!~', value: 'ca.*' }])).toBe(3);
        expect(await totalOf([{ name: 'pod', op: '=', value: '' }])).toBe(4);
        expect(await totalOf([], ALLOC_TYPE)).toBe(1000);
        expect(await totalOf([{ name: 'nope', op: '=', value: 'x' }])).toBe(0);
      });

      it('lists matching series with their content ids, type and labels', async () => {
        const s = await store.series({ tenant, selector: selector([{ name: 'env', op: '=', value: 'prod' }]), ...hour });
        // Order is the engine's choice; compare as a set.
        const asSet = (ls: Labels[]) => ls.map((l) => JSON.stringify(l)).sort();
        expect(asSet(s.map((x) => x.labels))).toEqual(
          asSet([labelsOf({ service_name: 'cart', env: 'prod' }), labelsOf({ service_name: 'checkout', env: 'prod', pod: 'c-1' })]),
        );
        for (const x of s) {
          expect(x.profileType).toEqual(CPU_TYPE);
          expect(x.id).toBe(seriesId(tenant, CPU_TYPE, x.labels));
        }
      });

      it('lists label names and values, sorted and limited to the selection and range', async () => {
        expect(await store.labelNames({ tenant, selector: selector(), ...hour })).toEqual(['env', 'pod', 'service_name']);
        expect(await store.labelNames({ tenant, selector: selector([{ name: 'service_name', op: '=', value: 'cart' }]), ...hour })).toEqual([
          'env',
          'service_name',
        ]);
        expect(await store.labelValues({ tenant, selector: selector(), ...hour }, 'service_name')).toEqual(['cart', 'checkout']);
        expect(await store.labelValues({ tenant, selector: selector([{ name: 'env', op: '=', value: 'staging' }]), ...hour }, 'pod')).toEqual(['c-2']);
        expect(await store.labelValues({ tenant, selector: selector(), ...hour }, 'missing')).toEqual([]);
        const later = { from: T0 + HOUR, to: T0 + 2 * HOUR };
        expect(await store.labelNames({ tenant, selector: selector(), ...later })).toEqual([]);
        expect(await store.series({ tenant, selector: selector(), ...later })).toEqual([]);
      });

      it('lists the profile types with data in the range', async () => {
        expect((await store.profileTypes({ tenant, selector: anyType(), ...hour })).map(profileTypeId)).toEqual([profileTypeId(ALLOC_TYPE), profileTypeId(CPU_TYPE)].sort());
        expect(await store.profileTypes({ tenant, selector: anyType(), from: T0 + HOUR, to: T0 + 2 * HOUR })).toEqual([]);
      });
    });

    describe('tenants', () => {
      it('never shows one tenant the series, labels, types or samples of another', async () => {
        const other = freshTenant();
        await store.write(tenant, [folded({ labels: { service_name: 'mine' }, timeMs: T0, samples: { 'a;b': 1 } })]);
        await store.write(other, [folded({ labels: { service_name: 'theirs' }, timeMs: T0, samples: { 'a;b': 100 } })]);
        expect(await mergedFolded(store, tenant, selector(), hour)).toEqual({ 'a;b': 1 });
        expect(await mergedFolded(store, other, selector(), hour)).toEqual({ 'a;b': 100 });
        expect(await store.labelValues({ tenant, selector: selector(), ...hour }, 'service_name')).toEqual(['mine']);
        expect((await store.series({ tenant: freshTenant(), selector: selector(), ...hour })).length).toBe(0);
        expect(await store.profileTypes({ tenant: freshTenant(), selector: anyType(), ...hour })).toEqual([]);
      });
    });

    describe('concurrent writes', () => {
      it('gives each concurrent call its own result, and a bad call fails alone', async () => {
        const calls = Array.from({ length: 12 }, (_, i) =>
          store.write(tenant, [folded({ labels: { service_name: 'a', pod: `p${i % 3}` }, timeMs: T0 + i * 1000, samples: { [`a;f${i}`]: i + 1, 'a;shared': 1 } })]),
        );
        const bad = store.write(tenant, [{ ...folded({ labels: { service_name: 'a' }, timeMs: T0, samples: { 'a;b': 1 } }), values: [Number.NaN] }]);
        await expect(bad).rejects.toBeInstanceOf(InputError);
        const results = await Promise.all(calls);
        expect(results).toEqual(Array.from({ length: 12 }, () => ({ profiles: 1, rows: 2 })));
        const merged = await mergedFolded(store, tenant, selector(), hour);
        expect(merged['a;shared']).toBe(12);
        expect(merged['a;f11']).toBe(12);
        expect(Object.keys(merged)).toHaveLength(13);
      });
    });

    describe('idempotent replay', () => {
      it('stores a replayed profile once, in the same call or a later one', async () => {
        const p = folded({ labels: { service_name: 'a' }, timeMs: T0, samples: { 'a;b': 3, 'a;c': 4 } });
        expect(await store.write(tenant, [p, p])).toEqual({ profiles: 1, rows: 2 });
        const rowsBefore = (await store.stats()).rows;
        const again = folded({ labels: { service_name: 'a' }, timeMs: T0, samples: { 'a;c': 4, 'a;b': 3 } });
        expect(await store.write(tenant, [again])).toEqual({ profiles: 0, rows: 0 });
        expect((await store.stats()).rows).toBe(rowsBefore);
        expect(await mergedFolded(store, tenant, selector(), hour)).toEqual({ 'a;b': 3, 'a;c': 4 });
      });

      it('adds up two different profiles of one series at the same instant', async () => {
        await store.write(tenant, [folded({ labels: { service_name: 'a' }, timeMs: T0, samples: { 'a;b': 3 } })]);
        await store.write(tenant, [folded({ labels: { service_name: 'a' }, timeMs: T0, samples: { 'a;b': 5 } })]);
        expect(await mergedFolded(store, tenant, selector(), hour)).toEqual({ 'a;b': 8 });
      });
    });

    describe('bad input', () => {
      it('rejects the whole call with an InputError and stores nothing of it', async () => {
        const good = folded({ labels: { service_name: 'a' }, timeMs: T0, samples: { 'a;b': 1 } });
        const cases: [Profile, RegExp][] = [
          [{ ...good, values: [Number.NaN] }, /finite/],
          [{ ...good, stacks: [7] }, /stack 7/],
          [{ ...good, values: [1, 2] }, /1 stacks but 2 values/],
          [{ ...good, timeMs: Number.POSITIVE_INFINITY }, /time/],
          [{ ...good, timeMs: -1 }, /time/],
          [{ ...good, durationNs: 1e20 }, /duration/],
          [{ ...good, labels: [{ name: 'bad-name', value: 'x' }] }, /invalid label name/],
          [{ ...good, dict: { ...good.dict, stacks: [[99]] } }, /location 99/],
          [{ ...good, dict: { ...good.dict, locations: good.dict.locations.map((l) => ({ ...l, lines: [{ function: 0, line: Number.NaN }] })) } }, /line number/],
          [{ ...good, dict: { ...good.dict, locations: good.dict.locations.map((l) => ({ ...l, lines: [{ function: 0, line: 2.5 }] })) } }, /line number 2.5/],
          [{ ...good, dict: { ...good.dict, locations: good.dict.locations.map((l) => ({ ...l, lines: [{ function: 0, line: 1e300 }] })) } }, /line number/],
          // Indexes must be whole: a fractional one passes a bounds check yet points at no entry.
          [{ ...good, dict: { ...good.dict, stacks: [[0.5]] } }, /location 0.5/],
          [{ ...good, dict: { ...good.dict, locations: good.dict.locations.map((l) => ({ ...l, lines: [{ function: 0.5, line: 1 }] })) } }, /function 0.5/],
          [{ ...good, dict: { ...good.dict, mappings: [{ binary: 'app', buildId: '' }], locations: good.dict.locations.map((l) => ({ ...l, mapping: 0.5 })) } }, /mapping 0.5/],
          [{ ...good, dict: { ...good.dict, locations: good.dict.locations.map((l) => ({ ...l, mapping: -2 })) } }, /mapping -2/],
        ];
        for (const [bad, message] of cases) {
          const err = await store.write(tenant, [good, bad]).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(InputError);
          expect((err as Error).message).toMatch(message);
        }
        await expect(store.write('', [good])).rejects.toThrow(/tenant/);
        expect(await store.series({ tenant, selector: selector(), ...hour })).toEqual([]);
        expect(await store.mergeStacks({ tenant, selector: selector(), ...hour })).toEqual([]);
      });
    });

    describe('limited and grouped merges', () => {
      beforeEach(async () => {
        await store.write(tenant, [
          folded({ labels: { service_name: 'a', pod: 'p1' }, timeMs: T0, samples: { 'm;w;hot': 50, 'm;w;warm': 20, 'm;cold1': 3, 'm;cold2': 2 } }),
          folded({ labels: { service_name: 'a', pod: 'p2' }, timeMs: T0 + 1000, samples: { 'm;w;hot': 10, 'm;cold3': 1 } }),
          folded({ labels: { service_name: 'b' }, timeMs: T0, samples: { 'x;y': 7, 'x;z': 5, 'x;q': 1 } }),
        ]);
      });

      it('keeps the heaviest stacks, heaviest first, and sums the rest into one OTHER_STACK_ID row', async () => {
        const rows = await store.mergeStacks({ tenant, selector: selector([{ name: 'service_name', op: '=', value: 'a' }]), ...hour, limit: 2 });
        expect(rows.map((r) => r.value)).toEqual([60, 20, 6]);
        expect(rows[2]!.stackId).toBe(OTHER_STACK_ID);
        expect(rows.slice(0, 2).every((r) => r.stackId !== OTHER_STACK_ID)).toBe(true);
        // The total is the unlimited total; symbols resolve for the kept stacks and skip the remainder.
        const all = await store.mergeStacks({ tenant, selector: selector([{ name: 'service_name', op: '=', value: 'a' }]), ...hour });
        expect(all.reduce((a, r) => a + r.value, 0)).toBe(86);
        const resolved = await store.resolveStacks(tenant, rows.map((r) => r.stackId));
        expect(resolved.stacks.size).toBe(2);
      });

      it('adds no remainder row when nothing was cut', async () => {
        const rows = await store.mergeStacks({ tenant, selector: selector([{ name: 'service_name', op: '=', value: 'b' }]), ...hour, limit: 3 });
        expect(rows.map((r) => r.value).sort((x, y) => y - x)).toEqual([7, 5, 1]);
        expect(rows.some((r) => r.stackId === OTHER_STACK_ID)).toBe(false);
      });

      it('merges per label group in one call, each group limited on its own', async () => {
        const groups = await store.mergeStacksGrouped({ tenant, selector: selector(), ...hour, groupBy: ['service_name'], limit: 1 });
        const byService = Object.fromEntries(groups.map((g) => [g.labels.map((l) => l.value).join(), g.stacks.map((r) => r.value)]));
        expect(byService).toEqual({ a: [60, 26], b: [7, 6] });
        const byPod = await store.mergeStacksGrouped({ tenant, selector: selector([{ name: 'service_name', op: '=', value: 'a' }]), ...hour, groupBy: ['pod'] });
        expect(Object.fromEntries(byPod.map((g) => [g.labels.map((l) => l.value).join(), g.stacks.reduce((x, r) => x + r.value, 0)]))).toEqual({ p1: 75, p2: 11 });
      });

      it('filters profile types, label names and values by the selector (an access scope applies to them)', async () => {
        const scoped = anyType([{ name: 'service_name', op: '=', value: 'b' }]);
        expect((await store.profileTypes({ tenant, selector: scoped, ...hour })).map(profileTypeId)).toEqual([profileTypeId(CPU_TYPE)]);
        expect(await store.profileTypes({ tenant, selector: anyType([{ name: 'service_name', op: '=', value: 'nobody' }]), ...hour })).toEqual([]);
        expect(await store.labelNames({ tenant, selector: scoped, ...hour })).toEqual(['service_name']);
        expect(await store.labelValues({ tenant, selector: anyType([{ name: 'pod', op: '=~', value: 'p.*' }]), ...hour }, 'service_name')).toEqual(['a']);
      });

      it('stops a read whose signal aborted, with the reason', async () => {
        const ac = new AbortController();
        ac.abort(new Error('deadline of 1 ms passed'));
        await expect(store.mergeStacks({ tenant, selector: selector(), ...hour, signal: ac.signal })).rejects.toThrow(/deadline/);
        await expect(store.labelNames({ tenant, selector: selector(), ...hour, signal: ac.signal })).rejects.toThrow(/deadline/);
      });

      it('reports itself healthy', async () => {
        await expect(store.health()).resolves.toBeUndefined();
      });
    });

    describe('time series points', () => {
      beforeEach(async () => {
        const ps: Profile[] = [];
        for (let i = 0; i < 6; i++) {
          ps.push(folded({ labels: { service_name: 'a', pod: 'p1' }, timeMs: T0 + i * 10_000, samples: { 'a;b': 10, 'a;c': i } }));
          ps.push(folded({ labels: { service_name: 'a', pod: 'p2' }, timeMs: T0 + i * 10_000, samples: { 'a;b': 1 } }));
        }
        ps.push(folded({ labels: { service_name: 'b' }, timeMs: T0, samples: { 'x;y': 1000 } }));
        await store.write(tenant, ps);
      });
      const q = { from: T0, to: T0 + MINUTE, stepMs: 30_000 };

      it('buckets by step from the range start and sums per bucket', async () => {
        const out = await store.seriesPoints({ tenant, selector: selector([{ name: 'service_name', op: '=', value: 'a' }]), ...q, groupBy: [], aggregation: 'sum' });
        expect(out).toEqual([
          {
            labels: [],
            points: [
              { timeMs: T0, value: 3 * 11 + (0 + 1 + 2) },
              { timeMs: T0 + 30_000, value: 3 * 11 + (3 + 4 + 5) },
            ],
          },
        ]);
      });

      it('groups by label values and averages per profile', async () => {
        const out = await store.seriesPoints({ tenant, selector: selector(), ...q, groupBy: ['pod'], aggregation: 'avg' });
        const byPod = Object.fromEntries(out.map((s) => [JSON.stringify(s.labels), s.points]));
        expect(byPod[JSON.stringify(labelsOf({ pod: 'p1' }))]).toEqual([
          { timeMs: T0, value: 11 },
          { timeMs: T0 + 30_000, value: 14 },
        ]);
        expect(byPod[JSON.stringify(labelsOf({ pod: 'p2' }))]).toEqual([
          { timeMs: T0, value: 1 },
          { timeMs: T0 + 30_000, value: 1 },
        ]);
        // Series without the label form their own group with no labels.
        expect(byPod['[]']).toEqual([{ timeMs: T0, value: 1000 }]);
        expect(out).toHaveLength(3);
      });
    });

    describe('resolveStacks', () => {
      it('returns mappings, addresses, inlined frames and line numbers as written', async () => {
        const b = new DictionaryBuilder();
        const libc = b.mapping('/usr/lib/libc.so.6', 'abc123');
        const node = b.mapping('/usr/bin/node', '');
        const leaf = b.location(libc, 0x1234n, []); // unsymbolized
        const inlined = b.location(node, 0x10n, [
          { function: b.function('inner', '_Z5innerv', 'a.cc'), line: 12 },
          { function: b.function('outer', '', 'a.cc'), line: 40 },
        ]);
        const root = b.location(-1, 0n, [{ function: b.function('main'), line: 0 }]);
        const stack = b.stack([leaf, inlined, root]);
        const p: Profile = { ...folded({ labels: { service_name: 'a' }, timeMs: T0, samples: {} }), dict: b.dict, stacks: [stack], values: [9] };
        await store.write(tenant, [p]);
        const [merged] = await store.mergeStacks({ tenant, selector: selector(), ...hour });
        const r = await store.resolveStacks(tenant, [merged!.stackId, 12345n]);
        expect([...r.stacks.keys()]).toEqual([merged!.stackId]); // unknown ids are left out
        const d = r.dict;
        const locs = d.stacks[r.stacks.get(merged!.stackId)!]!.map((i) => d.locations[i]!);
        expect(locs).toHaveLength(3);
        expect(d.mappings[locs[0]!.mapping]).toEqual({ binary: '/usr/lib/libc.so.6', buildId: 'abc123' });
        expect(locs[0]!.address).toBe(0x1234n);
        expect(frameNames(d, d.stacks[0]![0]!)).toEqual(['libc.so.6+0x1234']);
        expect(locs[1]!.lines.map((l) => ({ ...d.functions[l.function], line: l.line }))).toEqual([
          { name: 'inner', systemName: '_Z5innerv', file: 'a.cc', line: 12 },
          { name: 'outer', systemName: '', file: 'a.cc', line: 40 },
        ]);
        expect(d.mappings[locs[1]!.mapping]!.binary).toBe('/usr/bin/node');
        expect(locs[2]!.mapping).toBe(-1);
        expect(d.functions[locs[2]!.lines[0]!.function]!.name).toBe('main');
        expect(await store.resolveStacks(tenant, [])).toEqual({ dict: { mappings: [], functions: [], locations: [], stacks: [] }, stacks: new Map() });
      });

      it('resolves stacks shared by profiles written in different calls to the same ids', async () => {
        await store.write(tenant, [folded({ labels: { service_name: 'a' }, timeMs: T0, samples: { 'm;f;g': 1, 'm;f': 2 } })]);
        await store.write(tenant, [folded({ labels: { service_name: 'b' }, timeMs: T0, samples: { 'm;f;g': 4, 'm;h': 8 } })]);
        const merged = await store.mergeStacks({ tenant, selector: selector(), ...hour });
        expect(merged).toHaveLength(3);
        expect(await mergedFolded(store, tenant, selector(), hour)).toEqual({ 'm;f;g': 5, 'm;f': 2, 'm;h': 8 });
      });
    });

    describe('retention', () => {
      it('drops whole days older than the cut-off and keeps the partial day', async () => {
        const day1 = Date.UTC(2001, 4, 1);
        const day2 = day1 + DAY;
        const day3 = day2 + DAY;
        await store.write(tenant, [
          folded({ labels: { service_name: 'old' }, timeMs: day1 + HOUR, samples: { 'a;old': 1 } }),
          folded({ labels: { service_name: 'mixed' }, timeMs: day2 + HOUR, samples: { 'a;mid': 2 } }),
          folded({ labels: { service_name: 'mixed' }, timeMs: day3 + HOUR, samples: { 'a;new': 4 } }),
        ]);
        const all = { from: day1, to: day3 + DAY };
        const before = await store.stats();
        const dropped = await store.dropBefore(day2 + HOUR * 5);
        expect(dropped).toBeGreaterThanOrEqual(1);
        expect(await mergedFolded(store, tenant, selector(), all)).toEqual({ 'a;mid': 2, 'a;new': 4 });
        expect(await store.labelValues({ tenant, selector: selector(), ...all }, 'service_name')).toEqual(['mixed']);
        const after = await store.stats();
        expect(after.rows).toBe(before.rows - 1);
        expect(after.series).toBe(before.series - 1);
        expect(await store.dropBefore(day2 + HOUR * 5)).toBe(0);
      });
    });

    describe('durability', () => {
      it('keeps everything acknowledged across close and reopen', async () => {
        await store.write(tenant, [
          folded({ labels: { service_name: 'a', env: 'prod' }, timeMs: T0, samples: { 'a;b': 3 } }),
          folded({ labels: { service_name: 'a', env: 'prod' }, timeMs: T0 + 10_000, samples: { 'a;c': 4 }, type: ALLOC_TYPE }),
        ]);
        await store.close();
        store = await open();
        expect(await mergedFolded(store, tenant, selector(), hour)).toEqual({ 'a;b': 3 });
        expect(await store.labelNames({ tenant, selector: selector(), ...hour })).toEqual(['env', 'service_name']);
        expect((await store.profileTypes({ tenant, selector: anyType(), ...hour })).length).toBe(2);
        // Replays are still recognised after the restart, and new stacks still get fresh keys.
        expect(await store.write(tenant, [folded({ labels: { service_name: 'a', env: 'prod' }, timeMs: T0, samples: { 'a;b': 3 } })])).toEqual({
          profiles: 0,
          rows: 0,
        });
        await store.write(tenant, [folded({ labels: { service_name: 'a', env: 'prod' }, timeMs: T0 + 20_000, samples: { 'a;d': 5, 'a;b': 1 } })]);
        expect(await mergedFolded(store, tenant, selector(), hour)).toEqual({ 'a;b': 4, 'a;d': 5 });
      });
    });

    describe('span samples', () => {
      const SPAN_A = 0xabcn;
      const SPAN_B = 0xfedcba9876543210n; // above 2^63: stored as an unsigned 64-bit id
      const withSpans = (timeMs: number): Profile => {
        const p = folded({ labels: { service_name: 'a' }, timeMs, samples: { 'a;b': 10, 'a;c': 5, 'a;d': 1 } });
        return { ...p, spans: { spanIds: [SPAN_A, SPAN_A, SPAN_B, SPAN_B], stacks: [p.stacks[0]!, p.stacks[1]!, p.stacks[0]!, p.stacks[2]!], values: [4, 5, 6, 0] } };
      };

      it('merges only the samples recorded inside the given spans, and every sample without a span selection', async () => {
        await store.write(tenant, [
          withSpans(T0),
          folded({ labels: { service_name: 'a' }, timeMs: T0 + 10_000, samples: { 'a;b': 100 } }),
          folded({ labels: { service_name: 'other' }, timeMs: T0, samples: { 'a;b': 1000 } }),
        ]);
        const a = selector([{ name: 'service_name', op: '=', value: 'a' }]);
        expect(await mergedFolded(store, tenant, a, hour, [SPAN_A])).toEqual({ 'a;b': 4, 'a;c': 5 });
        expect(await mergedFolded(store, tenant, a, hour, [SPAN_A, SPAN_B])).toEqual({ 'a;b': 10, 'a;c': 5 });
        expect(await mergedFolded(store, tenant, a, hour, [SPAN_B])).toEqual({ 'a;b': 6 });
        expect(await mergedFolded(store, tenant, a, hour, [0x1n])).toEqual({});
        expect(await mergedFolded(store, tenant, a, { from: T0 + 1, to: T0 + HOUR }, [SPAN_A])).toEqual({});
        // The spans are an index beside the samples: the whole merge is unchanged by them.
        expect(await mergedFolded(store, tenant, a, hour)).toEqual({ 'a;b': 110, 'a;c': 5, 'a;d': 1 });
        expect(await mergedFolded(store, freshTenant(), a, hour, [SPAN_A])).toEqual({});
      });

      it('lists each span of each profile with the sum of its samples, by time then span id', async () => {
        await store.write(tenant, [withSpans(T0 + 10_000), withSpans(T0), folded({ labels: { service_name: 'a' }, timeMs: T0 + 20_000, samples: { 'a;b': 100 } })]);
        const spans = await store.listSpans({ tenant, selector: selector(), ...hour, limit: 10 });
        expect(spans.map((s) => [s.timeMs, s.spanId, s.total])).toEqual([
          [T0, SPAN_A, 9],
          [T0, SPAN_B, 6],
          [T0 + 10_000, SPAN_A, 9],
          [T0 + 10_000, SPAN_B, 6],
        ]);
        expect(spans[0]!.labels).toEqual(labelsOf({ service_name: 'a' }));
        await expect(store.listSpans({ tenant, selector: selector(), ...hour, limit: 3 })).rejects.toThrow(/more than 3 spans/);
      });

      it('keeps span samples across close and reopen, and drops them with their day', async () => {
        const old = Date.UTC(2026, 0, 3, 12);
        await store.write(tenant, [withSpans(T0), withSpans(old)]);
        await store.close();
        store = await open();
        expect(await mergedFolded(store, tenant, selector(), hour, [SPAN_A])).toEqual({ 'a;b': 4, 'a;c': 5 });
        const all = { from: old - HOUR, to: T0 + HOUR };
        expect(await mergedFolded(store, tenant, selector(), all, [SPAN_A])).toEqual({ 'a;b': 8, 'a;c': 10 });
        await store.dropBefore(Date.UTC(2026, 0, 5));
        expect(await mergedFolded(store, tenant, selector(), all, [SPAN_A])).toEqual({ 'a;b': 4, 'a;c': 5 });
      });
    });

    describe('profile listings', () => {
      const write3 = () =>
        store.write(tenant, [
          folded({ labels: { service_name: 'a', pod: 'p1' }, timeMs: T0 + 20_000, samples: { 'a;b': 3, 'a;c': 4 } }),
          folded({ labels: { service_name: 'a', pod: 'p2' }, timeMs: T0, samples: { 'a;b': 10 } }),
          folded({ labels: { service_name: 'b' }, timeMs: T0 + 10_000, samples: { 'x;y': 100 } }),
          folded({ labels: { service_name: 'a', pod: 'p1' }, timeMs: T0 + HOUR, samples: { 'a;b': 1 } }),
        ]);
      const sa = () => selector([{ name: 'service_name', op: '=', value: 'a' }]);

      it('lists the profiles of the selection in the range by time, with their series labels, totals and stable ids', async () => {
        await write3();
        const listed = await store.listProfiles({ tenant, selector: sa(), from: T0, to: T0 + MINUTE, limit: 10 });
        expect(listed.map((p) => ({ labels: p.labels, timeMs: p.timeMs, total: p.total }))).toEqual([
          { labels: labelsOf({ service_name: 'a', pod: 'p2' }), timeMs: T0, total: 10 },
          { labels: labelsOf({ service_name: 'a', pod: 'p1' }), timeMs: T0 + 20_000, total: 7 },
        ]);
        expect(new Set(listed.map((p) => p.id)).size).toBe(2);
        // The same profile is named by the same id on every read (content ids).
        const again = await store.listProfiles({ tenant, selector: sa(), from: T0, to: T0 + MINUTE, limit: 10 });
        expect(again.map((p) => p.id)).toEqual(listed.map((p) => p.id));
        expect(await store.listProfiles({ tenant: freshTenant(), selector: sa(), from: T0, to: T0 + MINUTE, limit: 10 })).toEqual([]);
      });

      it('merges only the profiles named by id, and refuses one whose instant another profile shares', async () => {
        await store.write(tenant, [
          folded({ labels: { service_name: 'a' }, timeMs: T0, samples: { 'a;b': 1, 'a;c': 2 } }),
          folded({ labels: { service_name: 'a' }, timeMs: T0 + 10_000, samples: { 'a;b': 10 } }),
          folded({ labels: { service_name: 'a' }, timeMs: T0 + 20_000, samples: { 'a;x': 100 } }),
          folded({ labels: { service_name: 'a' }, timeMs: T0 + 20_000, samples: { 'a;y': 1000 } }),
        ]);
        const listed = await store.listProfiles({ tenant, selector: selector(), ...hour, limit: 10 });
        const [first, second, third, fourth] = listed.map((p) => p.id);
        expect(await mergedFolded(store, tenant, selector(), hour, undefined, [first!])).toEqual({ 'a;b': 1, 'a;c': 2 });
        expect(await mergedFolded(store, tenant, selector(), hour, undefined, [first!, second!])).toEqual({ 'a;b': 11, 'a;c': 2 });
        expect(await mergedFolded(store, tenant, selector(), hour, undefined, [third!, fourth!])).toEqual({ 'a;x': 100, 'a;y': 1000 });
        await expect(mergedFolded(store, tenant, selector(), hour, undefined, [third!])).rejects.toThrow(/same series and instant/);
        expect(await mergedFolded(store, tenant, selector(), hour, undefined, [0x1234n])).toEqual({});
        // The id selects within the selection and range, never outside them.
        expect(await mergedFolded(store, tenant, selector(), { from: T0 + 1, to: T0 + HOUR }, undefined, [first!])).toEqual({});
        expect(await mergedFolded(store, freshTenant(), selector(), hour, undefined, [first!])).toEqual({});
      });

      it('refuses a listing longer than its limit with an InputError naming the limit', async () => {
        await write3();
        await expect(store.listProfiles({ tenant, selector: anyType(), from: T0, to: T0 + 2 * HOUR, limit: 3 })).rejects.toThrow(/more than 3 profiles/);
        expect(await store.listProfiles({ tenant, selector: anyType(), from: T0, to: T0 + 2 * HOUR, limit: 4 })).toHaveLength(4);
      });

      it('counts the series, profiles and sample rows a selection holds, with a size estimate', async () => {
        await write3();
        const f = await store.footprint({ tenant, selector: sa(), from: T0, to: T0 + 2 * HOUR });
        expect({ series: f.series, profiles: f.profiles, samples: f.samples }).toEqual({ series: 2, profiles: 3, samples: 4 });
        expect(f.sampleBytes).toBeGreaterThan(0);
        expect(await store.footprint({ tenant, selector: sa(), from: T0 + 3 * HOUR, to: T0 + 4 * HOUR })).toEqual({ series: 0, profiles: 0, samples: 0, sampleBytes: 0 });
      });
    });

    describe('stats', () => {
      it('counts series, rows and bytes on disk', async () => {
        const before = await store.stats();
        await store.write(tenant, [
          folded({ labels: { service_name: 'a' }, timeMs: T0, samples: { 'a;b': 1, 'a;c': 2 } }),
          folded({ labels: { service_name: 'b' }, timeMs: T0, samples: { 'a;b': 1 } }),
        ]);
        const after = await store.stats();
        expect(after.series - before.series).toBe(2);
        expect(after.rows - before.rows).toBe(3);
        expect(after.bytesOnDisk).toBeGreaterThan(0);
      });
    });
  });
}
