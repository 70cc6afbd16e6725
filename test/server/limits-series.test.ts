import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerConfig } from '../../src/config/server-config.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { ALL_TIME, CPU, ingest, querier } from './helpers.js';

/**
 * Issue 8: series per tenant. Tenant `small` may hold 3 series (`limits: tenants:` in the config);
 * a write adding a fourth is refused with 400 naming max_series_per_tenant, writes to the three it
 * holds keep being accepted, other tenants are not affected, and the count survives a restart
 * (it is read from the store, not only remembered).
 */
const CONFIG = parseServerConfig('limits:\n  tenants:\n    small: { max_series_per_tenant: 3 }\n', 'kiln.yaml');
let dir: string;
let srv: TestServer;

const push = (service: string, tenant: string, from = String(Math.floor(Date.now() / 1000))) =>
  ingest(srv.url, { name: service, format: 'folded', profile_type: CPU, from }, 'main;work 5\n', { 'x-scope-orgid': tenant });

async function services(tenant: string): Promise<string[]> {
  const r = await querier<{ names?: string[] }>(srv.url, 'LabelValues', { name: 'service_name', matchers: [], ...ALL_TIME }, { 'x-scope-orgid': tenant });
  return r.body.names ?? [];
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-series-'));
  srv = await startTestServer({ dataDir: dir, config: () => CONFIG });
});
afterAll(async () => {
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('max_series_per_tenant', () => {
  it('the fourth series of a tenant limited to 3 → 400 naming the limit; nothing of it stored', async () => {
    for (const s of ['a', 'b', 'c']) {
      const r = await push(s, 'small');
      expect(r.status, await r.text()).toBe(200);
    }
    const res = await push('d', 'small');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/tenant small holds 3 series of at most 3, and this request would add 1 new ones.*over the limit max_series_per_tenant/);
    expect(await services('small')).toEqual(['a', 'b', 'c']);
  });

  it('the series it holds keep being accepted, and another tenant is not limited', async () => {
    expect((await push('a', 'small', String(Math.floor(Date.now() / 1000) - 60))).status).toBe(200);
    for (const s of ['a', 'b', 'c', 'd', 'e']) expect((await push(s, 'roomy')).status).toBe(200);
    expect(await services('roomy')).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('after a restart the series held are counted from the store', async () => {
    await srv.server.close();
    await srv.store.close();
    srv = await startTestServer({ dataDir: dir, config: () => CONFIG });
    expect((await push('d', 'small')).status).toBe(400);
    expect((await push('b', 'small', String(Math.floor(Date.now() / 1000) - 120))).status).toBe(200);
  });
});
