import { gunzipSync } from 'node:zlib';
import { Profile as PprofProfile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { CPU, ingest, querier } from './helpers.js';

/**
 * How the servers' protocols select data through the query layer: the private type labels Grafana
 * sends (`__profile_type__`, `__name__`), a type named only, the call site of a merge, and filters
 * on a pprof download.
 */
let srv: TestServer;
const T = Date.UTC(2026, 0, 9, 12, 0, 0);
const sec = (ms: number) => String(Math.floor(ms / 1000));
const ALLOC = 'memory:alloc_space:bytes:space:bytes';
const time = { start: String(T - 60_000), end: String(T + 3_600_000) };
const window = { from: sec(T - 60_000), until: sec(T + 3_600_000) };

beforeAll(async () => {
  srv = await startTestServer();
  const put = async (name: string, type: string, body: string) => {
    const res = await ingest(srv.url, { name, format: 'folded', profile_type: type, from: sec(T), until: sec(T + 10_000) }, body);
    expect(res.status, await res.clone().text()).toBe(200);
  };
  await put('api{pod=api-1}', CPU, 'main;handle;parse 10\nmain;handle;render 20\nmain;gc 5\n');
  await put('db{pod=db-1}', CPU, 'main;query 7\n');
  await put('api{pod=api-2}', ALLOC, 'main;handle;alloc 1000\n');
});
afterAll(async () => {
  await srv?.close();
});

describe('label listings: __name__, __profile_type__ and a type named only', () => {
  it('LabelValues selects by the type name in __name__ (as Grafana sends it) or written before the braces', async () => {
    for (const matcher of ['{__name__="process_cpu", service_name="api"}', 'process_cpu{service_name="api"}']) {
      const r = await querier<{ names: string[] }>(srv.url, 'LabelValues', { name: 'pod', matchers: [matcher], ...time });
      expect(r.status, matcher).toBe(200);
      expect(r.body.names, matcher).toEqual(['api-1']);
    }
    const memory = await querier<{ names: string[] }>(srv.url, 'LabelValues', { name: 'pod', matchers: ['{__name__="memory"}'], ...time });
    expect(memory.body.names).toEqual(['api-2']);
  });

  it('LabelValues of __name__ and __profile_type__ come from the types the matchers select', async () => {
    const names = await querier<{ names: string[] }>(srv.url, 'LabelValues', { name: '__name__', matchers: ['{service_name="api"}'], ...time });
    expect(names.body.names).toEqual(['memory', 'process_cpu']);
    const types = await querier<{ names: string[] }>(srv.url, 'LabelValues', { name: '__profile_type__', matchers: ['{service_name="db"}'], ...time });
    expect(types.body.names).toEqual([CPU]);
  });

  it('ProfileTypes lists both types; the legacy /labels takes a type named only', async () => {
    const r = await querier<{ profileTypes: { ID: string }[] }>(srv.url, 'ProfileTypes', time);
    expect(r.body.profileTypes.map((t) => t.ID)).toEqual([ALLOC, CPU].sort());
    const res = await fetch(`${srv.url}/pyroscope/labels?${new URLSearchParams({ query: 'memory{service_name="api"}', ...window })}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(['pod', 'service_name']);
  });
});

describe('merges', () => {
  it('SelectMergeStacktraces accepts the type labels Grafana puts in label_selector', async () => {
    for (const labelSelector of [`{__profile_type__="${CPU}", service_name="api"}`, '{__name__="process_cpu", service_name="api"}']) {
      const r = await querier<{ flamegraph: { total: string } }>(srv.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: labelSelector, ...time });
      expect(r.status, labelSelector).toBe(200);
      expect(r.body.flamegraph.total, labelSelector).toBe('35');
    }
    const wrong = await querier(srv.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: '{__name__="memory"}', ...time });
    expect(wrong.status).toBe(400);
  });

  it('SelectMergeProfile honours stack_trace_selector.call_site: the pprof holds only those stacks', async () => {
    const r = await querier<{ sample: { value: string[] }[] }>(srv.url, 'SelectMergeProfile', {
      profile_typeID: CPU,
      label_selector: '{service_name="api"}',
      stack_trace_selector: { call_site: [{ name: 'main' }, { name: 'handle' }] },
      ...time,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.sample.reduce((a, s) => a + Number(s.value[0]), 0)).toBe(30);
  });

  it('/api/v1/flamegraph format=pprof honours focus and hide like the json and folded formats', async () => {
    const res = await fetch(`${srv.url}/api/v1/flamegraph?${new URLSearchParams({ query: `${CPU}{service_name="api"}`, ...window, format: 'pprof', focus: '^render$' })}`);
    expect(res.status).toBe(200);
    const p = PprofProfile.decode(gunzipSync(Buffer.from(await res.arrayBuffer())));
    expect(p.sample.reduce((a, s) => a + Number(s.value[0]), 0)).toBe(20);
  });
});
