import { fromBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalyzeQueryResponseSchema, SelectHeatmapResponseSchema, SelectMergeStacktracesResponseSchema, SelectSeriesResponseSchema } from '../../src/gen/querier/v1/querier_pb.js';
import type { ProtoField } from '../support/proto-writer.js';
import { querierProtoCall } from './querier-proto.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { CPU, ingest, querier } from './helpers.js';

/*
 * querier.v1 SelectHeatmap, SelectSeries exemplars and AnalyzeQuery, called as Grafana's Pyroscope data
 * source calls them (pkg/tsdb/grafana-pyroscope-datasource: GetHeatmap, GetSeries with an exemplar type)
 * — connect-go, `application/proto`, requests encoded here by Pyroscope's field numbers — and as
 * Connect JSON; every field the data source reads is checked.
 */

let srv: TestServer;
const T = Date.UTC(2026, 0, 7, 12, 0, 0);
const sec = (ms: number) => String(Math.floor(ms / 1000));

// Profiles of service "api" (time offset s → total) and one of "db" the selector leaves out.
const PROFILES: [string, number, number][] = [
  ['api{pod=a}', 5, 10],
  ['api{pod=a}', 15, 20],
  ['api{pod=b}', 15, 100],
  ['api{pod=b}', 65, 40],
  ['api{pod=b}', 100, 40],
  ['db{pod=d}', 5, 7],
];

beforeAll(async () => {
  srv = await startTestServer();
  for (const [name, at, total] of PROFILES) {
    const res = await ingest(srv.url, { name, format: 'folded', profile_type: CPU, from: sec(T + at * 1000), until: sec(T + at * 1000 + 10_000) }, `main;work ${total}\n`);
    expect(res.status, await res.clone().text()).toBe(200);
  }
});
afterAll(async () => {
  await srv?.close();
});

const protoCall = (method: string, fields: ProtoField[]) => querierProtoCall(srv.url, method, fields);

const API = '{service_name="api"}';
const START = T;
const END = T + 120_000;
/** The 20 value buckets over the answer's totals, 10 … 100. */
const Y_MIN = Array.from({ length: 20 }, (_, i) => 10 + i * 4.5);
const counts = (cells: Record<number, number>) => Array.from({ length: 20 }, (_, i) => cells[i] ?? 0);

/** SelectHeatmapRequest by Pyroscope's field numbers. */
function heatmapRequest(opts: { groupBy?: string[]; queryType?: number; exemplarType?: number; limit?: number; step?: number; start?: number }): ProtoField[] {
  const f: ProtoField[] = [
    [1, 'string', CPU],
    [2, 'string', API],
    [3, 'varint', opts.start ?? START],
    [4, 'varint', END],
    [5, 'double', opts.step ?? 60],
  ];
  for (const g of opts.groupBy ?? []) f.push([6, 'string', g]);
  f.push([7, 'varint', opts.queryType ?? 1]);
  if (opts.exemplarType !== undefined) f.push([8, 'varint', opts.exemplarType]);
  if (opts.limit !== undefined) f.push([9, 'varint', opts.limit]);
  return f;
}

describe('SelectHeatmap (Grafana GetHeatmap, protobuf)', () => {
  it('counts each profile in its slot (right edge) and value bucket, with the heaviest profile of each cell as exemplar', async () => {
    const r = await protoCall('SelectHeatmap', heatmapRequest({ exemplarType: 2 }));
    expect(r.status, r.text).toBe(200);
    const { series } = fromBinary(SelectHeatmapResponseSchema, r.bytes);
    expect(series).toHaveLength(1);
    expect(series[0]!.labels).toEqual([]);
    const slots = series[0]!.slots;
    // Slots cover (T, T+60 s] and (T+60 s, T+120 s]: 10, 20, 100 in the first; 40, 40 in the second.
    expect(slots.map((s) => Number(s.timestamp))).toEqual([T + 60_000, T + 120_000]);
    for (const s of slots) expect(s.yMin).toEqual(Y_MIN);
    expect(slots[0]!.counts).toEqual(counts({ 0: 1, 2: 1, 19: 1 }));
    expect(slots[1]!.counts).toEqual(counts({ 6: 2 }));
    const ex = slots[0]!.exemplars;
    expect(ex.map((e) => [Number(e.value), Number(e.timestamp)])).toEqual([
      [10, T + 5_000],
      [20, T + 15_000],
      [100, T + 15_000],
    ]);
    for (const e of ex) {
      expect(e.profileId).toMatch(/^[0-9a-f]{16}$/);
      expect(e.spanId).toBe('');
    }
    expect(new Set(ex.map((e) => e.profileId)).size).toBe(3);
    expect(Object.fromEntries(ex[2]!.labels.map((l) => [l.name, l.value]))).toEqual({ pod: 'b', service_name: 'api' });
  });

  it('groups by a label (exemplars then carry only the labels the series does not), and limit keeps the series with most profiles', async () => {
    const r = await protoCall('SelectHeatmap', heatmapRequest({ groupBy: ['pod'], exemplarType: 2 }));
    expect(r.status, r.text).toBe(200);
    const { series } = fromBinary(SelectHeatmapResponseSchema, r.bytes);
    expect(series.map((s) => s.labels)).toEqual([[expect.objectContaining({ name: 'pod', value: 'a' })], [expect.objectContaining({ name: 'pod', value: 'b' })]]);
    const b = series[1]!;
    expect(b.slots.map((s) => s.counts.reduce((x, y) => x + y, 0))).toEqual([1, 2]);
    expect(b.slots[0]!.exemplars[0]!.labels.map((l) => [l.name, l.value])).toEqual([['service_name', 'api']]);

    const top = fromBinary(SelectHeatmapResponseSchema, (await protoCall('SelectHeatmap', heatmapRequest({ groupBy: ['pod'], limit: 1 }))).bytes);
    expect(top.series.map((s) => s.labels[0]?.value)).toEqual(['b']);
    // No exemplar type asked: none sent.
    expect(top.series[0]!.slots.every((s) => s.exemplars.length === 0)).toBe(true);
  });

  it('refuses what Pyroscope refuses, with InvalidArgument naming the field', async () => {
    for (const [req, msg] of [
      [heatmapRequest({ step: 0.0005 }), /step must be >= 1ms/],
      [heatmapRequest({ start: END }), /start time must be before end time/],
      [heatmapRequest({ queryType: 1, exemplarType: 3 }), /EXEMPLAR_TYPE_SPAN does not match query_type HEATMAP_QUERY_TYPE_INDIVIDUAL/],
    ] as const) {
      const r = await protoCall('SelectHeatmap', [...req]);
      expect(r.status).toBe(400);
      expect(JSON.parse(r.text)).toEqual({ code: 'invalid_argument', message: expect.stringMatching(msg) });
    }
  });
});

describe('SelectHeatmap and exemplars in Connect JSON', () => {
  it('answers the same heatmap in JSON (int64 as strings, enums by name)', async () => {
    const r = await querier<{ series: { labels?: unknown[]; slots: { timestamp: string; yMin: number[]; counts: number[]; exemplars?: { profileId: string; value: string; timestamp: string }[] }[] }[] }>(
      srv.url,
      'SelectHeatmap',
      { profileTypeID: CPU, labelSelector: API, start: String(START), end: String(END), step: 60, queryType: 'HEATMAP_QUERY_TYPE_INDIVIDUAL', exemplarType: 'EXEMPLAR_TYPE_INDIVIDUAL' },
    );
    expect(r.status).toBe(200);
    const slots = r.body.series[0]!.slots;
    expect(slots.map((s) => s.timestamp)).toEqual([String(T + 60_000), String(T + 120_000)]);
    expect(slots[1]!.counts).toEqual(counts({ 6: 2 }));
    expect(slots[1]!.yMin).toEqual(Y_MIN);
    expect(slots[1]!.exemplars!.map((e) => e.value)).toEqual(['40']);
  });

  it('SelectSeries with EXEMPLAR_TYPE_INDIVIDUAL gives each point its heaviest profile, the same id the heatmap names', async () => {
    const step = 60;
    const series = await protoCall('SelectSeries', [
      [1, 'string', CPU],
      [2, 'string', API],
      [3, 'varint', START],
      [4, 'varint', END],
      [6, 'double', step],
      [10, 'varint', 2],
    ]);
    expect(series.status, series.text).toBe(200);
    const points = fromBinary(SelectSeriesResponseSchema, series.bytes).series[0]!.points;
    // Kiln stamps a point with its bucket's start: [T, T+60 s) holds 10 + 20 + 100.
    expect(points.map((p) => [Number(p.timestamp), p.value])).toEqual([
      [T, 130],
      [T + 60_000, 80],
    ]);
    expect(points.map((p) => p.exemplars.map((e) => Number(e.value)))).toEqual([[100], [40]]);
    const heat = fromBinary(SelectHeatmapResponseSchema, (await protoCall('SelectHeatmap', heatmapRequest({ exemplarType: 2 }))).bytes);
    const heaviest = heat.series[0]!.slots[0]!.exemplars.find((e) => e.value === 100n)!;
    expect(points[0]!.exemplars[0]!.profileId).toBe(heaviest.profileId);
    expect(Number(points[0]!.exemplars[0]!.timestamp)).toBe(T + 15_000);

    const json = await querier<{ series: { points: { exemplars?: { profileId: string; value: string }[] }[] }[] }>(srv.url, 'SelectSeries', {
      profileTypeID: CPU,
      labelSelector: API,
      start: String(START),
      end: String(END),
      step,
      exemplarType: 'EXEMPLAR_TYPE_INDIVIDUAL',
    });
    expect(json.status).toBe(200);
    expect(json.body.series[0]!.points[0]!.exemplars).toEqual([expect.objectContaining({ profileId: heaviest.profileId, value: '100' })]);
    // Without an exemplar type, no exemplars.
    const plain = await querier<{ series: { points: { exemplars?: unknown[] }[] }[] }>(srv.url, 'SelectSeries', { profileTypeID: CPU, labelSelector: API, start: String(START), end: String(END), step });
    expect(plain.body.series[0]!.points.every((p) => (p.exemplars ?? []).length === 0)).toBe(true);
  });
});

describe('profile_id_selector: the profile behind an exemplar', () => {
  it('SelectMergeStacktraces (field 8) and SelectMergeProfile (field 7) merge only the profiles named, as exemplars name them', async () => {
    const heat = fromBinary(SelectHeatmapResponseSchema, (await protoCall('SelectHeatmap', heatmapRequest({ exemplarType: 2 }))).bytes);
    const [light, , heavy] = heat.series[0]!.slots[0]!.exemplars;
    const base: ProtoField[] = [
      [1, 'string', CPU],
      [2, 'string', API],
      [3, 'varint', START],
      [4, 'varint', END],
    ];
    const one = await protoCall('SelectMergeStacktraces', [...base, [8, 'string', heavy!.profileId]]);
    expect(one.status, one.text).toBe(200);
    expect(fromBinary(SelectMergeStacktracesResponseSchema, one.bytes).flamegraph!.total).toBe(100n);
    const two = await protoCall('SelectMergeStacktraces', [...base, [8, 'string', heavy!.profileId], [8, 'string', light!.profileId]]);
    expect(fromBinary(SelectMergeStacktracesResponseSchema, two.bytes).flamegraph!.total).toBe(110n);

    const pprof = await querier<{ sample: { value: string[] }[] }>(srv.url, 'SelectMergeProfile', {
      profileTypeID: CPU,
      labelSelector: API,
      start: String(START),
      end: String(END),
      profileIdSelector: [light!.profileId],
    });
    expect(pprof.status).toBe(200);
    expect(pprof.body.sample.reduce((a, x) => a + Number(x.value[0]), 0)).toBe(10);
    // An id outside the label selector selects nothing.
    const other = await protoCall('SelectMergeStacktraces', [[1, 'string', CPU], [2, 'string', '{service_name="db"}'], [3, 'varint', START], [4, 'varint', END], [8, 'string', heavy!.profileId]]);
    expect(Number(fromBinary(SelectMergeStacktracesResponseSchema, other.bytes).flamegraph?.total ?? 0n)).toBe(0);
  });
});

describe('AnalyzeQuery', () => {
  it('reports the series, profiles and sample rows the store holds for the query, in protobuf and JSON', async () => {
    const r = await protoCall('AnalyzeQuery', [
      [2, 'varint', START],
      [3, 'varint', END],
      [4, 'string', `${CPU}${API}`],
    ]);
    expect(r.status, r.text).toBe(200);
    const a = fromBinary(AnalyzeQueryResponseSchema, r.bytes);
    expect(a.queryScopes).toHaveLength(1);
    const scope = a.queryScopes[0]!;
    expect([scope.componentType, scope.seriesCount, scope.profileCount, scope.sampleCount]).toEqual(['store', 2n, 5n, 5n]);
    expect(scope.profileBytes).toBeGreaterThan(0n);
    expect(a.queryImpact).toEqual(expect.objectContaining({ totalQueriedSeries: 2n, totalBytesInTimeRange: scope.profileBytes, deduplicationNeeded: false }));

    // A selector without a type counts every type; one the store does not hold counts nothing.
    const all = await querier<{ queryScopes: { seriesCount: string; profileCount: string }[]; queryImpact: { totalQueriedSeries: string } }>(srv.url, 'AnalyzeQuery', {
      start: String(START),
      end: String(END),
      query: '{}',
    });
    expect(all.status).toBe(200);
    expect(all.body.queryScopes[0]).toEqual(expect.objectContaining({ seriesCount: '3', profileCount: '6' }));
    const none = await querier<{ queryScopes: { seriesCount?: string }[] }>(srv.url, 'AnalyzeQuery', { start: String(START), end: String(END), query: '{service_name="nope"}' });
    expect(none.body.queryScopes[0]!.seriesCount ?? '0').toBe('0');
  });
});
