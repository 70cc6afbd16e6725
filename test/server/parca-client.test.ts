import path from 'node:path';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { ProfileDiffSelection_Mode, QueryRequest_Mode, QueryRequest_ReportType, QueryServiceClient } from '@parca/client';
import type { FlamegraphNode, QueryResponse } from '@parca/client';
import { GrpcWebFetchTransport } from '@protobuf-ts/grpcweb-transport';
import { tableFromIPC } from 'apache-arrow';
import type { Table } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLAMEGRAPH_ARROW_COLUMNS } from '../../src/formats/parca-arrow.js';
import { TABLE_ARROW_COLUMNS } from '../../src/formats/parca-table-arrow.js';
import { ProfileStoreService } from '../../src/gen/parca/profilestore/v1alpha1/profilestore_pb.js';
import { decodePprof, expectedFor } from '../support/pprof-expected.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { pprofFiles, requireTestdata } from '../support/testdata.js';
import { pprofTimeMs } from './helpers.js';

/**
 * The real `@parca/client` (QueryServiceClient, what the Parca UI is built on) over gRPC-web against
 * a real Kiln server, after a parca-agent-style WriteRaw of every pprof in the corpus over gRPC.
 */
let srv: TestServer;
let parca: QueryServiceClient;
const FIB = () => path.join(requireTestdata('pprof'), 'parca-fib.pb.gz');
const FIB_TYPE = 'parca_agent_cpu:samples:count:cpu:nanoseconds';
const ts = (msSinceEpoch: number) => ({ seconds: BigInt(Math.floor(msSinceEpoch / 1000)), nanos: (msSinceEpoch % 1000) * 1e6 });
const EVER = { start: ts(0), end: ts(Date.now() + 86_400_000) };
/** One job per corpus file (parca-many/ is one job of ten profiles), so each reads back alone. */
const jobOf = (file: string) => path.relative(requireTestdata('pprof'), file).split(path.sep)[0]!;

/** What parca-agent (pprof mode) names a profile it pushes: its CPU profiles are `parca_agent_cpu`. */
function agentName(file: string): string | undefined {
  const p = decodePprof(file);
  return p.stringTable.strings[Number(p.periodType?.type ?? 0)] === 'cpu' ? 'parca_agent_cpu' : undefined;
}

beforeAll(async () => {
  srv = await startTestServer();
  parca = new QueryServiceClient(new GrpcWebFetchTransport({ baseUrl: `${srv.url}/api`, format: 'binary' }));
  // parca-agent speaks gRPC (h2c) to its remote store: one series per process, the labels it
  // attaches, each raw profile gzipped, `normalized` since the agent already made addresses relative.
  const store = createClient(ProfileStoreService, createGrpcTransport({ baseUrl: srv.url }));
  const byJob = new Map<string, string[]>();
  for (const f of pprofFiles()) byJob.set(jobOf(f), [...(byJob.get(jobOf(f)) ?? []), f]);
  for (const [job, files] of byJob) {
    const name = agentName(files[0]!);
    await store.writeRaw({
      normalized: true,
      series: [{
        labels: {
          labels: [
            ...(name ? [{ name: '__name__', value: name }] : []),
            // parca-agent's process labels (comm is the kernel's 15-character name) plus a job to tell files apart.
            { name: 'cgroup_name', value: '/system.slice/app.service' },
            { name: 'comm', value: job.slice(0, 15) },
            { name: 'executable', value: `/usr/bin/${job}` },
            { name: 'job', value: job },
            { name: 'node', value: 'node-1' },
            { name: 'pid', value: '4242' },
            { name: 'ppid', value: '1' },
          ],
        },
        samples: files.map((f) => {
          const raw = readFileSync(f);
          return { rawProfile: raw[0] === 0x1f && raw[1] === 0x8b ? raw : gzipSync(raw) };
        }),
      }],
    });
  }
});
afterAll(async () => {
  await srv?.close();
});

function arrowOf(r: QueryResponse): { table: Table; height: number; trimmed: bigint; unit: string } {
  if (r.report.oneofKind !== 'flamegraphArrow') throw new Error(`expected flamegraphArrow, got ${r.report.oneofKind}`);
  const a = r.report.flamegraphArrow;
  return { table: tableFromIPC(a.record), height: a.height, trimmed: a.trimmed, unit: a.unit };
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const utf8 = new TextDecoder();
const nameAt = (t: Table, row: number): string | null => {
  const v: unknown = t.getChild('function_name')?.get(row);
  return v instanceof Uint8Array ? utf8.decode(v) : null;
};

function tableArrowOf(r: QueryResponse): Table {
  if (r.report.oneofKind !== 'tableArrow') throw new Error(`expected tableArrow, got ${r.report.oneofKind}`);
  return tableFromIPC(r.report.tableArrow.record);
}

/** A TABLE_ARROW column by function name (zeros left out), checking the caller/callee rows agree. */
function tableByName(t: Table, column: string): Map<string, number> {
  expect(t.schema.fields.map((f) => f.name)).toEqual([...TABLE_ARROW_COLUMNS]);
  expect(String(t.schema.fields.find((f) => f.name === 'function_name')?.type)).toBe('Dictionary<Uint32, Utf8>');
  const rows = (name: string, row: number) => [...((t.getChild(name)?.get(row) as Iterable<bigint> | null) ?? [])].map(Number);
  const out = new Map<string, number>();
  for (let row = 0; row < t.numRows; row++) {
    for (const callee of rows('callees', row)) expect(rows('callers', callee)).toContain(row);
    for (const caller of rows('callers', row)) expect(rows('callees', caller)).toContain(row);
    const v = num(t.getChild(column)?.get(row));
    if (v !== 0) out.set(String(t.getChild('function_name')?.get(row)), v);
  }
  return out;
}

/**
 * Grafana's Parca data source (pkg/tsdb/parca) turns the record into a nested set: depth first from
 * the root's children, each row's children in list order, named by function (or address) — rows as
 * `level name cumulative`.
 */
function grafanaNestedSet(t: Table): string[] {
  const kids = (row: number) => [...((t.getChild('children')?.get(row) as Iterable<number> | null) ?? [])].map(Number);
  const out = [`0 total ${num(t.getChild('cumulative')?.get(0))}`];
  const stack = kids(0).map((row) => ({ row, level: 1 }));
  while (stack.length > 0) {
    const { row, level } = stack.shift()!;
    stack.unshift(...kids(row).map((r) => ({ row: r, level: level + 1 })));
    out.push(`${level} ${nameAt(t, row) ?? `0x${num(t.getChild('location_address')?.get(row)).toString(16)}`} ${num(t.getChild('cumulative')?.get(row))}`);
  }
  return out;
}

/** Sum of `flat` per function name over every row. */
function flatByName(t: Table): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 1; i < t.numRows; i++) {
    const flat = num(t.getChild('flat')?.get(i));
    if (flat !== 0) out.set(nameAt(t, i)!, (out.get(nameAt(t, i)!) ?? 0) + flat);
  }
  return out;
}

/** Everything the Parca UI relies on to draw without walking the tree. */
function checkShape(t: Table): void {
  const col = (name: string, row: number) => t.getChild(name)?.get(row) as unknown;
  expect(t.schema.fields.map((f) => f.name)).toEqual([...FLAMEGRAPH_ARROW_COLUMNS]);
  // Grafana's Parca data source reads these with fixed Go type assertions: any other type panics it.
  const typeOf = (name: string) => String(t.schema.fields.find((f) => f.name === name)?.type);
  expect(typeOf('function_name')).toBe('Dictionary<Int32, Binary>');
  expect(typeOf('mapping_file')).toBe('Dictionary<Int32, Binary>');
  expect(typeOf('children')).toBe('List<Uint32>');
  expect(typeOf('location_address')).toBe('Uint64');
  expect(typeOf('cumulative')).toMatch(/^Uint(8|16|32|64)$/);
  expect(num(col('parent', 0))).toBe(-1);
  expect(num(col('depth', 0))).toBe(0);
  // The root row has no location; a labels_only row would be drawn as a label set, not a function.
  expect([col('labels_only', 0), col('location_address', 0), nameAt(t, 0)]).toEqual([null, null, null]);
  for (let row = 1; row < t.numRows; row++) {
    expect([col('labels_only', row), col('inlined', row), col('location_address', row), col('timestamp', row)]).toEqual([false, false, 0n, 0n]);
    expect([col('mapping_file', row), col('function_file_name', row), col('location_line', row)]).toEqual([null, null, null]);
  }
  for (let row = 1; row < t.numRows; row++) {
    const parent = num(col('parent', row));
    expect(parent).toBeLessThan(row);
    expect(num(col('depth', row))).toBe(num(col('depth', parent)) + 1);
    expect(nameAt(t, row)).not.toBe('');
  }
  for (let row = 0; row < t.numRows; row++) {
    const kids = [...((col('children', row) as Iterable<number> | null) ?? [])].map(Number);
    let offset = num(col('value_offset', row));
    let sum = 0;
    for (const k of kids) {
      expect(num(col('parent', k))).toBe(row);
      expect(num(col('value_offset', k))).toBe(offset);
      offset += num(col('cumulative', k));
      sum += num(col('cumulative', k));
    }
    expect(sum + (row === 0 ? 0 : num(col('flat', row)))).toBeLessThanOrEqual(num(col('cumulative', row)));
  }
}

describe('@parca/client QueryServiceClient over gRPC-web (the Parca UI path, /api)', () => {
  it('is served at the root too, where Grafana\'s Parca data source calls', async () => {
    const root = new QueryServiceClient(new GrpcWebFetchTransport({ baseUrl: srv.url, format: 'binary' }));
    const { response } = await root.profileTypes({});
    expect(response.types.map((x) => x.name)).toContain('parca_agent_cpu');
  });

  it('ProfileTypes, Labels and Values list what the agent wrote', async () => {
    const { response: types } = await parca.profileTypes({});
    const ids = types.types.map((x) => `${x.name}:${x.sampleType}:${x.sampleUnit}:${x.periodType}:${x.periodUnit}`);
    expect(ids).toContain(FIB_TYPE);
    expect(types.types.every((x) => x.delta)).toBe(true);
    const { response: labels } = await parca.labels({ match: [], ...EVER, profileType: `${FIB_TYPE}:delta` });
    expect(labels.labelNames).toEqual(expect.arrayContaining(['cgroup_name', 'comm', 'executable', 'job', 'node', 'pid', 'ppid']));
    const { response: values } = await parca.values({ labelName: 'job', match: [], ...EVER, profileType: `${FIB_TYPE}:delta` });
    expect(values.labelValues).toContain('parca-fib.pb.gz');
    expect(values.labelValues).not.toContain('pyroscope-heap');
  });

  it('QueryRange sums the samples of every step', async () => {
    const at = pprofTimeMs(FIB());
    const { response } = await parca.queryRange({
      query: `${FIB_TYPE}:delta{job="parca-fib.pb.gz"}`, start: ts(at - 60_000), end: ts(at + 60_000),
      step: { seconds: 15n, nanos: 0 }, limit: 10, sumBy: ['job'],
    });
    expect(response.series).toHaveLength(1);
    expect(response.series[0]!.labelset?.labels).toEqual([{ name: 'job', value: 'parca-fib.pb.gz' }]);
    expect(response.series[0]!.samples.reduce((a, s) => a + Number(s.value), 0)).toBe(expectedFor(decodePprof(FIB()), 0).total);
  });

  it('Query MERGE answers every report type Kiln serves with the file\'s own totals', async () => {
    const want = expectedFor(decodePprof(FIB()), 0);
    const merge = { query: `${FIB_TYPE}:delta{job="parca-fib.pb.gz"}`, ...EVER };
    const ask = async (reportType: QueryRequest_ReportType) =>
      (await parca.query({ mode: QueryRequest_Mode.MERGE, options: { oneofKind: 'merge', merge }, reportType, filter: [] })).response;

    const arrow = arrowOf(await ask(QueryRequest_ReportType.FLAMEGRAPH_ARROW));
    checkShape(arrow.table);
    expect(arrow.unit).toBe('count');
    expect(arrow.trimmed).toBe(0n);
    expect(num(arrow.table.getChild('cumulative')?.get(0))).toBe(want.total);
    // Each function's own samples, summed over the rows it appears on, are the file's.
    const flat = flatByName(arrow.table);
    expect(Object.fromEntries(flat)).toEqual(Object.fromEntries(want.self));
    const maxDepth = Math.max(...[...arrow.table.getChild('depth')!].map(Number));
    expect(arrow.height).toBe(maxDepth + 1);

    const table = await ask(QueryRequest_ReportType.FLAMEGRAPH_TABLE);
    if (table.report.oneofKind !== 'flamegraph') throw new Error(`FLAMEGRAPH_TABLE answered ${table.report.oneofKind}`);
    expect(Number(table.report.flamegraph.root?.cumulative)).toBe(want.total);
    expect(Number(table.total)).toBe(want.total);
    // Read as Grafana's Parca data source reads the Arrow record, it is the same flame graph as the table report.
    const fromTable: string[] = [];
    const walk = (n: FlamegraphNode, level: number) => {
      fromTable.push(`${level} ${n.meta?.function?.name} ${n.cumulative}`);
      n.children.forEach((c) => walk(c, level + 1));
    };
    table.report.flamegraph.root!.children.forEach((c) => walk(c, 1));
    expect(grafanaNestedSet(arrow.table).slice(1)).toEqual(fromTable);

    const top = await ask(QueryRequest_ReportType.TOP);
    if (top.report.oneofKind !== 'top') throw new Error(`TOP answered ${top.report.oneofKind}`);
    expect(Object.fromEntries(top.report.top.list.filter((n) => n.flat !== 0n).map((n) => [n.meta?.function?.name, Number(n.flat)]))).toEqual(Object.fromEntries(want.self));

    const pprof = await ask(QueryRequest_ReportType.PPROF);
    expect(pprof.report.oneofKind).toBe('pprof');
    expect(Number(pprof.total)).toBe(want.total);

    const table2 = tableArrowOf(await ask(QueryRequest_ReportType.TABLE_ARROW));
    expect(Object.fromEntries(tableByName(table2, 'flat'))).toEqual(Object.fromEntries(want.self));
    expect(Object.fromEntries(tableByName(table2, 'cumulative'))).toEqual(Object.fromEntries(want.cumulative));
    expect([...table2.getChild('cumulative_diff')!].every((v) => v === null)).toBe(true);

    const cg = await ask(QueryRequest_ReportType.CALLGRAPH);
    if (cg.report.oneofKind !== 'callgraph') throw new Error(`CALLGRAPH answered ${cg.report.oneofKind}`);
    expect(cg.report.callgraph.nodes.reduce((a, n) => a + Number(n.flat), 0)).toBe(want.total);
  });

  it('FLAMEGRAPH_ARROW honours node_trim_threshold (a percentage, as Parca reads it) and reports what it left out', async () => {
    const want = expectedFor(decodePprof(FIB()), 0);
    const merge = { query: `${FIB_TYPE}:delta{job="parca-fib.pb.gz"}`, ...EVER };
    const rowsAt = async (nodeTrimThreshold: number) => {
      const { response } = await parca.query({
        mode: QueryRequest_Mode.MERGE, options: { oneofKind: 'merge', merge }, reportType: QueryRequest_ReportType.FLAMEGRAPH_ARROW, filter: [], nodeTrimThreshold,
      });
      const a = arrowOf(response);
      checkShape(a.table);
      // Every sample is either some kept row's own or under exactly one trimmed subtree.
      const kept = [...flatByName(a.table).values()].reduce((x, y) => x + y, 0);
      expect(kept + Number(a.trimmed)).toBe(want.total);
      expect(Number(response.total)).toBe(want.total);
      return { rows: a.table.numRows, trimmed: a.trimmed };
    };
    const untrimmed = await rowsAt(0);
    // What the Parca UI sends in a 1200-pixel-wide window: 100 / width percent.
    const ui = await rowsAt(100 / 1200);
    const coarse = await rowsAt(30);
    expect(untrimmed.trimmed).toBe(0n);
    expect(coarse.trimmed).toBeGreaterThan(0n);
    expect(coarse.rows).toBeLessThan(ui.rows);
    expect(ui.rows).toBeLessThanOrEqual(untrimmed.rows);
    expect(ui.rows).toBeGreaterThan(untrimmed.rows / 2);
  });

  it('Query SINGLE reads one profile of a job; DIFF compares two, as an Arrow flame graph', async () => {
    const many = pprofFiles().filter((f) => jobOf(f) === 'parca-many');
    const [first, last] = [many[0]!, many[many.length - 1]!];
    // Heap profiles, pushed without __name__: Kiln names their type; ProfileTypes says what it is.
    const { response: types } = await parca.profileTypes({});
    const t = types.types.find((x) => x.sampleType === 'alloc_objects' && x.sampleUnit === 'count');
    expect(t).toBeDefined();
    const query = `${t!.name}:alloc_objects:count:${t!.periodType}:${t!.periodUnit}:delta{job="parca-many"}`;
    const single = (f: string) => ({ query, time: ts(pprofTimeMs(f)) });
    const totalOf = (f: string) => expectedFor(decodePprof(f), 0).total;

    const one = await parca.query({ mode: QueryRequest_Mode.SINGLE_UNSPECIFIED, options: { oneofKind: 'single', single: single(last) }, reportType: QueryRequest_ReportType.FLAMEGRAPH_ARROW, filter: [] });
    expect(Number(one.response.total)).toBe(totalOf(last));
    expect(num(arrowOf(one.response).table.getChild('cumulative')?.get(0))).toBe(totalOf(last));

    const sel = (f: string) => ({ mode: ProfileDiffSelection_Mode.SINGLE_UNSPECIFIED, options: { oneofKind: 'single' as const, single: single(f) } });
    const diff = await parca.query({
      mode: QueryRequest_Mode.DIFF, options: { oneofKind: 'diff', diff: { a: sel(first), b: sel(last), absolute: true } }, reportType: QueryRequest_ReportType.FLAMEGRAPH_ARROW, filter: [],
    });
    const d = arrowOf(diff.response);
    checkShape(d.table);
    expect(num(d.table.getChild('cumulative')?.get(0))).toBe(totalOf(last));
    expect(num(d.table.getChild('diff')?.get(0))).toBe(totalOf(last) - totalOf(first));

    // The table of the same diff: each function's change of own samples, from the two files.
    const tdiff = await parca.query({
      mode: QueryRequest_Mode.DIFF, options: { oneofKind: 'diff', diff: { a: sel(first), b: sel(last), absolute: true } }, reportType: QueryRequest_ReportType.TABLE_ARROW, filter: [],
    });
    const [before, after] = [expectedFor(decodePprof(first), 0), expectedFor(decodePprof(last), 0)];
    const change = new Map<string, number>();
    for (const name of new Set([...before.self.keys(), ...after.self.keys()])) {
      const d = (after.self.get(name) ?? 0) - (before.self.get(name) ?? 0);
      if (d !== 0) change.set(name, d);
    }
    expect(change.size).toBeGreaterThan(0);
    expect(Object.fromEntries(tableByName(tableArrowOf(tdiff.response), 'flat_diff'))).toEqual(Object.fromEntries(change));

    // TOP of the same diff: each function's change of cumulative samples, from the two files.
    const topDiff = await parca.query({
      mode: QueryRequest_Mode.DIFF, options: { oneofKind: 'diff', diff: { a: sel(first), b: sel(last), absolute: true } }, reportType: QueryRequest_ReportType.TOP, filter: [],
    });
    if (topDiff.response.report.oneofKind !== 'top') throw new Error(`TOP answered ${topDiff.response.report.oneofKind}`);
    const cumChange = new Map<string, number>();
    for (const name of new Set([...before.cumulative.keys(), ...after.cumulative.keys()])) {
      const d = (after.cumulative.get(name) ?? 0) - (before.cumulative.get(name) ?? 0);
      if (d !== 0) cumChange.set(name, d);
    }
    const listed = topDiff.response.report.top.list.filter((n) => n.diff !== 0n).map((n) => [n.meta?.function?.name, Number(n.diff)]);
    expect(Object.fromEntries(listed)).toEqual(Object.fromEntries(cumChange));

    // Without absolute, Parca compares shares: the base is scaled to the compared total, so the root
    // changes by rounding only, however different the two totals are.
    expect(Math.abs(totalOf(last) - totalOf(first))).toBeGreaterThan(totalOf(last) / 100);
    const relative = await parca.query({
      mode: QueryRequest_Mode.DIFF, options: { oneofKind: 'diff', diff: { a: sel(first), b: sel(last) } }, reportType: QueryRequest_ReportType.FLAMEGRAPH_ARROW, filter: [],
    });
    expect(Math.abs(num(arrowOf(relative.response).table.getChild('diff')?.get(0)))).toBeLessThan(totalOf(last) / 1000);

    // A selection against itself changes nothing anywhere.
    const merge = { query: `${FIB_TYPE}:delta{job="parca-fib.pb.gz"}`, ...EVER };
    const same = { mode: ProfileDiffSelection_Mode.MERGE, options: { oneofKind: 'merge' as const, merge } };
    const zero = await parca.query({ mode: QueryRequest_Mode.DIFF, options: { oneofKind: 'diff', diff: { a: same, b: same } }, reportType: QueryRequest_ReportType.FLAMEGRAPH_ARROW, filter: [] });
    const z = arrowOf(zero.response).table;
    expect(z.numRows).toBeGreaterThan(1);
    expect([...z.getChild('diff')!].every((v) => Number(v) === 0)).toBe(true);
  });

  it('refuses a node_trim_threshold that is not a percentage with InvalidArgument naming it', async () => {
    const merge = { query: `${FIB_TYPE}:delta{job="parca-fib.pb.gz"}`, ...EVER };
    await expect(parca.query({ mode: QueryRequest_Mode.MERGE, options: { oneofKind: 'merge', merge }, reportType: QueryRequest_ReportType.FLAMEGRAPH_ARROW, filter: [], nodeTrimThreshold: 150 }))
      .rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('node_trim_threshold') });
  });
});

describe('parca-agent-style WriteRaw of the whole corpus', () => {
  it('reads back every sample type of every file with its exact total', async () => {
    const { response } = await parca.profileTypes({});
    const files = new Map<string, string[]>();
    for (const f of pprofFiles()) files.set(jobOf(f), [...(files.get(jobOf(f)) ?? []), f]);
    expect(files.size).toBeGreaterThanOrEqual(10);
    for (const [job, group] of files) {
      const p = decodePprof(group[0]!);
      const str = (i: number | bigint) => p.stringTable.strings[Number(i)] ?? '';
      for (const [index, st] of p.sampleType.entries()) {
        const want = group.reduce((a, f) => a + expectedFor(decodePprof(f), index).total, 0);
        // Read under every stored type with this sample type: the job label picks this file's.
        const candidates = response.types.filter((t) => t.sampleType === str(st.type) && t.sampleUnit === str(st.unit));
        let got = 0;
        for (const t of candidates) {
          const query = `${t.name}:${t.sampleType}:${t.sampleUnit}:${t.periodType}:${t.periodUnit}:delta{job="${job}"}`;
          const r = await parca.query({ mode: QueryRequest_Mode.MERGE, options: { oneofKind: 'merge', merge: { query, ...EVER } }, reportType: QueryRequest_ReportType.TOP, filter: [] });
          got += Number(r.response.total);
        }
        expect(got, `${job} ${str(st.type)}/${str(st.unit)}`).toBe(want);
      }
    }
  });
});
