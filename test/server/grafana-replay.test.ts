import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { Profile as PprofProfile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ProfileTypesResponseSchema,
  SelectMergeStacktracesResponseSchema,
  SelectSeriesResponseSchema,
} from '../../src/gen/querier/v1/querier_pb.js';
import { LabelNamesResponseSchema, LabelValuesResponseSchema } from '../../src/gen/types/v1/types_pb.js';
import { protoMessage as message } from '../support/proto-writer.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { createHash } from 'node:crypto';
import { AUTH_YAML, TOKENS, authConfig, basic } from './auth-support.js';
import { CPU, pprofSum } from './helpers.js';

/*
 * Every request Grafana sends to a "Grafana Pyroscope" data source pointed at Kiln, replayed byte for
 * byte as the clients send them, and every field they read checked:
 *
 * - Grafana's backend (pkg/tsdb/grafana-pyroscope-datasource: pyroscopeClient.go, instance.go, query.go)
 *   is a connect-go client with its default codec: Connect unary POST, `application/proto`, the
 *   `Connect-Protocol-Version: 1` header, a `Connect-Timeout-Ms` from the query's deadline, gzip
 *   accepted, and the data source's credential (basic auth, tenant as user) plus X-Scope-OrgID when
 *   the user adds it as a custom header.
 * - Profiles Drilldown (grafana/profiles-drilldown) calls through Grafana's data source proxy
 *   (`/api/datasources/proxy/uid/<uid>/…`, which adds the same credential) with `fetch`: Connect JSON
 *   with `content-type: application/json` and no Connect-Protocol-Version header, protobuf for the
 *   pprof export, and the legacy `/pyroscope/render-diff` and `/pyroscope/render?format=dot`.
 *
 * Requests are encoded here by hand with the field numbers of Pyroscope's published protos, not with
 * Kiln's generated code, so a wrong field number on either side shows.
 */

const CORPUS = path.resolve(process.cwd(), '../shared/testdata/pprof');
const GO_CPU = path.join(CORPUS, 'pyroscope-cpu.pprof');
const TENANT = 'acme';
const SERVICE = 'grafana-replay';
const SELECTOR = `{service_name="${SERVICE}"}`;
/** The token a Grafana data source holds: role read, the whole tenant (docs/GRAFANA.md). */
const GRAFANA_TOKEN = 'kiln_grafana_0123456789abcdef';
const CONFIG_YAML = `${AUTH_YAML}    - name: grafana
      sha256: "${createHash('sha256').update(GRAFANA_TOKEN).digest('hex')}"
      tenants: [${TENANT}]
      role: read
`;

// ---- the two clients ----

let srv: TestServer;
let from = 0;
let to = 0;

/** What connect-go sends for a unary call with Grafana's HTTP client and a basic-auth data source. */
function grafanaHeaders(token: string = GRAFANA_TOKEN): Record<string, string> {
  return {
    'content-type': 'application/proto',
    'connect-protocol-version': '1',
    'connect-timeout-ms': '29999',
    'accept-encoding': 'gzip',
    'user-agent': 'Grafana/11.5.0',
    'x-scope-orgid': TENANT,
    ...basic(TENANT, token),
  };
}

async function grafanaCall(method: string, body: Uint8Array): Promise<{ status: number; bytes: Uint8Array; contentType: string }> {
  const res = await fetch(`${srv.url}/querier.v1.QuerierService/${method}`, { method: 'POST', headers: grafanaHeaders(), body: body as BodyInit });
  return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()), contentType: res.headers.get('content-type') ?? '' };
}

/** What Profiles Drilldown's fetch sends through Grafana's data source proxy. */
function drilldownHeaders(token: string = GRAFANA_TOKEN, contentType = 'application/json'): Record<string, string> {
  return { 'content-type': contentType, 'x-grafana-org-id': '1', 'x-scope-orgid': TENANT, ...basic(TENANT, token) };
}

async function drilldownJson<T>(pathname: string, body: unknown, token?: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${srv.url}${pathname}`, { method: 'POST', headers: drilldownHeaders(token), body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

beforeAll(async () => {
  if (!existsSync(GO_CPU)) throw new Error(`the corpus is missing: ${GO_CPU} (../shared/testdata beside the checkout)`);
  srv = await startTestServer({ config: () => authConfig(CONFIG_YAML) });
  // Two Go CPU profiles 10 minutes apart, stamped into the last hour (restamp=1) as Grafana's default
  // range would show them; labelled like a Pyroscope SDK names them.
  const now = Date.now();
  for (const [i, ago] of [20, 10].entries()) {
    const t = Math.floor((now - ago * 60_000) / 1000);
    const res = await fetch(
      `${srv.url}/ingest?${new URLSearchParams({ name: `${SERVICE}.cpu{env=prod,pod=p${i}}`, format: 'pprof', from: String(t), until: String(t + 10), restamp: '1' })}`,
      { method: 'POST', headers: { 'x-scope-orgid': TENANT, ...basic(TENANT, TOKENS.admin) }, body: readFileSync(GO_CPU) },
    );
    expect(res.status, await res.text()).toBe(200);
  }
  from = now - 3_600_000;
  to = now;
});

afterAll(async () => {
  await srv?.close();
});

/** Grafana's levelsToTree, written again: bars are [offset-from-previous-sibling-end, total, self, name]. */
function checkLevels(names: readonly string[], levels: readonly (readonly bigint[])[], total: bigint): { selfSum: bigint; bars: number } {
  expect(levels.length).toBeGreaterThan(1);
  expect(levels[0]!.slice(1, 2)).toEqual([total]);
  let parents: { start: bigint; end: bigint }[] = [{ start: 0n, end: total }];
  let selfSum = 0n;
  let bars = 0;
  for (const level of levels) {
    expect(level.length % 4).toBe(0);
    const next: { start: bigint; end: bigint }[] = [];
    let offset = 0n;
    for (let i = 0; i < level.length; i += 4) {
      const start = offset + level[i]!;
      const end = start + level[i + 1]!;
      const self = level[i + 2]!;
      expect(Number(level[i + 3]!)).toBeLessThan(names.length);
      expect(self >= 0n && self <= level[i + 1]!).toBe(true);
      // Every bar sits inside a bar of the level above: Grafana nests it there.
      expect(parents.some((p) => start >= p.start && end <= p.end), `bar at ${start}..${end}`).toBe(true);
      next.push({ start, end });
      selfSum += self;
      bars++;
      offset = end;
    }
    parents = next;
  }
  return { selfSum, bars };
}

describe("Grafana's Pyroscope data source (connect-go, protobuf)", () => {
  it('ProfileTypes {start, end}: the data source test button and the type picker read ID, name and sample_type', async () => {
    const r = await grafanaCall('ProfileTypes', message([[1, 'varint', from], [2, 'varint', to]]));
    expect(r.status).toBe(200);
    expect(r.contentType).toBe('application/proto');
    const types = fromBinary(ProfileTypesResponseSchema, r.bytes).profileTypes;
    const cpu = types.find((t) => t.ID === CPU);
    // Grafana labels the entry `name - sample_type`.
    expect(cpu && `${cpu.name} - ${cpu.sampleType}`).toBe('process_cpu - cpu');
    expect(types.map((t) => t.ID)).toContain('process_cpu:samples:count:cpu:nanoseconds');
  });

  it('LabelNames {matchers: [selector], start, end} and LabelValues {name, matchers, start, end}', async () => {
    const names = await grafanaCall('LabelNames', message([[1, 'string', `{__profile_type__="${CPU}"}`], [2, 'varint', from], [3, 'varint', to]]));
    expect(names.status).toBe(200);
    const list = fromBinary(LabelNamesResponseSchema, names.bytes).names;
    for (const n of ['service_name', 'env', 'pod']) expect(list).toContain(n);

    const values = await grafanaCall('LabelValues', message([[1, 'string', 'pod'], [2, 'string', SELECTOR], [3, 'varint', from], [4, 'varint', to]]));
    expect(values.status).toBe(200);
    expect(fromBinary(LabelValuesResponseSchema, values.bytes).names).toEqual(['p0', 'p1']);
  });

  it('SelectMergeStacktraces {profile_typeID, label_selector, start, end, max_nodes}: names, levels, total, max_self', async () => {
    const expected = BigInt(2 * pprofSum(GO_CPU, 'cpu'));
    const r = await grafanaCall('SelectMergeStacktraces', message([
      [1, 'string', CPU], [2, 'string', SELECTOR], [3, 'varint', from], [4, 'varint', to], [5, 'varint', 16384],
    ]));
    expect(r.status).toBe(200);
    const fg = fromBinary(SelectMergeStacktracesResponseSchema, r.bytes).flamegraph;
    expect(fg?.total).toBe(expected);
    expect(fg?.names[0]).toBe('total');
    const { selfSum, bars } = checkLevels(fg!.names, fg!.levels.map((l) => l.values), fg!.total);
    expect(selfSum).toBe(expected);
    expect(bars).toBeGreaterThan(10);
    const maxSelf = fg!.levels.flatMap((l) => l.values.filter((_, i) => i % 4 === 2)).reduce((a, b) => (b > a ? b : a), 0n);
    expect(fg?.maxSelf).toBe(maxSelf);

    // max_nodes trims: Grafana's panel option "Max nodes" sends a small one.
    const small = await grafanaCall('SelectMergeStacktraces', message([
      [1, 'string', CPU], [2, 'string', SELECTOR], [3, 'varint', from], [4, 'varint', to], [5, 'varint', 8],
    ]));
    const trimmed = fromBinary(SelectMergeStacktracesResponseSchema, small.bytes).flamegraph!;
    expect(trimmed.total).toBe(expected);
    expect(checkLevels(trimmed.names, trimmed.levels.map((l) => l.values), trimmed.total).bars).toBeLessThan(bars);
  });

  it('SelectMergeStacktraces for a range with no data: an answer Grafana reads as "no data", not an error', async () => {
    const r = await grafanaCall('SelectMergeStacktraces', message([[1, 'string', CPU], [2, 'string', SELECTOR], [3, 'varint', 1000], [4, 'varint', 2000]]));
    expect(r.status).toBe(200);
    expect(fromBinary(SelectMergeStacktracesResponseSchema, r.bytes).flamegraph?.total ?? 0n).toBe(0n);
  });

  it('SelectSeries {profile_typeID, label_selector, start, end, group_by, step, limit, exemplar_type}: labels and points', async () => {
    const r = await grafanaCall('SelectSeries', message([
      [1, 'string', CPU], [2, 'string', SELECTOR], [3, 'varint', from], [4, 'varint', to],
      [5, 'string', 'pod'], [6, 'double', 15], [9, 'varint', 10], [10, 'varint', 1 /* EXEMPLAR_TYPE_NONE */],
    ]));
    expect(r.status).toBe(200);
    const series = fromBinary(SelectSeriesResponseSchema, r.bytes).series;
    expect(series.map((s) => s.labels.map((l) => `${l.name}=${l.value}`).join(','))).toEqual(['pod=p0', 'pod=p1']);
    const each = pprofSum(GO_CPU, 'cpu');
    for (const s of series) {
      // Grafana plots value at timestamp (Unix ms) on the query's range.
      expect(s.points.reduce((a, p) => a + p.value, 0)).toBeCloseTo(each, -3);
      for (const p of s.points) expect(Number(p.timestamp)).toBeGreaterThanOrEqual(from - 15_000);
      for (const p of s.points) expect(Number(p.timestamp)).toBeLessThanOrEqual(to);
    }
  });

  it('a read-role token (what a data source should hold) can run every query; a wrong tenant is refused with 403', async () => {
    const ok = await fetch(`${srv.url}/querier.v1.QuerierService/ProfileTypes`, {
      method: 'POST', headers: { ...grafanaHeaders(GRAFANA_TOKEN) }, body: message([[1, 'varint', from], [2, 'varint', to]]) as BodyInit,
    });
    expect(ok.status).toBe(200);
    const other = await fetch(`${srv.url}/querier.v1.QuerierService/ProfileTypes`, {
      method: 'POST', headers: { ...grafanaHeaders(GRAFANA_TOKEN), 'x-scope-orgid': 'other' }, body: message([]) as BodyInit,
    });
    expect(other.status).toBe(403);
    // connect-go reads a Connect error body: the reason reaches the Grafana panel, not just "Forbidden".
    expect(await other.json()).toMatchObject({ code: 'permission_denied', message: expect.stringMatching(/not granted tenant "other"/) });
    const noToken = await fetch(`${srv.url}/querier.v1.QuerierService/ProfileTypes`, {
      method: 'POST', headers: { 'content-type': 'application/proto', 'connect-protocol-version': '1' }, body: message([]) as BodyInit,
    });
    expect(noToken.status).toBe(401);
    expect(await noToken.json()).toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/requires a token/) });
  });
});

describe('Profiles Drilldown (through the data source proxy)', () => {
  it('Series {start, end, labelNames: [service_name, __profile_type__], matchers: []}: the service and profile-type lists', async () => {
    const r = await drilldownJson<{ labelsSet?: { labels: { name: string; value: string }[] }[] }>('/querier.v1.QuerierService/Series', {
      start: from, end: to, labelNames: ['service_name', '__profile_type__'], matchers: [],
    });
    expect(r.status).toBe(200);
    const pairs = (r.body.labelsSet ?? []).map((s) => Object.fromEntries(s.labels.map((l) => [l.name, l.value])));
    expect(pairs).toContainEqual({ service_name: SERVICE, __profile_type__: CPU });
  });

  it('LabelNames and LabelValues in JSON read `names`', async () => {
    const names = await drilldownJson<{ names?: string[] }>('/querier.v1.QuerierService/LabelNames', { matchers: [SELECTOR], start: from, end: to });
    expect(names.status).toBe(200);
    expect(names.body.names).toContain('pod');
    const values = await drilldownJson<{ names?: string[] }>('/querier.v1.QuerierService/LabelValues', { name: 'env', matchers: [SELECTOR], start: from, end: to });
    expect(values.body.names).toEqual(['prod']);
  });

  it('settings.v1 Get {} then Set {setting: {name: pluginSettings, value}}: the settings page round trip', async () => {
    const value = JSON.stringify({ collapsedFlamegraphs: false, maxNodes: 16384, enableFlameGraphDotComExport: true, enableFunctionDetails: true });
    const set = await drilldownJson<{ setting?: { name: string; value: string } }>('/settings.v1.SettingsService/Set', { setting: { name: 'pluginSettings', value } }, TOKENS.admin);
    expect(set.status).toBe(200);
    expect(set.body.setting?.value).toBe(value);
    // Drilldown reads settings[].name/value and parses the value of `pluginSettings`.
    const got = await drilldownJson<{ settings?: { name: string; value: string }[] }>('/settings.v1.SettingsService/Get', {}, GRAFANA_TOKEN);
    expect(got.status).toBe(200);
    expect(JSON.parse(got.body.settings?.find((s) => s.name === 'pluginSettings')?.value ?? 'null')).toEqual(JSON.parse(value));
  });

  it('settings.v1 Set and Delete need an admin token: a read token gets 403 naming the rule, and nothing changes', async () => {
    const before = await drilldownJson<{ settings?: { name: string; value: string }[] }>('/settings.v1.SettingsService/Get', {}, GRAFANA_TOKEN);
    const set = await drilldownJson<{ code: string; message: string }>('/settings.v1.SettingsService/Set', { setting: { name: 'pluginSettings', value: '{}' } }, GRAFANA_TOKEN);
    expect(set.status).toBe(403);
    expect(set.body).toMatchObject({ code: 'permission_denied', message: expect.stringMatching(/token "grafana" has role read and may not .*change settings/) });
    const del = await drilldownJson<{ code: string }>('/settings.v1.SettingsService/Delete', { name: 'pluginSettings' }, GRAFANA_TOKEN);
    expect(del.status).toBe(403);
    // A write (ingest-only) token may not either: agents have no business changing what users see.
    const byAgent = await drilldownJson<{ code: string }>('/settings.v1.SettingsService/Set', { setting: { name: 'x', value: '1' } }, TOKENS.writer);
    expect(byAgent.status).toBe(403);
    const after = await drilldownJson<{ settings?: { name: string; value: string }[] }>('/settings.v1.SettingsService/Get', {}, GRAFANA_TOKEN);
    expect(after.body).toEqual(before.body);
    // The admin may.
    const byAdmin = await drilldownJson<{ code?: string }>('/settings.v1.SettingsService/Delete', { name: 'pluginSettings' }, TOKENS.admin);
    expect(byAdmin.status).toBe(200);
  });

  it('SelectMergeProfile in protobuf (pprof export: fields 1-5 as PprofRequest writes them) answers a pprof', async () => {
    const res = await fetch(`${srv.url}/querier.v1.QuerierService/SelectMergeProfile`, {
      method: 'POST',
      headers: drilldownHeaders(GRAFANA_TOKEN, 'application/proto'),
      body: message([[1, 'string', CPU], [2, 'string', SELECTOR], [3, 'varint', from], [4, 'varint', to], [5, 'varint', 16384]]) as BodyInit,
    });
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    // Drilldown gzips the bytes and saves them as profile.pb.gz: they must be a pprof as pprof-format reads it.
    const p = PprofProfile.decode(bytes);
    const cpuIdx = p.sampleType.findIndex((t) => p.stringTable.strings[Number(t.type)] === 'cpu');
    expect(cpuIdx).toBeGreaterThanOrEqual(0);
    expect(p.sample.reduce((a, s) => a + Number(s.value[cpuIdx] ?? 0), 0)).toBe(2 * pprofSum(GO_CPU, 'cpu'));
  });

  it('SelectMergeProfile in JSON with stackTraceSelector.call_site and maxNodes (function details) narrows to the call site', async () => {
    const whole = await grafanaCall('SelectMergeStacktraces', message([[1, 'string', CPU], [2, 'string', SELECTOR], [3, 'varint', from], [4, 'varint', to]]));
    const fg = fromBinary(SelectMergeStacktracesResponseSchema, whole.bytes).flamegraph!;
    // The root's first child: a call site every sample under it shares.
    const first = fg.levels[1]!.values;
    const site = fg.names[Number(first[3]!)]!;
    const r = await drilldownJson<Record<string, unknown>>('/querier.v1.QuerierService/SelectMergeProfile', {
      profile_typeID: CPU, label_selector: SELECTOR, start: from, end: to, stackTraceSelector: { call_site: [{ name: site }] }, maxNodes: 16384,
    }, GRAFANA_TOKEN);
    expect(r.status).toBe(200);
    const samples = (r.body.sample ?? []) as { value: string[] }[];
    const strings = (r.body.stringTable ?? []) as string[];
    const types = (r.body.sampleType ?? []) as { type: string }[];
    const idx = types.findIndex((t) => strings[Number(t.type)] === 'cpu');
    expect(idx).toBeGreaterThanOrEqual(0);
    expect(samples.reduce((a, s) => a + Number(s.value[idx] ?? 0), 0)).toBe(Number(first[1]!));
    expect(strings).toContain(site);
  });

  it('GET /pyroscope/render-diff (leftQuery, leftFrom, leftUntil, rightQuery, rightFrom, rightUntil, max-nodes): a double flamebearer', async () => {
    const half = from + (to - from) / 2;
    const q = `${CPU}${SELECTOR}`;
    const params = new URLSearchParams({
      leftQuery: q, leftFrom: String(Math.round(from)), leftUntil: String(Math.round(half)),
      rightQuery: q, rightFrom: String(Math.round(half)), rightUntil: String(Math.round(to)), 'max-nodes': '16384',
    });
    const res = await fetch(`${srv.url}/pyroscope/render-diff?${params}`, { headers: drilldownHeaders(GRAFANA_TOKEN) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { flamebearer: { names: string[]; levels: number[][]; numTicks: number; maxSelf: number }; metadata: { format: string }; leftTicks: number; rightTicks: number };
    expect(body.metadata.format).toBe('double');
    const each = pprofSum(GO_CPU, 'cpu');
    // One profile on each side (20 and 10 minutes ago; the middle is 30 minutes ago) — or both on the right.
    expect(body.leftTicks + body.rightTicks).toBe(2 * each);
    expect(body.flamebearer.numTicks).toBe(2 * each);
    // A double bar is 7 numbers: left offset, left total, left self, right offset, right total, right self, name.
    for (const level of body.flamebearer.levels) expect(level.length % 7).toBe(0);
  });

  it('GET /pyroscope/render?format=dot (the flame graph AI panel) answers Graphviz text', async () => {
    const params = new URLSearchParams({ query: `${CPU}${SELECTOR}`, from: String(from), until: String(to), format: 'dot', 'max-nodes': '100' });
    const res = await fetch(`${srv.url}/pyroscope/render?${params}`, { headers: drilldownHeaders(GRAFANA_TOKEN) });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^digraph /);
    expect(text).toMatch(/N\d+ -> N\d+/);
  });
});
