import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RowsEncoder, rowsRequestBody } from '../../src/agent/exporter-rows.js';
import { KILN_ROWS_PATH, KILN_ROWS_TYPE } from '../../src/formats/kiln-rows.js';
import { decodePprof as kilnDecodePprof } from '../../src/formats/pprof.js';
import { PusherService } from '../../src/gen/push/v1/push_pb.js';
import { labelsFrom, type Profile } from '../../src/model/index.js';
import { captureFiles, independentTotals } from '../formats/otlp-support.js';
import { startClickHouse } from '../support/clickhouse.js';
import type { ClickHouseServer } from '../support/clickhouse.js';
import { decodePprof, expectedFor } from '../support/pprof-expected.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { pprofFiles } from '../support/testdata.js';

/**
 * N stateless servers on one ClickHouse: what one replica ingests, the other answers — identically,
 * and exactly what the file says (pprof-format's reading, not Kiln's), over every ingest protocol,
 * the Kiln agent's rows push included.
 */

const UNTIL = String(Date.now() + 86_400_000);
const OFF_CPU = 'off_cpu:off_cpu:nanoseconds:off_cpu:nanoseconds';
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

let ch: ClickHouseServer;
let r1: TestServer;
let r2: TestServer;
beforeAll(async () => {
  ch = await startClickHouse();
  r1 = await startTestServer({ storeUrl: ch.url });
  r2 = await startTestServer({ storeUrl: ch.url });
}, 120_000);
afterAll(async () => {
  await r1?.close();
  await r2?.close();
  await ch?.destroy();
}, 60_000);

async function getJson<T>(srv: TestServer, tenant: string, route: string, params: Record<string, string>): Promise<T> {
  const res = await fetch(`${srv.url}${route}?${new URLSearchParams(params)}`, { headers: { 'X-Scope-OrgID': tenant } });
  expect(res.status, `${route}: ${await res.clone().text()}`).toBe(200);
  return (await res.json()) as T;
}

/** A rows push as the agent sends it: symbols for the stacks `encoder` has not seen confirmed (or all). */
async function pushRows(srv: TestServer, tenant: string, profiles: Profile[], encoder: RowsEncoder, symbols: 'all' | 'unconfirmed' = 'unconfirmed'): Promise<Response> {
  const { body, stackIds } = encoder.encode(profiles, symbols === 'all' ? 'all' : new Set());
  const req = rowsRequestBody(body);
  const res = await fetch(`${srv.url}${req.path}`, { method: 'POST', headers: { ...req.headers, 'X-Scope-OrgID': tenant }, body: req.body as BodyInit });
  if (res.ok) encoder.confirm(stackIds);
  return res;
}

async function querier<T>(srv: TestServer, tenant: string, method: string, body: unknown): Promise<T> {
  const res = await fetch(`${srv.url}/querier.v1.QuerierService/${method}`, {
    method: 'POST',
    headers: { 'X-Scope-OrgID': tenant, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status, `${method}: ${await res.clone().text()}`).toBe(200);
  return (await res.json()) as T;
}

interface TopResponse {
  total: number;
  entries: { name: string; self: number; total: number }[];
}

/** Everything a user would look at for one selector, as one replica answers it. */
async function answers(srv: TestServer, tenant: string, typeId: string): Promise<unknown> {
  const query = `${typeId}{}`;
  const range = { from: '0', until: UNTIL };
  return {
    top: await getJson(srv, tenant, '/api/v1/top', { query, ...range, limit: '100000' }),
    flame: await getJson(srv, tenant, '/api/v1/flamegraph', { query, ...range }),
    series: await getJson(srv, tenant, '/api/v1/series', { query, ...range, step: '30d' }),
    labels: await querier(srv, tenant, 'LabelNames', { start: '0', end: UNTIL }),
    services: await querier(srv, tenant, 'LabelValues', { name: 'service_name', start: '0', end: UNTIL }),
    types: await querier(srv, tenant, 'ProfileTypes', { start: '0', end: UNTIL }),
  };
}

/**
 * The top table of replica 2 holds exactly what pprof-format reads in the file, for every sample type;
 * with `compare`, everything a user looks at (top, flame graph, series, labels, types) is the same on
 * both replicas too (for the first sample type: the rest go through the same code).
 */
async function checkFile(file: string, tenant: string, compare: boolean): Promise<number> {
  const pprof = decodePprof(file);
  const str = (i: number | bigint) => pprof.stringTable.strings[Number(i)] ?? '';
  const types = (await querier<{ profileTypes?: { ID: string; sampleType: string; sampleUnit: string }[] }>(r2, tenant, 'ProfileTypes', { start: '0', end: UNTIL })).profileTypes ?? [];
  let checked = 0;
  for (const [index, st] of pprof.sampleType.entries()) {
    const expected = expectedFor(pprof, index);
    if (expected.total === 0) continue;
    const type = types.find((t) => t.sampleType === str(st.type) && t.sampleUnit === str(st.unit));
    expect(type, `replica 2 lists ${str(st.type)}/${str(st.unit)}`).toBeDefined();
    const top = await getJson<TopResponse>(r2, tenant, '/api/v1/top', { query: `${type!.ID}{}`, from: '0', until: UNTIL, limit: '100000' });
    expect(top.total).toBe(expected.total);
    expect(new Map(top.entries.filter((e) => e.self !== 0).map((e) => [e.name, e.self]))).toEqual(expected.self);
    expect(new Map(top.entries.map((e) => [e.name, e.total]))).toEqual(expected.cumulative);
    if (compare && checked === 0) expect(await answers(r2, tenant, type!.ID)).toEqual(await answers(r1, tenant, type!.ID));
    checked++;
  }
  return checked;
}

describe('two kiln servers on one ClickHouse answer alike', () => {
  for (const file of pprofFiles()) {
    const name = path.relative(path.dirname(path.dirname(file)), file);
    const tenant = `replicas-${name.replace(/[^a-zA-Z0-9]/g, '-')}`;

    it(`${name}: pushed to replica 1 over /ingest, push.v1 and the rows push, read from replica 2`, async () => {
      const ingest = await fetch(`${r1.url}/ingest?name=replicas&format=pprof`, { method: 'POST', headers: { 'X-Scope-OrgID': tenant }, body: readFileSync(file) });
      expect(ingest.status, await ingest.clone().text()).toBe(200);
      expect(await checkFile(file, tenant, true)).toBeGreaterThan(0);

      const pusher = createClient(PusherService, createGrpcTransport({ baseUrl: r1.url }));
      await pusher.push(
        { series: [{ labels: [{ name: 'service_name', value: 'pushed' }], samples: [{ rawProfile: readFileSync(file), ID: 'x' }] }] },
        { headers: { 'X-Scope-OrgID': `${tenant}-push` } },
      );
      expect(await checkFile(file, `${tenant}-push`, false)).toBeGreaterThan(0);

      // The Kiln agent's rows push (stacks by content id, symbols once).
      const rows = await pushRows(r1, `${tenant}-rows`, kilnDecodePprof(readFileSync(file), { labels: labelsFrom({ service_name: 'rows' }) }), new RowsEncoder());
      expect(rows.status, await rows.clone().text()).toBe(200);
      expect(await checkFile(file, `${tenant}-rows`, false)).toBeGreaterThan(0);
    }, 60_000);
  }

  it('an agent that moves from replica 1 to replica 2 (a load balancer) is asked once for the symbols replica 2 has not seen, and both answer alike', async () => {
    const file = pprofFiles().find((f) => f.endsWith('pyroscope-heap')) ?? pprofFiles()[0]!;
    const encoder = new RowsEncoder();
    const at = (pod: string) => kilnDecodePprof(readFileSync(file), { labels: labelsFrom({ service_name: 'moved', pod }) });
    const first = await pushRows(r1, 'replicas-moved', at('a'), encoder);
    expect(first.status, await first.clone().text()).toBe(200);
    // Rows only now: replica 2 does not know these stacks are stored, so it asks for them.
    const steady = encoder.encode(at('b'));
    const refused = await fetch(`${r2.url}${KILN_ROWS_PATH}`, { method: 'POST', headers: { 'X-Scope-OrgID': 'replicas-moved', 'content-type': KILN_ROWS_TYPE }, body: steady.body as BodyInit });
    expect(refused.status).toBe(409);
    const again = await pushRows(r2, 'replicas-moved', at('b'), encoder, 'all');
    expect(again.status, await again.clone().text()).toBe(200);
    const typeId = (await querier<{ profileTypes?: { ID: string }[] }>(r2, 'replicas-moved', 'ProfileTypes', { start: '0', end: UNTIL })).profileTypes![0]!.ID;
    const fromR2 = (await answers(r2, 'replicas-moved', typeId)) as { series: unknown };
    expect(fromR2).toEqual(await answers(r1, 'replicas-moved', typeId));
  }, 60_000);

  it('OTLP to replica 1 (the OpenTelemetry eBPF profiler capture) reads the same from replica 2', async () => {
    const { bin, json } = captureFiles();
    const expected = independentTotals(json);
    const res = await fetch(`${r1.url}/v1development/profiles`, {
      method: 'POST',
      headers: { 'X-Scope-OrgID': 'replicas-otlp', 'Content-Type': 'application/x-protobuf' },
      body: Buffer.from(bin),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    for (const typeId of [CPU, OFF_CPU]) {
      const fromR2 = (await answers(r2, 'replicas-otlp', typeId)) as { top: TopResponse };
      expect(fromR2).toEqual(await answers(r1, 'replicas-otlp', typeId));
      expect(fromR2.top.total).toBe(typeId === CPU ? expected.cpuNs : expected.offCpuNs);
    }
    const pids = await querier<{ names?: string[] }>(r2, 'replicas-otlp', 'LabelValues', { name: 'process_pid', start: '0', end: UNTIL });
    expect(new Set(pids.names)).toEqual(expected.pids);
  }, 60_000);
});

describe('ClickHouse killed during a concurrent ingest', () => {
  it('answers 503 with Retry-After while it is down, recovers by itself, and keeps every acknowledged profile', async () => {
    const tenant = 'replicas-crash';
    const acked: number[] = [];
    const statuses = new Map<number, number>();
    let retryAfterSeen = false;
    let seq = 0;
    const push = async (srv: TestServer) => {
      const n = seq++;
      const body = `main;work;step${n % 7} ${n + 1}\nmain;idle 1\n`;
      const res = await fetch(`${srv.url}/ingest?name=crash{seq="${n}"}&format=folded&from=${1_700_000_000 + n}`, {
        method: 'POST',
        headers: { 'X-Scope-OrgID': tenant },
        body,
      }).catch(() => undefined);
      const status = res?.status ?? 0;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status === 503 && res?.headers.get('retry-after')) retryAfterSeen = true;
      if (status === 200) acked.push(n);
      await res?.arrayBuffer().catch(() => undefined);
    };
    // Four writers (two per replica) push for the whole test; ClickHouse dies and comes back meanwhile.
    let stop = false;
    const writers = [r1, r2, r1, r2].map(async (srv) => {
      while (!stop) {
        await push(srv);
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    await new Promise((r) => setTimeout(r, 1500));
    await ch.kill();
    await new Promise((r) => setTimeout(r, 3000));
    const down = statuses.get(503) ?? 0;
    await ch.start();
    // Recovery by itself: writes succeed again within a while, no restart of Kiln.
    const deadline = Date.now() + 60_000;
    const ackedBefore = acked.length;
    while (Date.now() < deadline && acked.length < ackedBefore + 20) await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await Promise.all(writers);

    expect(down, `statuses: ${JSON.stringify([...statuses])}`).toBeGreaterThan(0);
    expect(retryAfterSeen).toBe(true);
    expect(statuses.get(500) ?? 0, 'no request fails as an internal error').toBe(0);
    expect(acked.length).toBeGreaterThan(ackedBefore + 19);
    // Every acknowledged profile is there, on both replicas.
    for (const srv of [r1, r2]) {
      const seqs = await querier<{ names?: string[] }>(srv, tenant, 'LabelValues', { name: 'seq', start: '0', end: UNTIL });
      const stored = new Set((seqs.names ?? []).map(Number));
      expect(acked.filter((n) => !stored.has(n))).toEqual([]);
    }
  }, 150_000);
});
