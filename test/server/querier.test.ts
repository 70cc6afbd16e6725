import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createClient } from '@connectrpc/connect';
import type { Client, Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFlameGraph, fromFlameGraphDiff } from '../../src/formats/flamebearer.js';
import { PusherService } from '../../src/gen/push/v1/push_pb.js';
import { ProfileFormat, QuerierService } from '../../src/gen/querier/v1/querier_pb.js';
import { TimeSeriesAggregationType } from '../../src/gen/types/v1/types_pb.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { requireTestdata } from '../support/testdata.js';
import { ALL_TIME, CPU, ingest, pprofSum, querier } from './helpers.js';

let srv: TestServer;
const T = Date.UTC(2026, 0, 7, 12, 0, 0);
const sec = (ms: number) => String(Math.floor(ms / 1000));

beforeAll(async () => {
  srv = await startTestServer();
  // Two services, two pods each, ten minutes apart; known folded content.
  const put = async (name: string, at: number, body: string) => {
    const res = await ingest(srv.url, { name, format: 'folded', profile_type: CPU, from: sec(at), until: sec(at + 10_000) }, body);
    expect(res.status, await res.clone().text()).toBe(200);
  };
  await put('api{pod=api-1}', T, 'main;handle;parse 10\nmain;handle;render 20\n');
  await put('api{pod=api-2}', T + 600_000, 'main;handle;parse 30\nmain;gc 5\n');
  await put('db{pod=db-1}', T, 'main;query 7\n');
});
afterAll(async () => {
  await srv?.close();
});

const range = { start: BigInt(T - 60_000), end: BigInt(T + 3_600_000) };

function transports(): [string, Transport][] {
  return [
    ['Connect protobuf (HTTP/1.1)', createConnectTransport({ baseUrl: srv.url, httpVersion: '1.1', useBinaryFormat: true })],
    ['Connect JSON (HTTP/1.1)', createConnectTransport({ baseUrl: srv.url, httpVersion: '1.1', useBinaryFormat: false })],
    ['gRPC (h2c)', createGrpcTransport({ baseUrl: srv.url })],
    ['gRPC-web (HTTP/1.1)', createGrpcWebTransport({ baseUrl: srv.url, httpVersion: '1.1' })],
  ];
}

describe('querier.v1 over every protocol on one port', () => {
  it('answers ProfileTypes, LabelNames, LabelValues and a merged flame graph the same way over each', async () => {
    for (const [name, transport] of transports()) {
      const client: Client<typeof QuerierService> = createClient(QuerierService, transport);
      const types = await client.profileTypes({ start: range.start, end: range.end });
      expect(types.profileTypes.map((t) => t.ID), name).toContain(CPU);
      const names = await client.labelNames({ matchers: [], ...range });
      expect(names.names, name).toEqual(expect.arrayContaining(['pod', 'service_name']));
      const pods = await client.labelValues({ name: 'pod', matchers: ['{service_name="api"}'], ...range });
      expect(pods.names, name).toEqual(['api-1', 'api-2']);
      const fg = await client.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: '{service_name="api"}', ...range });
      expect(Number(fg.flamegraph?.total), name).toBe(65);
      const tree = fromFlameGraph({ names: fg.flamegraph!.names, levels: fg.flamegraph!.levels.map((l) => ({ values: l.values.map(Number) })) });
      const handle = tree.children.find((c) => c.name === 'main')!.children.find((c) => c.name === 'handle')!;
      expect(handle.total, name).toBe(60);
    }
  });
});

describe('querier.v1 methods (Connect JSON, as Grafana calls them)', () => {
  const time = { start: String(T - 60_000), end: String(T + 3_600_000) };

  it('Series returns label sets with __profile_type__ and honours label_names', async () => {
    const r = await querier<{ labelsSet: { labels: { name: string; value: string }[] }[] }>(srv.url, 'Series', {
      matchers: [`{__profile_type__="${CPU}"}`],
      labelNames: ['service_name', '__profile_type__'],
      ...time,
    });
    expect(r.status).toBe(200);
    const sets = r.body.labelsSet.map((s) => Object.fromEntries(s.labels.map((l) => [l.name, l.value])));
    expect(sets).toEqual(
      expect.arrayContaining([
        { service_name: 'api', __profile_type__: CPU },
        { service_name: 'db', __profile_type__: CPU },
      ]),
    );
    expect(sets).toHaveLength(2);
  });

  it('SelectMergeStacktraces returns int64 as strings and trims to max_nodes keeping the total', async () => {
    const r = await querier<{ flamegraph: { names: string[]; levels: { values: string[] }[]; total: string; maxSelf: string } }>(
      srv.url,
      'SelectMergeStacktraces',
      { profile_typeID: CPU, label_selector: '{}', max_nodes: '2', ...time },
    );
    expect(r.status).toBe(200);
    expect(r.body.flamegraph.total).toBe('72');
    expect(typeof r.body.flamegraph.levels[0]!.values[0]).toBe('string');
    const tree = fromFlameGraph({ names: r.body.flamegraph.names, levels: r.body.flamegraph.levels.map((l) => ({ values: l.values.map(Number) })) });
    expect(tree.total).toBe(72);
    expect(r.body.flamegraph.names.length).toBeLessThanOrEqual(4);
  });

  it('SelectMergeStacktraces honours stack_trace_selector.call_site (stacks starting with that path)', async () => {
    const r = await querier<{ flamegraph: { total: string; names: string[] } }>(srv.url, 'SelectMergeStacktraces', {
      profile_typeID: CPU, label_selector: '{service_name="api"}', stack_trace_selector: { call_site: [{ name: 'main' }, { name: 'handle' }] }, ...time,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.flamegraph.total).toBe('60');
    expect(r.body.flamegraph.names).not.toContain('gc');
  });

  it('SelectMergeStacktraces format=TREE returns Pyroscope tree bytes with the same total', async () => {
    const client = createClient(QuerierService, createConnectTransport({ baseUrl: srv.url, httpVersion: '1.1', useBinaryFormat: true }));
    const r = await client.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: '{service_name="db"}', format: ProfileFormat.TREE, ...range });
    expect(r.flamegraph).toBeUndefined();
    // virtual root: len 0, self 0, 1 child; main: len 4 "main", self 0, 1 child; query: self 7, 0 children.
    expect([...r.tree]).toEqual([0, 0, 1, 4, ...Buffer.from('main'), 0, 1, 5, ...Buffer.from('query'), 7, 0]);
  });

  it('SelectMergeProfile returns a pprof profile whose samples sum to the selection', async () => {
    const client = createClient(QuerierService, createConnectTransport({ baseUrl: srv.url, httpVersion: '1.1', useBinaryFormat: true }));
    const p = await client.selectMergeProfile({ profileTypeID: CPU, labelSelector: '{service_name="api"}', ...range });
    expect(p.sample.reduce((a, s) => a + Number(s.value[0]), 0)).toBe(65);
    expect(p.stringTable[Number(p.sampleType[0]!.type)]).toBe('cpu');
  });

  it('SelectSeries groups by a label, buckets by step and limits to the top series', async () => {
    const r = await querier<{ series: { labels: { name: string; value: string }[]; points: { value: number; timestamp: string }[] }[] }>(
      srv.url,
      'SelectSeries',
      // Buckets start at `start` and step from there (as Pyroscope's range series do).
      { profile_typeID: CPU, label_selector: '{service_name="api"}', group_by: ['pod'], step: 300, start: String(T - 300_000), end: time.end },
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const byPod = Object.fromEntries(r.body.series.map((s) => [s.labels.find((l) => l.name === 'pod')!.value, s.points]));
    expect(byPod['api-1']).toEqual([{ value: 30, timestamp: String(T) }]);
    expect(byPod['api-2']).toEqual([{ value: 35, timestamp: String(T + 600_000) }]);
    const top = await querier<{ series: unknown[] }>(srv.url, 'SelectSeries', {
      profile_typeID: CPU, label_selector: '{}', group_by: ['service_name'], step: 60, limit: '1', ...time,
    });
    expect(top.body.series).toHaveLength(1);
  });

  it('SelectSeries with AVERAGE aggregation averages per profile', async () => {
    const client = createClient(QuerierService, createConnectTransport({ baseUrl: srv.url, httpVersion: '1.1' }));
    const r = await client.selectSeries({
      profileTypeID: CPU, labelSelector: '{service_name="api"}', step: 3600, aggregation: TimeSeriesAggregationType.AVERAGE, ...range,
    });
    const values = r.series.flatMap((s) => s.points.map((p) => p.value));
    expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(65 / 2);
  });

  it('Diff returns left and right ticks and a tree holding both sides', async () => {
    const left = { profile_typeID: CPU, label_selector: '{pod="api-1"}', ...time };
    const right = { profile_typeID: CPU, label_selector: '{pod="api-2"}', ...time };
    const r = await querier<{ flamegraph: { names: string[]; levels: { values: string[] }[]; leftTicks: string; rightTicks: string } }>(
      srv.url, 'Diff', { left, right },
    );
    expect(r.status).toBe(200);
    expect(r.body.flamegraph.leftTicks).toBe('30');
    expect(r.body.flamegraph.rightTicks).toBe('35');
    const tree = fromFlameGraphDiff({ names: r.body.flamegraph.names, levels: r.body.flamegraph.levels.map((l) => ({ values: l.values.map(Number) })) });
    const handle = tree.children[0]!.children.find((c) => c.name === 'handle')!;
    expect([handle.baseTotal, handle.headTotal]).toEqual([30, 30]);
  });
});

describe('push.v1.PusherService/Push', () => {
  it('stores pprof pushed over gRPC (h2c) with its series labels; __name__ names the type', async () => {
    const file = path.join(requireTestdata('pprof'), 'pyroscope-cpu.pprof');
    const pusher = createClient(PusherService, createGrpcTransport({ baseUrl: srv.url }));
    await pusher.push({
      series: [{
        labels: [{ name: '__name__', value: 'process_cpu' }, { name: 'service_name', value: 'pushed' }, { name: 'env', value: 'ci' }],
        samples: [{ rawProfile: readFileSync(file), ID: 'x' }],
      }],
    });
    const r = await querier<{ flamegraph: { total: string } }>(srv.url, 'SelectMergeStacktraces', {
      profile_typeID: CPU, label_selector: '{service_name="pushed", env="ci"}', ...ALL_TIME,
    });
    expect(Number(r.body.flamegraph.total)).toBe(pprofSum(file, 'cpu'));
  });
});
