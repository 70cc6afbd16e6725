import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerConfig } from '../../src/config/server-config.js';
import { startServer } from '../../src/server/server.js';
import type { RunningServer } from '../../src/server/server.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';
import { ALL_TIME, CPU, querier } from './helpers.js';
import { distinctStacks } from './limits-payloads.js';

/**
 * Backpressure (issue 8): a tenant over its queue or rate is answered 429 with Retry-After, a full
 * server 503; the others — and reads — go on. Small limits here so a few dozen requests overload it.
 */
let dir: string;
let store: Store;
let server: RunningServer;
let payload: Buffer;

const CONFIG = `
limits:
  max_pending_writes_per_tenant: 2
  tenants:
    metered: { ingest_bytes_per_second: 20KiB, ingest_burst_seconds: 3 }
`;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-overload-'));
  store = await openStore(dir, { threads: 2 });
  const config = parseServerConfig(CONFIG, 'kiln.yaml');
  server = await startServer({ store, host: '127.0.0.1', port: 0, limits: { maxPendingWrites: 4 }, config: () => config });
  payload = distinctStacks(15); // 3 375 distinct stacks: an agent-sized push
}, 30_000);
afterAll(async () => {
  await server?.close();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

function push(tenant: string, body: Uint8Array, service = 'load'): Promise<Response> {
  return fetch(`${server.url}/ingest?name=${service}&format=pprof`, { method: 'POST', body: body as BodyInit, headers: { 'x-scope-orgid': tenant } });
}

describe('backpressure', () => {
  it('30 concurrent ingests of one tenant: the excess is 429 with Retry-After, the rest stored; a query stays fast', async () => {
    // Warm: the first read of a fresh store and the route's first call are not what overload costs.
    await push('quiet', payload, 'warm');
    expect((await querier(server.url, 'LabelNames', { ...ALL_TIME }, { 'x-scope-orgid': 'quiet' })).status).toBe(200);
    const queries: number[] = [];
    let done = false;
    const reader = (async () => {
      while (!done) {
        const t = performance.now();
        const r = await querier(server.url, 'LabelNames', { ...ALL_TIME }, { 'x-scope-orgid': 'quiet' });
        expect(r.status).toBe(200);
        queries.push(performance.now() - t);
      }
    })();
    const answers = await Promise.all(Array.from({ length: 30 }, () => push('busy', payload)));
    done = true;
    await reader;
    const statuses = answers.map((r) => r.status);
    const refused = answers.filter((r) => r.status === 429);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    expect(refused.length).toBeGreaterThanOrEqual(10);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    expect(refused[0]!.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await refused[0]!.json()) as { error: string }).error).toMatch(/max_pending_writes_per_tenant/);
    const stored = await querier<{ flamegraph?: { total: string } }>(server.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: '{service_name="load"}', ...ALL_TIME }, { 'x-scope-orgid': 'busy' });
    expect(Number(stored.body.flamegraph?.total)).toBe(statuses.filter((s) => s === 200).length * 15 ** 3);
    queries.sort((a, b) => a - b);
    expect(queries.length).toBeGreaterThan(0);
    expect(queries[Math.floor(queries.length * 0.99)]!).toBeLessThan(2000);
  }, 60_000);

  it('three tenants at once past the server total: 503 (server full) with Retry-After, never 500', async () => {
    const answers = await Promise.all(['a', 'b', 'c'].flatMap((t) => Array.from({ length: 6 }, () => push(t, payload))));
    const statuses = answers.map((r) => r.status);
    expect(statuses).toContain(503);
    expect(statuses.every((s) => s === 200 || s === 429 || s === 503)).toBe(true);
    const full = answers.find((r) => r.status === 503)!;
    expect(full.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await full.json()) as { error: string }).error).toMatch(/server full.*max_pending_writes/);
  }, 60_000);

  it('a tenant over ingest_bytes_per_second (from the config) gets 429 with the wait; others are not metered', async () => {
    const small = Buffer.from('main;work 1\n'.repeat(5000)); // 60 KB
    const first = await fetch(`${server.url}/ingest?name=m&format=folded`, { method: 'POST', body: small, headers: { 'x-scope-orgid': 'metered' } });
    expect(first.status).toBe(200);
    const second = await fetch(`${server.url}/ingest?name=m&format=folded`, { method: 'POST', body: small, headers: { 'x-scope-orgid': 'metered' } });
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await second.json()) as { error: string }).error).toMatch(/ingest_bytes_per_second/);
    for (let i = 0; i < 3; i++) {
      const other = await fetch(`${server.url}/ingest?name=m&format=folded`, { method: 'POST', body: small, headers: { 'x-scope-orgid': 'free' } });
      expect(other.status).toBe(200);
    }
    const r = await querier<{ flamegraph?: { total: string } }>(server.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: '{service_name="m"}', ...ALL_TIME }, { 'x-scope-orgid': 'metered' });
    expect(Number(r.body.flamegraph?.total)).toBe(5000 * 1e7);
  });
});
