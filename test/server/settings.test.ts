import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureFlagsService } from '../../src/gen/capabilities/v1/feature_flags_pb.js';
import { SettingsService } from '../../src/gen/settings/v1/setting_pb.js';
import { parseServerConfig } from '../../src/config/server-config.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { CPU, ingest, querier } from './helpers.js';

let srv: TestServer;
beforeAll(async () => {
  // Two recording rules in the config, one per tenant: the API lists each tenant's own.
  const config = parseServerConfig(`
rules:
  - record: "kiln:json_marshal:cpu_cores"
    selector: '${CPU}{namespace=~"shop-.*"}'
    function: 'encoding/json\\.Marshal'
    group_by: [service_name]
    labels: { team: payments }
    tenant: acme
  - record: "kiln:other:cpu_cores"
    selector: '${CPU}{}'
    tenant: other
`);
  srv = await startTestServer({ config: () => config });
});
afterAll(async () => {
  await srv?.close();
});

/** A Connect JSON call, as Grafana's plugins send it (POST, application/json, tenant header). */
async function call<T>(service: string, method: string, body: unknown, tenant = 'acme'): Promise<{ status: number; body: T }> {
  const res = await fetch(`${srv.url}/${service}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-scope-orgid': tenant },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

interface Settings {
  settings?: { name: string; value: string; modifiedAt: string }[];
}

describe('settings.v1.SettingsService (Profiles Drilldown plugin settings)', () => {
  it('answers Get with no settings, stores a Set per tenant, and refuses an older write', async () => {
    const empty = await call<Settings>('settings.v1.SettingsService', 'Get', {});
    expect(empty.status).toBe(200);
    expect(empty.body.settings ?? []).toEqual([]);

    const value = JSON.stringify({ maxNodes: 16384, enableFlameGraphDotComExport: false });
    const set = await call<{ setting: { name: string; value: string; modifiedAt: string } }>('settings.v1.SettingsService', 'Set', {
      setting: { name: 'pluginSettings', value },
    });
    expect(set.status).toBe(200);
    expect(set.body.setting.value).toBe(value);
    // Sent without a time: stamped now, like Pyroscope.
    expect(Math.abs(Number(set.body.setting.modifiedAt) - Date.now())).toBeLessThan(60_000);

    const got = await call<Settings>('settings.v1.SettingsService', 'Get', {});
    expect(got.body.settings).toEqual([{ name: 'pluginSettings', value, modifiedAt: set.body.setting.modifiedAt }]);
    // Another tenant sees nothing of it.
    const other = await call<Settings>('settings.v1.SettingsService', 'Get', {}, 'globex');
    expect(other.body.settings ?? []).toEqual([]);

    const stale = await call<{ code: string }>('settings.v1.SettingsService', 'Set', {
      setting: { name: 'pluginSettings', value: '{}', modifiedAt: '1000' },
    });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('already_exists');
    expect((await call<Settings>('settings.v1.SettingsService', 'Get', {})).body.settings?.[0]?.value).toBe(value);

    const none = await call<{ code: string }>('settings.v1.SettingsService', 'Set', {});
    expect(none.body.code).toBe('invalid_argument');

    expect((await call('settings.v1.SettingsService', 'Delete', { name: 'pluginSettings' })).status).toBe(200);
    expect((await call<Settings>('settings.v1.SettingsService', 'Get', {})).body.settings ?? []).toEqual([]);
  });

  it('serves the same store over gRPC', async () => {
    const client = createClient(SettingsService, createGrpcTransport({ baseUrl: srv.url }));
    const headers = { 'x-scope-orgid': 'grpc-tenant' };
    await client.set({ setting: { name: 'a', value: '1', modifiedAt: 5n } }, { headers });
    const got = await client.get({}, { headers });
    expect(got.settings.map((s) => [s.name, s.value, s.modifiedAt])).toEqual([['a', '1', 5n]]);
  });
});

describe('settings.v1.RecordingRulesService and capabilities.v1', () => {
  it('lists the config\'s recording rules of the caller\'s tenant, provisioned, and refuses to manage them over the API', async () => {
    const list = await call<{ rules?: Record<string, unknown>[] }>('settings.v1.RecordingRulesService', 'ListRecordingRules', {});
    expect(list.status).toBe(200);
    expect(list.body.rules).toEqual([
      {
        id: 'kiln:json_marshal:cpu_cores',
        metricName: 'kiln:json_marshal:cpu_cores',
        profileType: CPU,
        matchers: ['{namespace=~"shop-.*"}'],
        groupBy: ['service_name'],
        externalLabels: [{ name: 'team', value: 'payments' }],
        generation: '1',
        stacktraceFilter: { functionName: { functionName: 'encoding/json\\.Marshal' } },
        provisioned: true,
      },
    ]);
    const other = await call<{ rules?: { id: string }[] }>('settings.v1.RecordingRulesService', 'ListRecordingRules', {}, 'other');
    expect(other.body.rules?.map((r) => r.id)).toEqual(['kiln:other:cpu_cores']);
    const one = await call<{ rule?: { id: string } }>('settings.v1.RecordingRulesService', 'GetRecordingRule', { id: 'kiln:json_marshal:cpu_cores' });
    expect(one.body.rule?.id).toBe('kiln:json_marshal:cpu_cores');
    const elsewhere = await call<{ code: string }>('settings.v1.RecordingRulesService', 'GetRecordingRule', { id: 'kiln:json_marshal:cpu_cores' }, 'other');
    expect(elsewhere.body.code).toBe('not_found');
    const upsert = await call<{ code: string; message: string }>('settings.v1.RecordingRulesService', 'UpsertRecordingRule', { metricName: 'x' });
    expect(upsert.body.code).toBe('unimplemented');
    expect(upsert.body.message).toMatch(/config file/);
  });

  it('answers GetFeatureFlags with Pyroscope\'s flag names, sorted, each with its state', async () => {
    const client = createClient(FeatureFlagsService, createGrpcTransport({ baseUrl: srv.url }));
    const { featureFlags } = await client.getFeatureFlags({});
    expect(featureFlags.map((f) => f.name)).toEqual(['pyroscopeRuler', 'pyroscopeRulerFunctions', 'utf8LabelNames', 'v2StorageLayer']);
    expect(featureFlags.every((f) => f.enabled === false && (f.description ?? '') !== '')).toBe(true);
    const json = await call<{ featureFlags: { name: string; enabled?: boolean }[] }>('capabilities.v1.FeatureFlagsService', 'GetFeatureFlags', {});
    expect(json.body.featureFlags.find((f) => f.name === 'utf8LabelNames')?.enabled ?? false).toBe(false);
  });
});

describe('GetProfileStats', () => {
  it('reports no data for an empty tenant, then the first and last profile times to the millisecond', async () => {
    const headers = { 'x-scope-orgid': 'stats' };
    const before = await querier<{ dataIngested?: boolean }>(srv.url, 'GetProfileStats', {}, headers);
    expect(before.body.dataIngested ?? false).toBe(false);
    // Pyroscope's /ingest takes from/until in seconds: the profile's time is `from`.
    const first = Date.UTC(2025, 2, 3, 4, 5, 6);
    const last = Date.UTC(2026, 5, 7, 8, 9, 10);
    for (const [at, body] of [[first, 'a;b 3\n'], [Date.UTC(2025, 8, 1), 'a;c 1\n'], [last, 'a 2\n']] as const) {
      const res = await ingest(srv.url, { name: 'svc', format: 'folded', profile_type: CPU, from: String(at / 1000), until: String(at / 1000 + 10) }, body, headers);
      expect(res.status).toBe(200);
    }
    const stats = await querier<{ dataIngested: boolean; oldestProfileTime: string; newestProfileTime: string }>(srv.url, 'GetProfileStats', {}, headers);
    expect(stats.body).toEqual({ dataIngested: true, oldestProfileTime: String(first), newestProfileTime: String(last) });
  });
});
