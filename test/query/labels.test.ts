import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import { parseProfileType, profileTypeId } from '../../src/model/index.js';
import { QueryEngine } from '../../src/query/engine.js';
import type { LabelQuery } from '../../src/query/labels.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';
import { profileOf } from './fixtures.js';

const T = Date.UTC(2024, 4, 1, 12);
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
const ALLOC = 'memory:alloc_space:bytes:space:bytes';
const INUSE = 'memory:inuse_space:bytes:space:bytes';

const dir = mkdtempSync(path.join(tmpdir(), 'kiln-labels-'));
let store: Store;
let engine: QueryEngine;
const listing = (...selectors: string[]): LabelQuery => ({ tenant: 'acme', selectors, from: T - 60_000, to: T + 60_000 });

beforeAll(async () => {
  store = await openStore(dir, { threads: 1 });
  engine = new QueryEngine(store);
  await store.write('acme', [
    profileOf({ 'main;work': 10 }, { labels: { service_name: 'api', pod: 'api-1' }, timeMs: T }),
    profileOf({ 'main;work': 10 }, { labels: { service_name: 'api', pod: 'api-2' }, timeMs: T }),
    profileOf({ 'main;query': 7 }, { labels: { service_name: 'db', pod: 'db-1', disk: 'ssd' }, timeMs: T }),
    profileOf({ 'main;alloc': 100 }, { labels: { service_name: 'api', pod: 'api-1', heap: 'young' }, timeMs: T, type: parseProfileType(ALLOC) }),
    profileOf({ 'main;alloc': 50 }, { labels: { service_name: 'cache' }, timeMs: T, type: parseProfileType(INUSE) }),
  ]);
  await store.write('globex', [profileOf({ 'secret': 1 }, { labels: { service_name: 'hidden', team: 'x' }, timeMs: T })]);
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('profile types by selector', () => {
  it('lists every type with data when nothing selects, and only the types of matching series otherwise', async () => {
    expect((await engine.profileTypes(listing())).map(profileTypeId)).toEqual([CPU, ALLOC, INUSE].sort());
    expect((await engine.profileTypes(listing('{service_name="db"}'))).map(profileTypeId)).toEqual([CPU]);
    expect((await engine.profileTypes(listing('{service_name="api"}'))).map(profileTypeId)).toEqual([ALLOC, CPU].sort());
  });

  it('keeps tenants apart', async () => {
    expect(await engine.labelValues({ ...listing(), tenant: 'globex' }, 'service_name')).toEqual(['hidden']);
    expect(await engine.labelValues(listing(), 'service_name')).not.toContain('hidden');
  });
});

describe('label names and values across types', () => {
  it('a selector without a type searches every type', async () => {
    expect(await engine.labelNames(listing())).toEqual(['disk', 'heap', 'pod', 'service_name']);
    expect(await engine.labelValues(listing('{service_name="api"}'), 'pod')).toEqual(['api-1', 'api-2']);
  });

  it('a selector with a type name only (`memory{…}`, `{__name__="memory"}`) searches every type of that name', async () => {
    expect(await engine.labelValues(listing('memory'), 'service_name')).toEqual(['api', 'cache']);
    expect(await engine.labelValues(listing('{__name__="memory"}'), 'service_name')).toEqual(['api', 'cache']);
    expect(await engine.labelNames(listing('memory{service_name="api"}'))).toEqual(['heap', 'pod', 'service_name']);
    expect(await engine.labelValues(listing('{__name__="process_cpu"}'), 'service_name')).toEqual(['api', 'db']);
  });

  it('a type pinned by __profile_type__, by __name__ with a full id, or before the braces, selects that type only', async () => {
    for (const text of [`{__profile_type__="${ALLOC}"}`, `{__name__="${ALLOC}"}`, `${ALLOC}{}`, ALLOC]) {
      expect(await engine.labelValues(listing(text), 'service_name'), text).toEqual(['api']);
    }
  });

  it('type labels take patterns and negations like any label', async () => {
    expect(await engine.labelValues(listing('{__name__=~"mem.*", __type__!="alloc_space"}'), 'service_name')).toEqual(['cache']);
    expect(await engine.labelValues(listing('{__profile_type__!~"memory:.*"}'), 'service_name')).toEqual(['api', 'db']);
  });

  it('answers the union over several selectors', async () => {
    expect(await engine.labelValues(listing('{service_name="db"}', 'memory{service_name="cache"}'), 'service_name')).toEqual(['cache', 'db']);
  });

  it('values of a private type label come from the types of the selected series', async () => {
    expect(await engine.labelValues(listing('{service_name="db"}'), '__profile_type__')).toEqual([CPU]);
    expect(await engine.labelValues(listing('{service_name="api"}'), '__name__')).toEqual(['memory', 'process_cpu']);
    expect(await engine.labelValues(listing('memory'), '__type__')).toEqual(['alloc_space', 'inuse_space']);
  });

  it('a selector that does not parse is an InputError, before the store is asked', async () => {
    await expect(engine.labelNames(listing('{service_name="api"'))).rejects.toThrow(InputError);
    await expect(engine.labelNames(listing('{__profile_type__="not-a-type"}'))).rejects.toThrow(/is not name:sample_type/);
  });
});

describe('series', () => {
  it('each distinct label set once, with its type labels; label_names keeps only those', async () => {
    const sets = await engine.seriesLabels(listing('{service_name="api"}'), ['service_name', '__profile_type__']);
    expect(sets.map((s) => Object.fromEntries(s.map((l) => [l.name, l.value])))).toEqual(
      expect.arrayContaining([
        { service_name: 'api', __profile_type__: CPU },
        { service_name: 'api', __profile_type__: ALLOC },
      ]),
    );
    expect(sets).toHaveLength(2);
    const all = await engine.seriesLabels(listing('{disk="ssd"}'));
    expect(all).toEqual([
      [
        { name: '__name__', value: 'process_cpu' },
        { name: '__period_type__', value: 'cpu' },
        { name: '__period_unit__', value: 'nanoseconds' },
        { name: '__profile_type__', value: CPU },
        { name: '__type__', value: 'cpu' },
        { name: '__unit__', value: 'nanoseconds' },
        { name: 'disk', value: 'ssd' },
        { name: 'pod', value: 'db-1' },
        { name: 'service_name', value: 'db' },
      ],
    ]);
  });
});
