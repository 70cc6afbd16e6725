import { fromBinary } from '@bufbuild/protobuf';
import { Function as PprofFunction, Label, Line, Location, Profile as PprofProfile, Sample, StringTable, ValueType } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFlameGraph } from '../../src/formats/flamebearer.js';
import { SelectHeatmapResponseSchema, SelectMergeSpanProfileResponseSchema, SelectMergeStacktracesResponseSchema } from '../../src/gen/querier/v1/querier_pb.js';
import type { FlameGraph } from '../../src/gen/querier/v1/querier_pb.js';
import type { ProtoField } from '../support/proto-writer.js';
import { querierProtoCall } from './querier-proto.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { CPU, ingest, querier } from './helpers.js';

/*
 * Span profiles (Tempo's traces-to-profiles): a Pyroscope SDK labels the samples taken inside a traced
 * span with `span_id` (16 hex digits); Grafana asks SelectMergeSpanProfile for the spans of a trace
 * (pkg/tsdb/grafana-pyroscope-datasource GetSpanProfile: profile_typeID, label_selector, span_selector,
 * start, end, max_nodes) and reads names, levels, total and max_self. SelectMergeStacktraces narrows
 * by span_selector (field 11) the same way.
 */

const SPAN_A = '9a517183f26a089d';
const SPAN_B = '5a4fe264a9c987fe';
const MS = 1e6;
// (stack root→leaf, cpu ns, span id or none)
const SAMPLES: [string[], number, string | undefined][] = [
  [['main', 'handle', 'db'], 30 * MS, SPAN_A],
  [['main', 'handle', 'render'], 20 * MS, SPAN_A],
  [['main', 'handle', 'db'], 50 * MS, SPAN_B],
  [['main', 'gc'], 70 * MS, undefined],
  [['main', 'handle', 'db'], 10 * MS, undefined],
];

/** A Go SDK-style CPU pprof whose samples inside spans carry span_id (and span_name) labels. */
function spanPprof(): Uint8Array {
  const st = new StringTable();
  const names = [...new Set(SAMPLES.flatMap(([s]) => s))];
  const id = (n: string) => names.indexOf(n) + 1;
  return new PprofProfile({
    sampleType: [new ValueType({ type: st.dedup('samples'), unit: st.dedup('count') }), new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') })],
    periodType: new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') }),
    period: 10 * MS,
    timeNanos: T * 1e6,
    durationNanos: 10e9,
    function: names.map((n) => new PprofFunction({ id: id(n), name: st.dedup(n) })),
    location: names.map((n) => new Location({ id: id(n), address: 0x1000 + id(n), line: [new Line({ functionId: id(n) })] })),
    sample: SAMPLES.map(
      ([stack, ns, span]) =>
        new Sample({
          locationId: [...stack].reverse().map(id),
          value: [ns / (10 * MS), ns],
          label: span ? [new Label({ key: st.dedup('span_id'), str: st.dedup(span) }), new Label({ key: st.dedup('span_name'), str: st.dedup('HTTP GET') })] : [],
        }),
    ),
    stringTable: st,
  }).encode();
}

let srv: TestServer;
const T = Date.UTC(2026, 0, 7, 12, 0, 0);
const SELECTOR = '{service_name="traced"}';

const OTEL_SPAN = 'deadbeef00010203';

/**
 * OTLP/JSON as an OpenTelemetry Collector sends it (ids in hex): a CPU profile whose first sample links
 * to a span (link_table[1]) and whose second has no link (link_index 0).
 */
function otlpWithLink(): string {
  return JSON.stringify({
    resourceProfiles: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'otel-traced' } }] },
        scopeProfiles: [
          {
            profiles: [
              {
                sampleType: { typeStrindex: 1, unitStrindex: 2 },
                periodType: { typeStrindex: 1, unitStrindex: 2 },
                period: String(10 * MS),
                timeUnixNano: String(T * 1e6),
                durationNano: '10000000000',
                samples: [
                  { stackIndex: 1, values: [String(30 * MS)], linkIndex: 1 },
                  { stackIndex: 2, values: [String(5 * MS)] },
                ],
              },
            ],
          },
        ],
      },
    ],
    dictionary: {
      stringTable: ['', 'cpu', 'nanoseconds', 'work', 'idle'],
      functionTable: [{}, { nameStrindex: 3 }, { nameStrindex: 4 }],
      locationTable: [{}, { lines: [{ functionIndex: 1 }] }, { lines: [{ functionIndex: 2 }] }],
      stackTable: [{}, { locationIndices: [1] }, { locationIndices: [2] }],
      linkTable: [{}, { traceId: '0102030405060708090a0b0c0d0e0f10', spanId: OTEL_SPAN }],
    },
  });
}

beforeAll(async () => {
  srv = await startTestServer();
  const res = await ingest(srv.url, { name: 'traced{env=prod}', format: 'pprof', from: String(T / 1000), until: String(T / 1000 + 10) }, spanPprof());
  expect(res.status, await res.clone().text()).toBe(200);
  const otlp = await fetch(`${srv.url}/v1development/profiles`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: otlpWithLink() });
  expect(otlp.status, await otlp.text()).toBe(200);
});
afterAll(async () => {
  await srv?.close();
});

const protoCall = (method: string, fields: ProtoField[]) => querierProtoCall(srv.url, method, fields);

/** The flame graph as `root;…;leaf` → self value (from Kiln's flamebearer reader, written apart from the encoder). */
function selfByPath(fg: FlameGraph): Record<string, number> {
  const tree = fromFlameGraph({ names: fg.names, levels: fg.levels.map((l) => ({ values: l.values.map(Number) })) });
  const out: Record<string, number> = {};
  const walk = (n: typeof tree, path: string[]) => {
    const self = n.total - n.children.reduce((a, c) => a + c.total, 0);
    if (self > 0 && path.length > 0) out[path.join(';')] = self;
    for (const c of n.children) walk(c, [...path, c.name]);
  };
  walk(tree, []);
  return out;
}

const spanRequest = (spans: string[], maxNodes?: number): ProtoField[] => [
  [1, 'string', CPU],
  [2, 'string', SELECTOR],
  ...spans.map((s): ProtoField => [3, 'string', s]),
  [4, 'varint', T - 60_000],
  [5, 'varint', T + 60_000],
  ...(maxNodes !== undefined ? [[6, 'varint', maxNodes] as ProtoField] : []),
];

async function spanFlame(spans: string[]): Promise<FlameGraph | undefined> {
  const r = await protoCall('SelectMergeSpanProfile', spanRequest(spans));
  expect(r.status, r.text).toBe(200);
  return fromBinary(SelectMergeSpanProfileResponseSchema, r.bytes).flamegraph;
}

describe('SelectMergeSpanProfile (Grafana GetSpanProfile, protobuf)', () => {
  it('merges only the samples recorded inside the given spans: names, levels, total, max_self', async () => {
    const one = await protoCall('SelectMergeSpanProfile', spanRequest([SPAN_A], 16384));
    expect(one.status, one.text).toBe(200);
    const a = fromBinary(SelectMergeSpanProfileResponseSchema, one.bytes).flamegraph!;
    expect(Number(a.total)).toBe(50 * MS);
    expect(Number(a.maxSelf)).toBe(30 * MS);
    expect(selfByPath(a)).toEqual({ 'main;handle;db': 30 * MS, 'main;handle;render': 20 * MS });

    const both = (await spanFlame([SPAN_A, SPAN_B]))!;
    expect(Number(both.total)).toBe(100 * MS);
    expect(selfByPath(both)).toEqual({ 'main;handle;db': 80 * MS, 'main;handle;render': 20 * MS });

    // A span nobody recorded: an empty flame graph, not the whole profile.
    const none = await spanFlame(['0000000000000001']);
    expect(Number(none?.total ?? 0)).toBe(0);
  });

  it('refuses a span id that is not 16 hex digits, and an empty span selector, with InvalidArgument', async () => {
    for (const spans of [['xyz'], []]) {
      const r = await protoCall('SelectMergeSpanProfile', spanRequest(spans));
      expect(r.status).toBe(400);
      expect(JSON.parse(r.text)).toEqual({ code: 'invalid_argument', message: expect.stringMatching(/span/) });
    }
  });
});

describe('span heatmaps and span exemplars (Grafana GetHeatmap with HEATMAP_QUERY_TYPE_SPAN)', () => {
  const range: ProtoField[] = [
    [3, 'varint', T - 60_000],
    [4, 'varint', T + 60_000],
  ];
  it('counts each span of each profile by the sum of its samples, with span ids as exemplars', async () => {
    const r = await protoCall('SelectHeatmap', [[1, 'string', CPU], [2, 'string', SELECTOR], ...range, [5, 'double', 60], [7, 'varint', 2], [8, 'varint', 3]]);
    expect(r.status, r.text).toBe(200);
    const series = fromBinary(SelectHeatmapResponseSchema, r.bytes).series;
    expect(series).toHaveLength(1);
    const slots = series[0]!.slots;
    // Two spans of 50 ms each in the profile at T: one slot (T - 60 s, T], both in the first bucket.
    expect(slots.map((s) => Number(s.timestamp))).toEqual([T]);
    expect(slots[0]!.counts.reduce((a, b) => a + b, 0)).toBe(2);
    expect(slots[0]!.exemplars).toHaveLength(1);
    const ex = slots[0]!.exemplars[0]!;
    expect([SPAN_A, SPAN_B]).toContain(ex.spanId);
    expect([Number(ex.value), Number(ex.timestamp), ex.profileId]).toEqual([50 * MS, T, '']);
  });

  it('SelectSeries with EXEMPLAR_TYPE_SPAN names the heaviest span of each point', async () => {
    const r = await querier<{ series: { points: { value: number; exemplars?: { spanId: string; value: string }[] }[] }[] }>(srv.url, 'SelectSeries', {
      profileTypeID: CPU,
      labelSelector: '{service_name="otel-traced"}',
      start: String(T - 60_000),
      end: String(T + 60_000),
      step: 60,
      exemplarType: 'EXEMPLAR_TYPE_SPAN',
    });
    expect(r.status).toBe(200);
    const points = r.body.series[0]!.points;
    expect(points.map((p) => p.value)).toEqual([35 * MS]);
    expect(points[0]!.exemplars).toEqual([expect.objectContaining({ spanId: OTEL_SPAN, value: String(30 * MS) })]);
  });
});

describe('span ids from OTLP sample links', () => {
  it('keeps the span of a linked sample, so its span profile holds that sample only', async () => {
    const r = await querier<{ flamegraph: { total: string; names: string[] } }>(srv.url, 'SelectMergeSpanProfile', {
      profileTypeID: CPU,
      labelSelector: '{service_name="otel-traced"}',
      spanSelector: [OTEL_SPAN],
      start: String(T - 60_000),
      end: String(T + 60_000),
    });
    expect(r.status).toBe(200);
    expect(r.body.flamegraph.total).toBe(String(30 * MS));
    expect(r.body.flamegraph.names).toEqual(['total', 'work']);
    const whole = await querier<{ flamegraph: { total: string } }>(srv.url, 'SelectMergeStacktraces', {
      profileTypeID: CPU,
      labelSelector: '{service_name="otel-traced"}',
      start: String(T - 60_000),
      end: String(T + 60_000),
    });
    expect(whole.body.flamegraph.total).toBe(String(35 * MS));
  });
});

describe('span selectors in JSON and on SelectMergeStacktraces', () => {
  it('SelectMergeSpanProfile in Connect JSON', async () => {
    const r = await querier<{ flamegraph: { total: string; names: string[] } }>(srv.url, 'SelectMergeSpanProfile', {
      profileTypeID: CPU,
      labelSelector: SELECTOR,
      spanSelector: [SPAN_B],
      start: String(T - 60_000),
      end: String(T + 60_000),
    });
    expect(r.status).toBe(200);
    expect(r.body.flamegraph.total).toBe(String(50 * MS));
    expect(r.body.flamegraph.names).toEqual(expect.arrayContaining(['db']));
    expect(r.body.flamegraph.names).not.toContain('gc');
  });

  it('SelectMergeStacktraces honours span_selector (field 11) and merges everything without it', async () => {
    const base: ProtoField[] = [
      [1, 'string', CPU],
      [2, 'string', SELECTOR],
      [3, 'varint', T - 60_000],
      [4, 'varint', T + 60_000],
    ];
    const narrowed = await protoCall('SelectMergeStacktraces', [...base, [11, 'string', SPAN_A]]);
    expect(narrowed.status, narrowed.text).toBe(200);
    expect(Number(fromBinary(SelectMergeStacktracesResponseSchema, narrowed.bytes).flamegraph!.total)).toBe(50 * MS);
    const whole = fromBinary(SelectMergeStacktracesResponseSchema, (await protoCall('SelectMergeStacktraces', base)).bytes).flamegraph!;
    expect(Number(whole.total)).toBe(180 * MS);
    // span_id and span_name never become series labels.
    const names = await querier<{ names: string[] }>(srv.url, 'LabelNames', { matchers: [SELECTOR], start: String(T - 60_000), end: String(T + 60_000) });
    expect(names.body.names).not.toContain('span_id');
    expect(names.body.names).not.toContain('span_name');
  });
});
