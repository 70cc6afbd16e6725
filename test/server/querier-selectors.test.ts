import { createClient } from '@connectrpc/connect';
import type { Client } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Profile } from '../../src/gen/google/v1/profile_pb.js';
import { ProfileFormat, QuerierService } from '../../src/gen/querier/v1/querier_pb.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { CPU, ingest, querier } from './helpers.js';

let srv: TestServer;
let client: Client<typeof QuerierService>;
const T = Date.UTC(2026, 0, 7, 12, 0, 0);
const range = { start: BigInt(T - 60_000), end: BigInt(T + 600_000) };
const jsonRange = { start: String(T - 60_000), end: String(T + 600_000) };

beforeAll(async () => {
  srv = await startTestServer();
  client = createClient(QuerierService, createConnectTransport({ baseUrl: srv.url, httpVersion: '1.1', useBinaryFormat: true }));
  const body = 'main;handle;parse 50\nmain;handle;render 30\nmain;gc;mark 10\nmain;gc;sweep 6\nmain;idle 4\n';
  const res = await ingest(srv.url, { name: 'api', format: 'folded', profile_type: CPU, from: String(T / 1000), until: String(T / 1000 + 10) }, body);
  expect(res.status).toBe(200);
});
afterAll(async () => {
  await srv?.close();
});

/** Root-first function names of each sample of a pprof message, with its value. */
function stacksOf(p: Profile): Map<string, number> {
  const fnName = new Map(p.function.map((f) => [f.id, p.stringTable[Number(f.name)]!]));
  const loc = new Map(p.location.map((l) => [l.id, l.line.map((ln) => fnName.get(ln.functionId)!).reverse()]));
  const out = new Map<string, number>();
  for (const s of p.sample) {
    const names = s.locationId.flatMap((id) => loc.get(id)!).reverse().join(';');
    out.set(names, (out.get(names) ?? 0) + Number(s.value[0]));
  }
  return out;
}

describe('querier.v1 selectors are honoured or refused, never ignored', () => {
  it('refuses a profile_id_selector that is no Kiln id (a UUID), a malformed span_selector and trace_id_selector on SelectMergeStacktraces with InvalidArgument', async () => {
    const base = { profile_typeID: CPU, label_selector: '{service_name="api"}', ...jsonRange };
    for (const extra of [
      { profile_id_selector: ['7c9e6679-7425-40de-944b-e07fc1f90ae7'] },
      { span_selector: ['not-a-span-id'] },
      { trace_id_selector: ['7c9e66797425440de944be07fc1f90ae'] },
      { stack_trace_selector: { go_pgo: { keep_locations: 5 } } },
    ]) {
      const r = await querier<{ code: string; message: string }>(srv.url, 'SelectMergeStacktraces', { ...base, ...extra });
      const field = Object.keys(extra)[0]!;
      expect(r.status, field).toBe(400);
      expect(r.body.code, field).toBe('invalid_argument');
      expect(r.body.message, field).toContain(field === 'stack_trace_selector' ? 'go_pgo' : field);
    }
    // Empty selectors are "not given": the whole selection merges.
    const ok = await querier<{ flamegraph: { total: string } }>(srv.url, 'SelectMergeStacktraces', { ...base, profile_id_selector: [], span_selector: [] });
    expect(ok.body.flamegraph.total).toBe('100');
    // A well-formed span id narrows to that span's samples: none were recorded in spans here, so nothing.
    const span = await querier<{ flamegraph?: { total?: string } }>(srv.url, 'SelectMergeStacktraces', { ...base, span_selector: ['9a517183f26a089d'] });
    expect(span.status).toBe(200);
    expect(span.body.flamegraph?.total ?? '0').toBe('0');
  });

  it('refuses a profile_id_selector that is no Kiln id on SelectMergeProfile and on either side of a Diff', async () => {
    const r = await querier<{ code: string }>(srv.url, 'SelectMergeProfile', {
      profile_typeID: CPU, label_selector: '{}', ...jsonRange, profile_id_selector: ['7c9e6679-7425-40de-944b-e07fc1f90ae7'],
    });
    expect([r.status, r.body.code]).toEqual([400, 'invalid_argument']);
    const side = { profile_typeID: CPU, label_selector: '{}', ...jsonRange };
    const d = await querier<{ code: string }>(srv.url, 'Diff', { left: side, right: { ...side, profile_id_selector: ['7c9e6679-7425-40de-944b-e07fc1f90ae7'] } });
    expect([d.status, d.body.code]).toEqual([400, 'invalid_argument']);
  });

  it('SelectMergeProfile keeps only the call site asked for', async () => {
    const p = await client.selectMergeProfile({
      profileTypeID: CPU, labelSelector: '{service_name="api"}', ...range,
      stackTraceSelector: { callSite: [{ name: 'main' }, { name: 'gc' }] },
    });
    expect(Object.fromEntries(stacksOf(p))).toEqual({ 'main;gc;mark': 10, 'main;gc;sweep': 6 });
  });

  it('SelectMergeProfile max_nodes cuts the profile to its heaviest nodes, the rest as other, total kept', async () => {
    const whole = await client.selectMergeProfile({ profileTypeID: CPU, labelSelector: '{service_name="api"}', ...range });
    expect(stacksOf(whole).size).toBe(5);
    // Nodes by total: main 100, handle 80, parse 50, render 30, gc 16, mark 10, sweep 6, idle 4.
    const cut = await client.selectMergeProfile({ profileTypeID: CPU, labelSelector: '{service_name="api"}', ...range, maxNodes: 5n });
    expect(Object.fromEntries(stacksOf(cut))).toEqual({
      'main;handle;parse': 50,
      'main;handle;render': 30,
      'main;gc;other': 16,
      'main;other': 4,
    });
  });

  it('SelectMergeStacktraces answers PROFILE_FORMAT_PPROF with the merged pprof', async () => {
    const r = await client.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: '{service_name="api"}', ...range, format: ProfileFormat.PPROF });
    const p = r.pprof?.profile;
    expect(p).toBeDefined();
    expect([...stacksOf(p!).values()].reduce((a, b) => a + b, 0)).toBe(100);
    expect(stacksOf(p!).get('main;handle;parse')).toBe(50);
  });
});

describe('DOT output (Profiles Drilldown\'s LLM panel)', () => {
  /** Node id → label, and "caller -> callee" → edge label, read back from the DOT text. */
  function readDot(dot: string): { nodes: Map<string, string>; edges: Map<string, string> } {
    const nodes = new Map<string, string>();
    const names = new Map<string, string>();
    for (const m of dot.matchAll(/^(N\d+) \[label="([^"\\]*)\\n/gm)) {
      names.set(m[1]!, m[2]!);
      nodes.set(m[2]!, dot.split('\n').find((l) => l.startsWith(`${m[1]} [`))!);
    }
    const edges = new Map<string, string>();
    for (const m of dot.matchAll(/^(N\d+) -> (N\d+) \[label=" (\d+)"/gm)) edges.set(`${names.get(m[1]!)} -> ${names.get(m[2]!)}`, m[3]!);
    return { nodes, edges };
  }

  it('SelectMergeStacktraces PROFILE_FORMAT_DOT answers a call graph with flat/cumulative per function and call values', async () => {
    const r = await client.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: '{service_name="api"}', ...range, format: ProfileFormat.DOT });
    expect(r.dot.startsWith('digraph')).toBe(true);
    const { nodes, edges } = readDot(r.dot);
    expect([...nodes.keys()].sort()).toEqual(['gc', 'handle', 'idle', 'main', 'mark', 'parse', 'render', 'sweep']);
    expect(nodes.get('parse')).toContain('50 (50.00%)\\nof 50 (50.00%)');
    expect(nodes.get('main')).toContain('0 (0.00%)\\nof 100 (100.00%)');
    expect(Object.fromEntries(edges)).toMatchObject({ 'main -> handle': '80', 'main -> gc': '16', 'handle -> parse': '50', 'gc -> sweep': '6' });
    // max_nodes bounds what is drawn: the heaviest functions stay.
    const small = await client.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: '{service_name="api"}', ...range, format: ProfileFormat.DOT, maxNodes: 3n });
    expect([...readDot(small.dot).nodes.keys()].sort()).toEqual(['handle', 'main', 'parse']);
  });

  it('/pyroscope/render?format=dot answers the same graph as Graphviz text', async () => {
    const q = new URLSearchParams({ query: `${CPU}{service_name="api"}`, from: String(T - 60_000), until: String(T + 600_000), format: 'dot' });
    const res = await fetch(`${srv.url}/pyroscope/render?${q}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/graphviz/);
    const { edges } = readDot(await res.text());
    expect(edges.get('handle -> render')).toBe('30');
  });
});
