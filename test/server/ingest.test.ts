import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Profile as PprofProfile, StringTable, ValueType } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { requireTestdata } from '../support/testdata.js';
import { ALL_TIME, CPU, flameTotal, ingest, pprofSum, querier } from './helpers.js';
import type { JsonFlameGraph } from './helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

const nowSec = () => Math.floor(Date.now() / 1000);

async function folded(query: string, from = 'now-1d', until = 'now+1d', tenant?: string): Promise<string> {
  const res = await fetch(`${srv.url}/api/v1/flamegraph?${new URLSearchParams({ query, from, until, format: 'folded' })}`, {
    headers: tenant ? { 'X-Scope-OrgID': tenant } : {},
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.text();
}

describe('POST /ingest (Pyroscope legacy)', () => {
  it('stores folded stacks under the given type and gives them back byte-for-byte after sorting', async () => {
    const text = 'main;work;hash 30\nmain;work;sort 12\nmain;idle 5\n';
    const res = await ingest(srv.url, { name: 'fold-rt', format: 'folded', profile_type: CPU, from: String(nowSec() - 10), until: String(nowSec()) }, text);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ profiles: 1, rows: 3 });
    const out = await folded(`${CPU}{service_name="fold-rt"}`);
    expect(out.split('\n').filter(Boolean).sort()).toEqual(text.split('\n').filter(Boolean).sort());
  });

  it('reads name=app.cpu{k=v}: the app becomes service_name, the labels become series labels', async () => {
    const res = await ingest(srv.url, { name: 'checkout.cpu{env=prod,region=eu-1}', format: 'folded', from: String(nowSec() - 10), until: String(nowSec()) }, 'a;b 3\n');
    expect(res.status).toBe(200);
    const services = await querier<{ names: string[] }>(srv.url, 'LabelValues', { name: 'service_name', matchers: ['{env="prod"}'], ...ALL_TIME });
    expect(services.body.names).toContain('checkout');
    const regions = await querier<{ names: string[] }>(srv.url, 'LabelValues', { name: 'region', matchers: ['{service_name="checkout"}'], ...ALL_TIME });
    expect(regions.body.names).toEqual(['eu-1']);
  });

  it('stores folded samples as CPU time: samples × 1/sampleRate seconds (Pyroscope units=samples)', async () => {
    const res = await ingest(srv.url, { name: 'rate-app', format: 'folded', sampleRate: '100', from: String(nowSec() - 10), until: String(nowSec()) }, 'main;spin 7\n');
    expect(res.status).toBe(200);
    expect(await folded(`${CPU}{service_name="rate-app"}`)).toBe(`main;spin ${7 * 10_000_000}\n`);
  });

  it('reads format=lines: one stack per line, value 1 each', async () => {
    const res = await ingest(srv.url, { name: 'lines-app', format: 'lines', profile_type: CPU, from: String(nowSec()) }, 'a;b\na;b\na;c\n');
    expect(res.status).toBe(200);
    expect(await folded(`${CPU}{service_name="lines-app"}`)).toBe('a;b 2\na;c 1\n');
  });

  it('accepts from/until in seconds, milliseconds and nanoseconds, and places the profile there', async () => {
    const t = Date.UTC(2026, 0, 5, 12, 0, 0);
    const spellings = { s: String(t / 1000), ms: String(t), ns: `${t}000000` };
    for (const [unit, from] of Object.entries(spellings)) {
      const res = await ingest(srv.url, { name: `units-${unit}`, format: 'folded', profile_type: CPU, from }, 'x;y 1\n');
      expect(res.status, unit).toBe(200);
      const inside = await folded(`${CPU}{service_name="units-${unit}"}`, String(t / 1000 - 60), String(t / 1000 + 60));
      expect(inside, unit).toBe('x;y 1\n');
      const before = await folded(`${CPU}{service_name="units-${unit}"}`, String(t / 1000 - 3600), String(t / 1000 - 60));
      expect(before, unit).toBe('');
    }
  });

  it('ingests raw pprof; flame-graph total equals the file’s own sum', async () => {
    const file = path.join(requireTestdata('pprof'), 'pyroscope-cpu.pprof');
    const res = await ingest(srv.url, { name: 'raw-pprof', format: 'pprof' }, readFileSync(file));
    expect(res.status, await res.clone().text()).toBe(200);
    const r = await querier<JsonFlameGraph>(srv.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: '{service_name="raw-pprof"}', ...ALL_TIME });
    expect(r.status).toBe(200);
    expect(flameTotal(r.body)).toBe(pprofSum(file, 'cpu'));
  });

  it('ingests gzipped pprof, and a gzip Content-Encoding body', async () => {
    const file = path.join(requireTestdata('pprof'), 'parca-profile1.pb.gz');
    const gz = readFileSync(file);
    expect((await ingest(srv.url, { name: 'gz-pprof', format: 'pprof' }, gz)).status).toBe(200);
    const raw = path.join(requireTestdata('pprof'), 'pyroscope-cpu.pprof');
    const enc = await ingest(srv.url, { name: 'enc-pprof', format: 'pprof' }, gzipSync(readFileSync(raw)), { 'content-encoding': 'gzip' });
    expect(enc.status, await enc.clone().text()).toBe(200);
    for (const [svc, f] of [['gz-pprof', file], ['enc-pprof', raw]] as const) {
      const r = await querier<JsonFlameGraph>(srv.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: `{service_name="${svc}"}`, ...ALL_TIME });
      expect(flameTotal(r.body), svc).toBe(pprofSum(f, 'cpu'));
    }
  });

  it('ingests multipart/form-data with a profile part and sample_type_config, as SDKs send pprof', async () => {
    const file = path.join(requireTestdata('pprof'), 'pyroscope-cpu.pprof');
    const form = new FormData();
    form.append('profile', new Blob([readFileSync(file)]), 'profile.pprof');
    form.append('sample_type_config', new Blob([JSON.stringify({ cpu: { units: 'nanoseconds', 'display-name': 'cpu' } })]), 'sample_type_config.json');
    const res = await ingest(srv.url, { name: 'multipart-app.cpu', spyName: 'gospy', sampleRate: '100', from: String(nowSec() - 10), until: String(nowSec()) }, form);
    expect(res.status, await res.clone().text()).toBe(200);
    const r = await querier<JsonFlameGraph>(srv.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: '{service_name="multipart-app"}', ...ALL_TIME });
    expect(flameTotal(r.body)).toBe(pprofSum(file, 'cpu'));
  });

  it('accepts a well-formed profile without samples as a no-op (SDK idle periods), as Pyroscope does', async () => {
    const st = new StringTable();
    const cpu = new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') });
    const empty = new PprofProfile({ sampleType: [cpu], periodType: cpu, period: 10_000_000, stringTable: st }).encode();
    const res = await ingest(srv.url, { name: 'empty-app', format: 'pprof' }, empty);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ profiles: 0, rows: 0 });
    const types = await querier<{ names: string[] }>(srv.url, 'LabelValues', { name: 'service_name', ...ALL_TIME });
    expect(types.body.names).not.toContain('empty-app');
  });
});
