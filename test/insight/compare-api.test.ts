import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompareReport } from '../../src/insight/compare.js';
import type { TopTable } from '../../src/query/top.js';
import { runKiln } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * The regression gate on a server: /api/v1/compare over two selections a real server holds, and
 * `kiln compare SELECTOR@RANGE SELECTOR@RANGE --url` (which asks that endpoint), and a file against a
 * selection (the selection fetched as pprof and merged beside the file).
 */
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
// checkout 1.5 decodes JSON three times as long: json.decode's share rises, the others' fall. Two pushes
// differ a little, as real ones do: identical pushes would merge into values sharing a factor, which the
// sampling-period estimate reads as a longer period (compare-samples.ts) and so as fewer samples.
const v14 = (i: number) => `main;http.serve;checkout.handle;checkout.parseCart;json.decode ${400 + (i === 2 ? 1 : 0)}
main;http.serve;checkout.handle;checkout.price;db.query ${300 - (i === 3 ? 1 : 0)}
main;http.serve;checkout.handle;checkout.render 200
main;runtime.gcBgMarkWorker;runtime.scanobject 100
`;
const v15 = (i: number) => v14(i).replace(/json\.decode (\d+)/, (_, n: string) => `json.decode ${3 * Number(n)}`);
/** json.decode's total share over the five pushes: 2 001 of 5 000 samples, then 6 003 of 9 002. */
const BASE_SHARE = 2001 / 5000;
const HEAD_SHARE = 6003 / 9002;

let server: TestServer;
let dir = '';
let from = 0;
let until = 0;

async function ingest(name: string, body: string, fromS: number): Promise<void> {
  const q = new URLSearchParams({ name, from: String(fromS), until: String(fromS + 60), format: 'folded', sampleRate: '100' });
  const res = await fetch(`${server.url}/ingest?${q}`, { method: 'POST', body });
  if (!res.ok) throw new Error(`ingest ${name}: ${res.status} ${await res.text()}`);
}

function compareUrl(base: string, head: string, extra: Record<string, string | string[]> = {}): string {
  const q = new URLSearchParams({
    base_query: `${CPU}${base}`, base_from: String(from), base_until: String(until),
    head_query: `${CPU}${head}`, head_from: String(from), head_until: String(until),
  });
  for (const [k, v] of Object.entries(extra)) for (const x of Array.isArray(v) ? v : [v]) q.append(k, x);
  return `${server.url}/api/v1/compare?${q}`;
}

async function top(selector: string): Promise<TopTable> {
  const q = new URLSearchParams({ query: `${CPU}${selector}`, from: String(from), until: String(until), limit: '0' });
  return (await (await fetch(`${server.url}/api/v1/top?${q}`)).json()) as TopTable;
}

beforeAll(async () => {
  server = await startTestServer();
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-compare-api-'));
  const nowS = Math.floor(Date.now() / 1000);
  for (let i = 0; i < 5; i++) {
    await ingest('checkout.cpu{version=1.4}', v14(i), nowS - 600 + i * 60);
    await ingest('checkout.cpu{version=1.5}', v15(i), nowS - 600 + i * 60);
  }
  from = (nowS - 900) * 1000;
  until = (nowS + 60) * 1000;
});

afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('/api/v1/compare', () => {
  it('1.4 → 1.5: the any gate breaks on json.decode, with the shares /api/v1/top gives', async () => {
    const res = await fetch(compareUrl('{version="1.4"}', '{version="1.5"}', { fail_on: ['any>+20%', 'self(^db\\.)>+1pp'] }));
    expect(res.status).toBe(200);
    const r = (await res.json()) as CompareReport;
    expect(r.passed).toBe(false);
    expect(r.gates.map((g) => g.broken)).toEqual([true, false]);
    // parseCart's only callee is json.decode: its total rises as much, but it is not where the time goes.
    expect(r.gates[0]!.offenders.map((o) => o.name)).toEqual(['json.decode', 'checkout.parseCart']);
    expect(r.gates[0]!.message).toMatch(/\(and 1 more: checkout\.parseCart\)$/);
    const [b, h] = [await top('{version="1.4"}'), await top('{version="1.5"}')];
    const share = (t: TopTable, name: string) => t.entries.find((e) => e.name === name)!.total / t.total;
    const jd = r.functions.find((f) => f.name === 'json.decode')!;
    expect(jd.total.base).toBeCloseTo(share(b, 'json.decode'), 12);
    expect(jd.total.head).toBeCloseTo(share(h, 'json.decode'), 12);
    expect(jd.total.base).toBeCloseTo(BASE_SHARE, 12);
    expect(jd.total.head).toBeCloseTo(HEAD_SHARE, 12);
    // 100 Hz folded samples: 1 000 samples a push, five pushes.
    expect(r.base.period).toBe(1e7);
    expect(r.base.samples).toBe(5000);
  });

  it('one selection against itself: nothing significant, every gate holds', async () => {
    const r = (await (await fetch(compareUrl('{version="1.5"}', '{version="1.5"}', { fail_on: 'any>+0%' }))).json()) as CompareReport;
    expect(r.passed).toBe(true);
    expect(r.significantCount).toBe(0);
  });

  it('junit and markdown for CI, and bad input as 400 naming the problem', async () => {
    const junit = await fetch(compareUrl('{version="1.4"}', '{version="1.5"}', { fail_on: 'any>+20%', format: 'junit' }));
    expect(junit.headers.get('content-type')).toMatch(/^application\/xml/);
    expect(await junit.text()).toMatch(/<failure message="any&#62;\+20% broken: json\.decode total 40\.02% → 66\.69%/);
    const md = await fetch(compareUrl('{version="1.4"}', '{version="1.5"}', { format: 'markdown' }));
    expect(await md.text()).toMatch(/\| 40\.02% \| 66\.69% \| \+26\.67pp\* \|/);
    const gate = await fetch(compareUrl('{}', '{}', { fail_on: 'any>20' }));
    expect(gate.status).toBe(400);
    expect(((await gate.json()) as { error: string }).error).toMatch(/--fail-on "any>20": expected TARGET>\+N%/);
    const q = new URL(compareUrl('{}', '{}'));
    q.searchParams.set('head_query', 'memory:alloc_space:bytes:space:bytes{}');
    const types = await fetch(q);
    expect(types.status).toBe(400);
    expect(await types.text()).toMatch(/cannot compare different profile types/);
  });
});

describe('kiln compare against a server', () => {
  const sel = (v: string) => `${CPU}{service_name="checkout",version="${v}"}@${from}..${until}`;

  it('two selections: exit 3 naming json.decode; the same one twice: exit 0', async () => {
    const broken = await runKiln(['compare', sel('1.4'), sel('1.5'), '--url', server.url, '--fail-on', 'any>+20%'], { timeoutMs: 120_000 });
    expect(broken.code).toBe(3);
    expect(broken.stdout).toMatch(/FAIL any>\+20% broken: json\.decode total 40\.02% → 66\.69% \(\+26\.67 pp, \+66\.6%, p=/);
    const same = await runKiln(['compare', sel('1.4'), sel('1.4'), '--url', server.url, '--fail-on', 'any>+20%'], { timeoutMs: 120_000 });
    expect(same.code).toBe(0);
  }, 240_000);

  it('a profile file kept from an earlier run against a selection on the server: the same verdict', async () => {
    // A CI job keeps its baseline with `kiln export … --format pprof`; later runs compare against it.
    const file = path.join(dir, 'v14.pb.gz');
    const exported = await runKiln(['export', `${CPU}{version="1.4"}`, '--from', String(from), '--until', String(until), '--url', server.url, '-o', file], { timeoutMs: 120_000 });
    expect(exported.code).toBe(0);
    const res = await runKiln(['compare', file, sel('1.5'), '--url', server.url, '--fail-on', 'any>+20%', '--format', 'json'], { timeoutMs: 120_000 });
    expect(res.code).toBe(3);
    const r = JSON.parse(res.stdout) as CompareReport;
    expect(r.gates[0]!.offenders[0]).toMatchObject({ name: 'json.decode' });
    expect(r.gates[0]!.offenders[0]!.base).toBeCloseTo(BASE_SHARE, 12);
    expect(r.gates[0]!.offenders[0]!.head).toBeCloseTo(HEAD_SHARE, 12);
  }, 240_000);
});
