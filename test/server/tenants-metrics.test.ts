import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { ALL_TIME, CPU, ingest, querier } from './helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

describe('tenants (X-Scope-OrgID)', () => {
  it('never see each other’s data; no header means tenant "anonymous"', async () => {
    const put = (tenant: string | undefined, name: string, body: string) =>
      ingest(srv.url, { name, format: 'folded', profile_type: CPU }, body, tenant ? { 'X-Scope-OrgID': tenant } : {});
    expect((await put('team-a', 'shared-name', 'a;only 5\n')).status).toBe(200);
    expect((await put('team-b', 'shared-name', 'b;only 7\n')).status).toBe(200);
    expect((await put(undefined, 'anon-app', 'anon 1\n')).status).toBe(200);

    const services = async (tenant?: string) =>
      (await querier<{ names: string[] }>(srv.url, 'LabelValues', { name: 'service_name', ...ALL_TIME }, tenant ? { 'X-Scope-OrgID': tenant } : {})).body.names ?? [];
    expect(await services('team-a')).toEqual(['shared-name']);
    expect(await services('team-b')).toEqual(['shared-name']);
    expect(await services()).toEqual(['anon-app']);
    expect(await services('anonymous')).toEqual(['anon-app']);
    expect(await services('team-c')).toEqual([]);

    const folded = async (tenant: string) => {
      const res = await fetch(`${srv.url}/api/v1/flamegraph?${new URLSearchParams({ query: `${CPU}{service_name="shared-name"}`, format: 'folded', from: 'now-1d', until: 'now+1d' })}`, {
        headers: { 'X-Scope-OrgID': tenant },
      });
      return res.text();
    };
    expect(await folded('team-a')).toBe('a;only 5\n');
    expect(await folded('team-b')).toBe('b;only 7\n');
  });
});

describe('/metrics, /healthz, /ready', () => {
  const metric = (text: string, name: string, labels = ''): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  it('ingest, error and query figures move after requests', async () => {
    const before = await (await fetch(`${srv.url}/metrics`)).text();
    expect((await ingest(srv.url, { name: 'metered', format: 'folded', profile_type: CPU }, 'a;b 1\na;c 2\n')).status).toBe(200);
    expect((await ingest(srv.url, { name: 'metered', format: 'nope' }, 'x')).status).toBe(415);
    await querier(srv.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: '{}', ...ALL_TIME });
    const res = await fetch(`${srv.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const after = await res.text();
    const delta = (name: string, labels = '') => metric(after, name, labels) - metric(before, name, labels);
    expect(delta('kiln_ingest_profiles_total', 'protocol="ingest"')).toBe(1);
    expect(delta('kiln_ingest_rows_total', 'protocol="ingest"')).toBe(2);
    expect(delta('kiln_ingest_bytes_total', 'protocol="ingest"')).toBeGreaterThan(0);
    expect(delta('kiln_ingest_errors_total', 'protocol="ingest",reason="input"')).toBe(1);
    expect(delta('kiln_query_duration_seconds_count', 'endpoint="querier.SelectMergeStacktraces"')).toBe(1);
    expect(metric(after, 'kiln_store_rows')).toBeGreaterThanOrEqual(2);
    expect(metric(after, 'kiln_store_series')).toBeGreaterThanOrEqual(1);
    expect(metric(after, 'kiln_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('answers health and readiness', async () => {
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${srv.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });
});
