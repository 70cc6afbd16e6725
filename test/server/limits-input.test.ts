import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { whereStored } from '../../src/cli/ingest.js';
import { parseOtlpProtobuf, serializeOtlpJson, serializeOtlpProtobuf } from '../../src/formats/otlp.js';
import { runKiln, startKilnServer } from '../support/cli.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { ALL_TIME, CPU, ingest, querier } from './helpers.js';
import { distinctStacks, valueOf2Pow63, withWindow } from './limits-payloads.js';
import { otlpRequest } from './limits-otlp-payloads.js';

/** Odd-but-harmless input accepted as Pyroscope does; input that would be stored wrong refused (issue 8). */
let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ limits: { maxBodyBytes: 1024 * 1024, maxConcurrentQueries: 1 } });
});
afterAll(async () => srv?.close());

async function total(service: string, tenant = 'anonymous'): Promise<number> {
  const r = await querier<{ flamegraph?: { total: string } }>(srv.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: `{service_name="${service}"}`, ...ALL_TIME }, { 'x-scope-orgid': tenant });
  return Number(r.body.flamegraph?.total ?? 0);
}

describe('odd input', () => {
  it('a Connect body over max_body → 413 naming it, not 429 (which SDKs retry)', async () => {
    const res = await fetch(`${srv.url}/push.v1.PusherService/Push`, { method: 'POST', body: Buffer.alloc(2 * 1024 * 1024), headers: { 'content-type': 'application/proto' } });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toMatch(/2097152 bytes.*max_body/);
  });

  it('the same without a Content-Length (chunked) → 413 naming max_body, not Connect\'s 429', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(2 * 1024 * 1024));
        c.close();
      },
    });
    const init = { method: 'POST', body, headers: { 'content-type': 'application/proto' }, duplex: 'half' };
    const res = await fetch(`${srv.url}/push.v1.PusherService/Push`, init as RequestInit);
    expect(res.status).toBe(413);
    expect((await res.json()) as object).toMatchObject({ code: 'resource_exhausted', message: expect.stringMatching(/larger than 1048576 bytes.*max_body/) as unknown });
    // The unread rest of the body must not hold up this client's next request (the connection is closed).
    expect((await fetch(`${srv.url}/healthz`, { signal: AbortSignal.timeout(5000) })).status).toBe(200);
  });

  it('duration_nanos holding an absolute end time is stored, not refused', async () => {
    const start = 1_700_000_000_000_000_000;
    const res = await ingest(srv.url, { name: 'odd-duration', format: 'pprof' }, withWindow(start, start + 10_000_000_000));
    expect(res.status).toBe(200);
    expect(await total('odd-duration')).toBe(7);
  });

  it('an OTLP sample value of 2^63 (what int64 reads as negative) → 400, nothing stored', async () => {
    const req = parseOtlpProtobuf(otlpRequest({ samples: 1 }));
    req.resourceProfiles[0]!.scopeProfiles[0]!.profiles[0]!.samples[0]!.values = [BigInt.asIntN(64, 2n ** 63n)];
    const binary = await fetch(`${srv.url}/v1development/profiles`, { method: 'POST', body: new Uint8Array(serializeOtlpProtobuf(req)), headers: { 'content-type': 'application/x-protobuf' } });
    expect(binary.status).toBe(400);
    const json = await fetch(`${srv.url}/v1development/profiles`, { method: 'POST', body: serializeOtlpJson(req), headers: { 'content-type': 'application/json' } });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { message: string }).message).toMatch(/negative value/);
    expect(await total('unknown_service')).toBe(0);
  });

  it('a sample value of 2^63 → 400, nothing stored', async () => {
    const res = await ingest(srv.url, { name: 'huge-value', format: 'pprof' }, valueOf2Pow63());
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/negative value/);
    expect(await total('huge-value')).toBe(0);
  });
});

describe('query concurrency per tenant', () => {
  it('past max_concurrent_queries a tenant gets 429 + Retry-After; another tenant is not held back', async () => {
    // A flame graph over a few thousand stacks: long enough for concurrent calls to overlap.
    expect((await ingest(srv.url, { name: 'storm', format: 'pprof' }, distinctStacks(15), { 'x-scope-orgid': 'storm' })).status).toBe(200);
    const call = async (tenant: string) => {
      const res = await fetch(`${srv.url}/querier.v1.QuerierService/SelectMergeStacktraces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-scope-orgid': tenant },
        body: JSON.stringify({ profile_typeID: CPU, label_selector: '{service_name="storm"}', ...ALL_TIME }),
      });
      await res.arrayBuffer();
      if (res.status === 429) expect(res.headers.get('retry-after')).toBe('1');
      return res.status;
    };
    const statuses = await Promise.all(Array.from({ length: 20 }, () => call('storm')));
    expect(statuses).toContain(200);
    expect(statuses).toContain(429);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    expect(await call('calm')).toBe(200);
    const res = await fetch(`${srv.url}/api/v1/labels`, { headers: { 'x-scope-orgid': 'storm' } });
    expect(res.status).not.toBe(429); // the storm is over: its slots were given back
  });
});

describe('old data', () => {
  const old = 1_700_000_000_000_000_000; // November 2023

  it('/ingest answers the time range it stored; restamp=1 (kiln ingest --now) stores an old file as of now', async () => {
    const asIs = await ingest(srv.url, { name: 'old-file', format: 'pprof' }, withWindow(old, 10_000_000_000));
    expect(await asIs.json()).toMatchObject({ profiles: 1, fromMs: 1_700_000_000_000, untilMs: 1_700_000_010_000, types: [CPU] });
    const before = Date.now();
    const restamped = await ingest(srv.url, { name: 'old-file-now', format: 'pprof', restamp: '1' }, withWindow(old, 10_000_000_000));
    const body = (await restamped.json()) as { fromMs: number; untilMs: number };
    expect(body.fromMs).toBeGreaterThanOrEqual(before - 1000);
    expect(body.untilMs - body.fromMs).toBe(10_000);
    const r = await querier<{ flamegraph?: { total: string } }>(srv.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: '{service_name="old-file-now"}', start: String(before - 60_000), end: String(Date.now() + 60_000) });
    expect(Number(r.body.flamegraph?.total)).toBe(7);
  });

  it('the CLI says where an old file went, that the default view will not show it, and how to query it', () => {
    const text = whereStored(JSON.stringify({ profiles: 1, rows: 1, fromMs: 1_700_000_000_000, untilMs: 1_700_000_010_000, types: [CPU] }), 'checkout', false, 1_700_000_000_000 + 48 * 3600_000);
    expect(text).toContain('stored 2023-11-14T22:13:20.000Z … 2023-11-14T22:13:30.000Z (48 h ago: outside the default last-hour view; --now stores it as of now)');
    expect(text).toContain(`kiln query top '${CPU}{service_name="checkout"}' --from 2023-11-14T22:13:20.000Z --until 2023-11-14T22:13:30.000Z`);
  });

  it('kiln server --retention 30d refuses a file older than that with 400 naming the retention and --now; kiln ingest says so, and --now stores it where the default view shows it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-retention-'));
    const kiln = await startKilnServer(['--data-dir', path.join(dir, 'data'), '--retention', '30d']);
    try {
      const res = await ingest(kiln.url, { name: 'too-old', format: 'pprof' }, withWindow(old, 10_000_000_000));
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(
        /dated 2023-11-14T22:13:20\.000Z, older than the server's retention of 30d \(it keeps data since .*\): it would be deleted unseen\. To store an old file as of now, use kiln ingest --now/,
      );

      const file = path.join(dir, 'old.pb');
      await writeFile(file, withWindow(old, 10_000_000_000));
      const refused = await runKiln(['ingest', file, '--url', kiln.url, '--labels', 'service_name=too-old']);
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toMatch(/failed\n.*older than the server's retention of 30d.*kiln ingest --now/s);

      const before = Date.now();
      const restamped = await runKiln(['ingest', file, '--url', kiln.url, '--labels', 'service_name=too-old', '--now']);
      expect(restamped.code, restamped.stderr).toBe(0);
      expect(restamped.stderr).toContain(`kiln query top '${CPU}{service_name="too-old"}'`);
      const r = await querier<{ flamegraph?: { total: string } }>(kiln.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: '{service_name="too-old"}', start: String(before - 3600_000), end: String(Date.now() + 60_000) });
      expect(Number(r.body.flamegraph?.total)).toBe(7);
    } finally {
      await kiln.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
