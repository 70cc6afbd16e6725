import path from 'node:path';
import { readFileSync } from 'node:fs';
import { createClient } from '@connectrpc/connect';
import type { Client, Transport } from '@connectrpc/connect';
import { ConnectError, Code } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { Profile as PprofProfile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProfileStoreService } from '../../src/gen/parca/profilestore/v1alpha1/profilestore_pb.js';
import { QueryRequest_Mode, QueryRequest_ReportType, QueryService } from '../../src/gen/parca/query/v1alpha1/query_pb.js';
import type { FlamegraphNode } from '../../src/gen/parca/query/v1alpha1/query_pb.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { requireTestdata } from '../support/testdata.js';
import { pprofSum, pprofTimeMs } from './helpers.js';

let srv: TestServer;
const FILE = () => path.join(requireTestdata('pprof'), 'parca-fib.pb.gz');
const TYPE = 'parca_agent_cpu:samples:count:cpu:nanoseconds';
let at = 0;
const ts = (msSinceEpoch: number) => ({ seconds: BigInt(Math.floor(msSinceEpoch / 1000)), nanos: 0 });

function transports(): [string, Transport][] {
  return [
    // @parca/client speaks gRPC-web; Grafana's Parca data source gRPC-web too; Go clients gRPC.
    ['gRPC-web', createGrpcWebTransport({ baseUrl: srv.url, httpVersion: '1.1' })],
    ['gRPC', createGrpcTransport({ baseUrl: srv.url })],
    ['Connect JSON', createConnectTransport({ baseUrl: srv.url, httpVersion: '1.1' })],
  ];
}

beforeAll(async () => {
  srv = await startTestServer();
  at = pprofTimeMs(FILE());
  // A parca-agent-style WriteRaw: the agent's labels, __name__ naming the profile, the pprof gzipped as it sends it.
  const store: Client<typeof ProfileStoreService> = createClient(ProfileStoreService, createGrpcTransport({ baseUrl: srv.url }));
  await store.writeRaw({
    normalized: true,
    series: [{
      labels: { labels: [{ name: '__name__', value: 'parca_agent_cpu' }, { name: 'job', value: 'fib' }, { name: 'node', value: 'n1' }] },
      samples: [{ rawProfile: readFileSync(FILE()) }],
    }],
  });
});
afterAll(async () => {
  await srv?.close();
});

describe('parca.query.v1alpha1.QueryService over gRPC-web, gRPC and Connect', () => {
  it('lists profile types, labels and values of what a Parca agent wrote', async () => {
    for (const [name, t] of transports()) {
      const c = createClient(QueryService, t);
      const types = await c.profileTypes({});
      expect(types.types.map((x) => `${x.name}:${x.sampleType}:${x.sampleUnit}:${x.periodType}:${x.periodUnit}`), name).toContain(TYPE);
      expect(types.types.every((x) => x.delta), name).toBe(true);
      const labels = await c.labels({ match: [], start: ts(0), end: ts(Date.now()) });
      expect(labels.labelNames, name).toEqual(expect.arrayContaining(['job', 'node']));
      const values = await c.values({ labelName: 'job', match: [], start: ts(0), end: ts(Date.now()), profileType: `${TYPE}:delta` });
      expect(values.labelValues, name).toEqual(['fib']);
      expect((await c.hasProfileData({})).hasData, name).toBe(true);
    }
  });

  it('QueryRange sums the samples per step, per sum_by label set', async () => {
    const c = createClient(QueryService, transports()[0]![1]);
    const r = await c.queryRange({
      query: `${TYPE}:delta{job="fib"}`, start: ts(at - 60_000), end: ts(at + 60_000), step: { seconds: 10n, nanos: 0 }, sumBy: ['node'],
    });
    expect(r.series).toHaveLength(1);
    expect(r.series[0]!.labelset?.labels).toEqual([expect.objectContaining({ name: 'node', value: 'n1' })]);
    expect(r.series[0]!.sampleType).toMatchObject({ type: 'samples', unit: 'count' });
    const sum = r.series[0]!.samples.reduce((a, s) => a + Number(s.value), 0);
    expect(sum).toBe(pprofSum(FILE(), 'samples'));
  });

  it('Query MERGE answers FLAMEGRAPH_TABLE, TOP, PPROF and CALLGRAPH with the file\'s own totals', async () => {
    const want = pprofSum(FILE(), 'samples');
    const merge = { query: `${TYPE}:delta{job="fib"}`, start: ts(at - 60_000), end: ts(at + 60_000) };
    for (const [name, t] of transports()) {
      const c = createClient(QueryService, t);
      const ask = (reportType: QueryRequest_ReportType) => c.query({ mode: QueryRequest_Mode.MERGE, options: { case: 'merge', value: merge }, reportType });

      const fg = await ask(QueryRequest_ReportType.FLAMEGRAPH_TABLE);
      expect(fg.report.case, name).toBe('flamegraph');
      const root = fg.report.case === 'flamegraph' ? fg.report.value.root! : undefined;
      expect(Number(root?.cumulative), name).toBe(want);
      // Every node's cumulative is at least the sum of its children's.
      const check = (n: { cumulative: bigint; children: FlamegraphNode[] }) => {
        expect(n.children.reduce((a, ch) => a + ch.cumulative, 0n) <= n.cumulative).toBe(true);
        n.children.forEach(check);
      };
      check(root!);
      expect(root!.children[0]?.meta?.function?.name, name).not.toBe('');

      const top = await ask(QueryRequest_ReportType.TOP);
      const list = top.report.case === 'top' ? top.report.value.list : [];
      expect(list.reduce((a, n) => a + Number(n.flat), 0), name).toBe(want);
      expect(Number(top.total), name).toBe(want);

      const pprof = await ask(QueryRequest_ReportType.PPROF);
      const p = PprofProfile.decode(pprof.report.case === 'pprof' ? pprof.report.value : new Uint8Array());
      expect(p.sample.reduce((a, s) => a + Number(s.value[0]), 0), name).toBe(want);

      const cg = await ask(QueryRequest_ReportType.CALLGRAPH);
      const graph = cg.report.case === 'callgraph' ? cg.report.value : undefined;
      expect(graph!.nodes.reduce((a, n) => a + Number(n.flat), 0), name).toBe(want);
      const ids = new Set(graph!.nodes.map((n) => n.id));
      expect(graph!.edges.every((e) => ids.has(e.source) && ids.has(e.target)), name).toBe(true);
    }
  });

  it('Query DIFF of a selection against itself has zero diff everywhere; SINGLE reads the profile at its time', async () => {
    const c = createClient(QueryService, transports()[0]![1]);
    const merge = { query: `${TYPE}:delta{job="fib"}`, start: ts(at - 60_000), end: ts(at + 60_000) };
    const sel = { mode: 1, options: { case: 'merge' as const, value: merge } };
    const d = await c.query({ mode: QueryRequest_Mode.DIFF, options: { case: 'diff', value: { a: sel, b: sel } }, reportType: QueryRequest_ReportType.FLAMEGRAPH_TABLE });
    const root = d.report.case === 'flamegraph' ? d.report.value.root! : undefined;
    expect(Number(root?.cumulative)).toBe(pprofSum(FILE(), 'samples'));
    const diffs: bigint[] = [];
    const walk = (n: FlamegraphNode) => { diffs.push(n.diff); n.children.forEach(walk); };
    root!.children.forEach(walk);
    expect(diffs.length).toBeGreaterThan(0);
    expect(diffs.every((x) => x === 0n)).toBe(true);

    const single = await c.query({
      mode: QueryRequest_Mode.SINGLE_UNSPECIFIED,
      options: { case: 'single', value: { query: `${TYPE}:delta{job="fib"}`, time: { seconds: BigInt(Math.floor(at / 1000)), nanos: (at % 1000) * 1e6 } } },
      reportType: QueryRequest_ReportType.TOP,
    });
    expect(Number(single.total)).toBe(pprofSum(FILE(), 'samples'));
  });

  it('refuses what it cannot answer: SOURCE Unimplemented, filters InvalidArgument, Arrow writes Unimplemented', async () => {
    const c = createClient(QueryService, transports()[0]![1]);
    const merge = { query: `${TYPE}:delta{job="fib"}`, start: ts(at - 60_000), end: ts(at + 60_000) };
    const code = async (p: Promise<unknown>) => {
      try {
        await p;
        return undefined;
      } catch (e) {
        return ConnectError.from(e).code;
      }
    };
    expect(await code(c.query({ mode: QueryRequest_Mode.MERGE, options: { case: 'merge', value: merge }, reportType: QueryRequest_ReportType.SOURCE }))).toBe(Code.Unimplemented);
    expect(await code(c.query({
      mode: QueryRequest_Mode.MERGE, options: { case: 'merge', value: merge }, reportType: QueryRequest_ReportType.TOP,
      filter: [{ filter: { case: 'stackFilter', value: { filter: { case: 'criteria', value: { functionName: { condition: { case: 'contains', value: 'fib' } } } } } } }],
    }))).toBe(Code.InvalidArgument);
    const store = createClient(ProfileStoreService, createGrpcTransport({ baseUrl: srv.url }));
    expect(await code(store.writeArrow({ ipcBuffer: new Uint8Array([1]) }))).toBe(Code.Unimplemented);
    expect(await code((async () => {
      for await (const _ of store.write((async function* () { yield { record: new Uint8Array([1]) }; })())) void _;
    })())).toBe(Code.Unimplemented);
  });
});
