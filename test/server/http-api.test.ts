import { gunzipSync } from 'node:zlib';
import { Profile as PprofProfile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFlameGraph, fromFlameGraphDiff, fromFlamebearer } from '../../src/formats/flamebearer.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { CPU, ingest } from './helpers.js';

let srv: TestServer;
const T = Date.UTC(2026, 0, 8, 12, 0, 0);
const sec = (ms: number) => String(Math.floor(ms / 1000));
const base = `${CPU}{service_name="web", version="1"}`;
const head = `${CPU}{service_name="web", version="2"}`;
const window = { from: sec(T - 60_000), until: sec(T + 3_600_000) };

beforeAll(async () => {
  srv = await startTestServer();
  const put = async (name: string, at: number, body: string) => {
    const res = await ingest(srv.url, { name, format: 'folded', profile_type: CPU, from: sec(at), until: sec(at + 10_000) }, body);
    expect(res.status, await res.clone().text()).toBe(200);
  };
  await put('web{version=1,pod=a}', T, 'main;serve;json 40\nmain;serve;db 20\nmain;gc 10\n');
  await put('web{version=2,pod=b}', T + 900_000, 'main;serve;json 10\nmain;serve;db 20\nmain;gc 10\nmain;serve;cache 5\n');
});
afterAll(async () => {
  await srv?.close();
});

async function get<T>(path: string, params: Record<string, string>): Promise<T> {
  const res = await fetch(`${srv.url}${path}?${new URLSearchParams(params)}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as T;
}

describe("Kiln's JSON API", () => {
  it('/api/v1/top gives self and total per function, sorted', async () => {
    const top = await get<{ total: number; entries: { name: string; self: number; total: number }[] }>('/api/v1/top', { query: base, ...window, sort: 'total' });
    expect(top.total).toBe(70);
    expect(top.entries.slice(0, 3)).toEqual([
      { name: 'main', self: 0, total: 70 },
      { name: 'serve', self: 0, total: 60 },
      { name: 'json', self: 40, total: 40 },
    ]);
  });

  it('/api/v1/flamegraph json trims to max_nodes and keeps totals; focus and hide filter', async () => {
    const r = await get<{ flamegraph: { names: string[]; levels: { values: number[] }[]; total: number } }>('/api/v1/flamegraph', { query: base, ...window, max_nodes: '3' });
    expect(r.flamegraph.total).toBe(70);
    expect(fromFlameGraph(r.flamegraph).total).toBe(70);
    const focused = await get<{ flamegraph: { total: number } }>('/api/v1/flamegraph', { query: base, ...window, focus: '^serve$' });
    expect(focused.flamegraph.total).toBe(60);
    const res = await fetch(`${srv.url}/api/v1/flamegraph?${new URLSearchParams({ query: base, ...window, hide: '^serve$', format: 'folded' })}`);
    expect(await res.text()).toBe('main;db 20\nmain;gc 10\nmain;json 40\n');
  });

  it('max_nodes=0 gets the default, never past the server cap (to the engine 0 means no limit)', async () => {
    const capped = await startTestServer({ limits: { maxNodes: 3 } });
    try {
      await ingest(capped.url, { name: 'web', format: 'folded', profile_type: CPU, from: window.from }, 'main;serve;json 40\nmain;serve;db 20\nmain;gc 10\n');
      const nodes = (levels: { values: number[] }[]) => levels.reduce((n, l) => n + l.values.length / 4, 0);
      const flame = async (path: string, extra: Record<string, string>) =>
        (await (await fetch(`${capped.url}${path}?${new URLSearchParams({ query: `${CPU}{service_name="web"}`, ...window, ...extra })}`)).json()) as {
          flamegraph?: { levels: { values: number[] }[]; total: number };
          flamebearer?: { names: string[]; numTicks: number };
        };
      // The whole tree has 6 nodes (total main serve json db gc); the cap keeps 3 and folds the rest.
      const zero = await flame('/api/v1/flamegraph', { max_nodes: '0' });
      const atCap = await flame('/api/v1/flamegraph', { max_nodes: '3' });
      expect(zero.flamegraph!.total).toBe(70);
      expect(nodes(zero.flamegraph!.levels)).toBe(nodes(atCap.flamegraph!.levels));
      expect(nodes(zero.flamegraph!.levels)).toBeLessThan(6);
      const render = await flame('/pyroscope/render', { 'max-nodes': '0' });
      expect(render.flamebearer!.numTicks).toBe(70);
      expect(render.flamebearer!.names.filter((n) => n !== 'other').length).toBeLessThan(6);
    } finally {
      await capped.close();
    }
  });

  it('/api/v1/flamegraph format=pprof downloads a gzipped pprof of the merge', async () => {
    const res = await fetch(`${srv.url}/api/v1/flamegraph?${new URLSearchParams({ query: base, ...window, format: 'pprof' })}`);
    expect(res.status).toBe(200);
    const p = PprofProfile.decode(gunzipSync(Buffer.from(await res.arrayBuffer())));
    expect(p.sample.reduce((a, s) => a + Number(s.value[0]), 0)).toBe(70);
  });

  it('/api/v1/diff gives a two-sided tree and a table sorted by change', async () => {
    const d = await get<{
      flamegraph: { names: string[]; levels: { values: number[] }[]; leftTicks: number; rightTicks: number };
      table: { entries: { name: string; selfChange: number }[] };
    }>('/api/v1/diff', { base_query: base, base_from: window.from, base_until: window.until, head_query: head, head_from: window.from, head_until: window.until });
    expect([d.flamegraph.leftTicks, d.flamegraph.rightTicks]).toEqual([70, 45]);
    expect(d.table.entries[0]).toMatchObject({ name: 'json', selfChange: -30 });
    const tree = fromFlameGraphDiff(d.flamegraph);
    const cache = tree.children[0]!.children.find((c) => c.name === 'serve')!.children.find((c) => c.name === 'cache')!;
    expect([cache.baseTotal, cache.headTotal]).toEqual([0, 5]);
  });

  it('/api/v1/series groups by a label over steps', async () => {
    const s = await get<{ stepMs: number; series: { labels: { name: string; value: string }[]; points: { timeMs: number; value: number }[] }[] }>(
      '/api/v1/series',
      { query: `${CPU}{service_name="web"}`, from: sec(T), until: sec(T + 3_600_000), step: '15m', group_by: 'version' },
    );
    expect(s.stepMs).toBe(900_000);
    const byVersion = Object.fromEntries(s.series.map((x) => [x.labels[0]!.value, x.points]));
    expect(byVersion['1']).toEqual([{ timeMs: T, value: 70 }]);
    expect(byVersion['2']).toEqual([{ timeMs: T + 900_000, value: 45 }]);
  });

  it('/api/v1/series picks a default step in whole 10 s (the agent push interval)', async () => {
    const stepOf = async (hours: number) =>
      (await get<{ stepMs: number }>('/api/v1/series', { query: `${CPU}{service_name="web"}`, from: sec(T), until: sec(T + hours * 3_600_000) })).stepMs;
    expect(await stepOf(1)).toBe(10_000);
    expect(await stepOf(24)).toBe(60_000);
  });

  it('/api/v1/sandwich shows callers and callees of a function', async () => {
    const s = await get<{ callers: { names: string[]; levels: { values: number[] }[]; total: number }; callees: { names: string[]; levels: { values: number[] }[]; total: number } }>(
      '/api/v1/sandwich',
      { query: base, ...window, function: 'serve' },
    );
    expect(s.callers.total).toBe(60);
    expect(fromFlameGraph(s.callers).children.map((c) => c.name)).toEqual(['main']);
    expect(fromFlameGraph(s.callees).children.map((c) => c.name).sort()).toEqual(['db', 'json']);
  });
});

describe('legacy Pyroscope render API', () => {
  it('/pyroscope/render gives flamebearer JSON with a timeline', async () => {
    const r = await get<{ version: number; flamebearer: { names: string[]; levels: number[][]; numTicks: number; maxSelf: number }; metadata: { format: string }; timeline: { samples: number[] } }>(
      '/pyroscope/render',
      { query: base, ...window, format: 'json' },
    );
    expect(r.version).toBe(1);
    expect(r.metadata.format).toBe('single');
    expect(r.flamebearer.numTicks).toBe(70);
    expect(fromFlamebearer(r.flamebearer).total).toBe(70);
    expect(r.timeline.samples.reduce((a, b) => a + b, 0)).toBe(70);
  });

  it('/pyroscope/render-diff gives a double flamebearer with left and right ticks', async () => {
    const r = await get<{ metadata: { format: string }; leftTicks: number; rightTicks: number }>('/pyroscope/render-diff', {
      leftQuery: base, leftFrom: window.from, leftUntil: window.until, rightQuery: head, rightFrom: window.from, rightUntil: window.until,
    });
    expect(r.metadata.format).toBe('double');
    expect([r.leftTicks, r.rightTicks]).toEqual([70, 45]);
  });

  it('/pyroscope/labels and /pyroscope/label-values list what a query selects', async () => {
    expect(await get<string[]>('/pyroscope/labels', { query: `${CPU}{service_name="web"}` })).toEqual(['pod', 'service_name', 'version']);
    expect(await get<string[]>('/pyroscope/label-values', { label: 'pod', query: `${CPU}{service_name="web"}` })).toEqual(['a', 'b']);
  });
});
