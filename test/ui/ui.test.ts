import type {} from '../../ui/src/flame/window-hooks.js';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { Profile as PprofProfile } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiffTable } from '../../src/query/diff.js';
import type { TopTable } from '../../src/query/top.js';
import { decodeDiffFlameGraph, decodeFlameGraph, type FlameGraphDiffJson, type FlameGraphJson } from '../../ui/src/model/decode.js';
import { findPath, nodeName, type FlameTree } from '../../ui/src/model/flame-tree.js';
import { nameTest } from '../../ui/src/model/name-query.js';
import { searchMatches } from '../../ui/src/model/search.js';
import { formatValue } from '../../ui/src/model/units.js';
import { runKiln } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { requireTestdata } from '../support/testdata.js';
import { ARTIFACTS, ensureUiBuilt, launchChromium } from './browser.js';

/**
 * The UI end to end: a real Kiln server holding the project's fixtures and a corpus profile, the built UI,
 * and headless Chromium doing what a user does. Every number the page shows is checked against the API.
 */
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
const ROW = 18; // renderer row height

// checkout 1.5 spends three times as long decoding JSON: the diff must show json.decode as the regression.
const V14 = `main;http.serve;checkout.handle;checkout.parseCart;json.decode 40
main;http.serve;checkout.handle;checkout.price;db.query 30
main;http.serve;checkout.handle;checkout.render 20
main;runtime.gcBgMarkWorker;runtime.scanobject 10
main;syscall.write;entry_SYSCALL_64_[k];do_syscall_64_[k];tcp_sendmsg_[k] 15
`;
const V15 = V14.replace('json.decode 40', 'json.decode 120').replace('checkout.render 20', 'checkout.render 10');
const CART = `main;cart.add;redis.call 25\nmain;cart.list 5\n`;
/**
 * A service with more functions than a drawn graph keeps (16 384 nodes): 20 000 one-sample leaves under
 * `worker`, so the graph folds thousands of them into an `other` heavier than the hottest real function.
 */
const LEAVES = 20_000;
const WIDE = [
  'main;hot.loop 3000',
  'main;hot.loop;json.decode 500',
  'main;worker;json.decode 200',
  ...Array.from({ length: LEAVES }, (_, i) => `main;worker;leaf${String(i).padStart(5, '0')} 1`),
].join('\n');

let server: TestServer;
let browser: Browser;
let page: Page;
let start = 0;
let end = 0;
/** The corpus profile keeps its own timestamp (pprof time_nanos), so it is looked at over its own range. */
let corpusRange = { start: 0, end: 0 };
/** Between the batch job's fifth and sixth push: its work shifts from compress to upload here. */
let batchHalf = 0;
let heapRange = { start: 0, end: 0 };

async function ingest(name: string, body: Uint8Array | string, fromS: number, format: string): Promise<void> {
  const q = new URLSearchParams({ name, from: String(fromS), until: String(fromS + 60), format, sampleRate: '100' });
  const res = await fetch(`${server.url}/ingest?${q}`, { method: 'POST', body: body as BodyInit });
  if (!res.ok) throw new Error(`ingest ${name}: ${res.status} ${await res.text()}`);
}

async function querier<T>(method: string, body: object): Promise<T> {
  const res = await fetch(`${server.url}/querier.v1.QuerierService/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'connect-protocol-version': '1' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** GET of Kiln's JSON API over a selection (the page's range unless given), as the page asks it. */
async function kilnApi<T>(route: string, selector: string, params: Record<string, string> = {}, range = { start, end }, type = CPU): Promise<T> {
  const q = new URLSearchParams({
    query: selector,
    profile_type: type,
    from: new Date(range.start).toISOString(),
    until: new Date(range.end).toISOString(),
    ...params,
  });
  const res = await fetch(`${server.url}/api/v1/${route}?${q}`);
  if (!res.ok) throw new Error(`${route}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** The merged graph the page draws: the server's, 16 384 nodes at most. */
async function apiTree(selector: string, range = { start, end }, type = CPU, filter: Record<string, string> = {}): Promise<FlameTree> {
  const r = await kilnApi<{ flamegraph: FlameGraphJson }>('flamegraph', selector, { max_nodes: '16384', ...filter }, range, type);
  return decodeFlameGraph(r.flamegraph);
}

/** Every node as "path total self", sorted: two trees with equal lines are the same graph. */
function treeLines(t: FlameTree): string[] {
  const out: string[] = [];
  for (let i = 0; i < t.count; i++) {
    const path: string[] = [];
    for (let n = i; n >= 0; n = t.parent[n]) path.push(nodeName(t, n));
    out.push(`${path.reverse().join(';')} ${t.total[i]} ${t.self[i]}`);
  }
  return out.sort();
}

/** treeLines of the graph a flame view on the page is drawing. */
async function drawnLines(testId: string): Promise<string[]> {
  return page.evaluate((id) => {
    const t = window.__kilnRenderers![id].currentTree()!;
    const out: string[] = [];
    for (let i = 0; i < t.count; i++) {
      const path: string[] = [];
      for (let n = i; n >= 0; n = t.parent[n]) path.push(t.names[t.nameIdx[n]] ?? '?');
      out.push(`${path.reverse().join(';')} ${t.total[i]} ${t.self[i]}`);
    }
    return out.sort();
  }, testId);
}

/** The rows of a top table on the page, in the order shown. */
async function shownRows(testId = 'top-table'): Promise<{ name: string; self: number; total: number }[]> {
  return page.locator(`[data-testid="${testId}"] tbody tr`).evaluateAll((trs) =>
    trs.map((tr) => ({ name: tr.getAttribute('data-name') ?? '', self: Number(tr.getAttribute('data-self')), total: Number(tr.getAttribute('data-total')) })),
  );
}

function viewUrl(params: Record<string, string>): string {
  const q = new URLSearchParams({ type: CPU, from: String(start), until: String(end), ...params });
  return `${server.url}/?${q}`;
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Waits until the flame graph with this test id has drawn at least once. */
async function flameDrawn(testId = 'flame'): Promise<void> {
  await page.locator(`[data-testid="${testId}"] canvas`).waitFor({ state: 'visible' });
  await page.waitForFunction((id) => (window.__kilnRenderers?.[id]?.perf.draws.length ?? 0) > 0, testId);
}

/** Waits until a zoom transition of this graph has landed, so positions mean what the test expects. */
async function zoomSettled(testId = 'flame'): Promise<void> {
  await page.waitForFunction((id) => window.__kilnRenderers?.[id]?.isAnimating() === false, testId);
}

async function hoverRow(testId: string, depth: number, fraction: number) {
  await zoomSettled(testId);
  const box = (await page.locator(`[data-testid="${testId}"] canvas`).boundingBox())!;
  await page.mouse.move(box.x + box.width * fraction, box.y + depth * ROW + ROW / 2);
  const tip = page.locator(`[data-testid="${testId}-tooltip"]`);
  await tip.waitFor({ state: 'visible' });
  return { box, tip };
}

beforeAll(async () => {
  const uiDir = ensureUiBuilt();
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startTestServer({ uiDir });
  const nowS = Math.floor(Date.now() / 1000);
  // Ten one-minute pushes per version over the last ten minutes, as an agent would send them.
  for (let i = 0; i < 10; i++) {
    const t = nowS - 600 + i * 60;
    await ingest('shop-checkout.cpu{version=1.4}', V14, t, 'folded');
    await ingest('shop-checkout.cpu{version=1.5}', V15, t, 'folded');
    await ingest('shop-cart.cpu{version=2.0}', CART, t, 'folded');
    // A batch job whose work moves from compress to upload halfway through: a diff of two ranges.
    await ingest('shop-batch.cpu', i < 5 ? 'main;compress 80\nmain;upload 20\n' : 'main;compress 20\nmain;upload 80\n', t, 'folded');
  }
  batchHalf = (nowS - 600 + 5 * 60 - 30) * 1000;
  await ingest('shop-wide.cpu', WIDE, nowS - 300, 'folded');
  const corpus = readFileSync(path.join(requireTestdata('pprof'), 'pyroscope-cpu.pprof'));
  await ingest('go-corpus', corpus, nowS - 300, 'pprof');
  const raw = corpus[0] === 0x1f && corpus[1] === 0x8b ? gunzipSync(corpus) : corpus;
  const corpusMs = Math.floor(Number(PprofProfile.decode(raw).timeNanos) / 1e6);
  corpusRange = { start: corpusMs - 60_000, end: corpusMs + 120_000 };
  const heap = readFileSync(path.join(requireTestdata('pprof'), 'pyroscope-heap'));
  await ingest('go-heap', heap, nowS - 300, 'pprof');
  const heapRaw = heap[0] === 0x1f && heap[1] === 0x8b ? gunzipSync(heap) : heap;
  const heapMs = Math.floor(Number(PprofProfile.decode(heapRaw).timeNanos) / 1e6);
  heapRange = { start: heapMs - 60_000, end: heapMs + 120_000 };
  start = (nowS - 900) * 1000;
  end = (nowS + 60) * 1000;
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('Kiln UI in Chromium against a real server', () => {
  it('opens on CPU, picks a service, and shows the chart and the flame graph', async () => {
    await page.goto(viewUrl({ type: '' })); // no type in the link: the page must choose CPU itself
    await expect.poll(() => page.locator('[data-testid="profile-type"]').inputValue()).toBe(CPU);
    expect(await page.locator('[data-testid="profile-type"] option').first().textContent()).toBe(CPU);
    const services = await page.locator('[data-testid="service"] option').allTextContents();
    expect(services).toEqual(expect.arrayContaining(['shop-checkout', 'shop-cart']));
    await page.selectOption('[data-testid="service"]', 'shop-checkout');
    await expect.poll(() => new URL(page.url()).searchParams.get('query')).toBe('{service_name="shop-checkout"}');
    await page.locator('[data-testid="chart"] canvas').waitFor({ state: 'visible' });
    await flameDrawn();
    await shot('01-flame');
  });

  it('groups the chart by a label, and a drag over it narrows the range', async () => {
    await page.selectOption('[data-testid="group-by"]', 'version');
    await expect
      .poll(async () => (await page.locator('[data-testid="chart"] .u-legend').textContent()) ?? '')
      .toMatch(/version=1\.4[\s\S]*version=1\.5/);
    const over = (await page.locator('[data-testid="chart"] .u-over').boundingBox())!;
    await page.mouse.move(over.x + over.width * 0.5, over.y + over.height / 2);
    await page.mouse.down();
    await page.mouse.move(over.x + over.width * 0.8, over.y + over.height / 2, { steps: 5 });
    await page.mouse.up();
    await expect.poll(() => new URL(page.url()).searchParams.get('from')).not.toBe(String(start));
    const from = Number(new URL(page.url()).searchParams.get('from'));
    const until = Number(new URL(page.url()).searchParams.get('until'));
    expect(from).toBeGreaterThan(start);
    expect(until).toBeLessThan(end);
    expect(until).toBeGreaterThan(from);
    await flameDrawn();
    await shot('01b-grouped-chart-drag');
    await page.goBack();
    await expect.poll(() => new URL(page.url()).searchParams.get('from')).toBe(String(start));
    await page.selectOption('[data-testid="group-by"]', '');
  });

  it('range presets and a custom range go into the URL', async () => {
    await page.click('[data-testid="range-6h"]');
    await expect.poll(() => new URL(page.url()).searchParams.get('from')).toBe('now-6h');
    expect(await page.locator('[data-testid="range-label"]').textContent()).toBe('last 6h');
    await page.click('[data-testid="range-custom"]');
    // datetime-local takes the browser's local time; minutes are its resolution.
    const local = (ms: number) =>
      page.evaluate((t) => new Date(t - new Date(t).getTimezoneOffset() * 60_000).toISOString().slice(0, 16), ms);
    const a = Math.ceil(start / 60_000) * 60_000;
    const b = Math.floor(end / 60_000) * 60_000;
    await page.fill('[data-testid="custom-from"]', await local(a));
    await page.fill('[data-testid="custom-until"]', await local(b));
    await page.click('[data-testid="custom-apply"]');
    await expect.poll(() => new URL(page.url()).searchParams.get('from')).toBe(String(a));
    expect(new URL(page.url()).searchParams.get('until')).toBe(String(b));
    await flameDrawn();
    await page.goto(viewUrl({ query: '{service_name="shop-checkout"}' })); // back to the range the later checks use
    await flameDrawn();
  });

  it('adds a label matcher from the autocompleting label picker', async () => {
    await page.fill('[data-testid="label-name"]', 'version');
    await expect.poll(() => page.locator('#kiln-label-values option').evaluateAll((o) => o.map((x) => (x as HTMLOptionElement).value))).toEqual(
      expect.arrayContaining(['1.4', '1.5', '2.0']),
    );
    const names = await page.locator('#kiln-label-names option').evaluateAll((o) => o.map((x) => (x as HTMLOptionElement).value));
    expect(names).toEqual(expect.arrayContaining(['service_name', 'version']));
    await page.fill('[data-testid="label-value"]', '1.5');
    await page.click('[data-testid="label-add"]');
    await expect.poll(() => new URL(page.url()).searchParams.get('query')).toBe('{service_name="shop-checkout",version="1.5"}');
    await page.selectOption('[data-testid="service"]', 'shop-checkout'); // replaces service, keeps version
    await page.fill('[data-testid="selector"]', '{service_name="shop-checkout"}');
    await page.press('[data-testid="selector"]', 'Enter');
    await expect.poll(() => new URL(page.url()).searchParams.get('query')).toBe('{service_name="shop-checkout"}');
    await flameDrawn();
  });

  it('keyboard: arrows move between frames, Enter zooms, Escape resets', async () => {
    await page.locator('[data-testid="flame"] canvas').focus();
    await page.keyboard.press('ArrowDown'); // root → its biggest child
    const tip = page.locator('[data-testid="flame-tooltip"]');
    await expect.poll(() => tip.getAttribute('data-name')).toBe('main');
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => tip.getAttribute('data-name')).toBe('http.serve');
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => tip.getAttribute('data-name')).toBe('runtime.gcBgMarkWorker');
    await page.keyboard.press('Enter');
    await expect.poll(() => new URL(page.url()).searchParams.get('zoom')).toBe('main;runtime.gcBgMarkWorker');
    await page.keyboard.press('Escape');
    await expect.poll(() => new URL(page.url()).searchParams.get('zoom')).toBeNull();
  });

  it('hover shows the self and total the API reports, unit-aware', async () => {
    const tree = await apiTree('{service_name="shop-checkout"}');
    const { tip } = await hoverRow('flame', 4, 0.02);
    const name = (await tip.getAttribute('data-name'))!;
    const node = [...Array(tree.count).keys()].find((i) => tree.depth[i] === 4 && nodeName(tree, i) === name)!;
    expect(node, `no depth-4 node named ${name} in the API graph`).toBeGreaterThan(0);
    expect(Number(await tip.getAttribute('data-total'))).toBe(tree.total[node]);
    expect(Number(await tip.getAttribute('data-self'))).toBe(tree.self[node]);
    const rangeSeconds = (end - start) / 1000;
    expect(await tip.locator('[data-testid="tooltip-total"]').textContent()).toBe(formatValue(tree.total[node], 'nanoseconds', rangeSeconds));
    expect(await tip.textContent()).toMatch(/cores/);
    await shot('02-hover');
  });

  it('kernel frames look and read different from user frames', async () => {
    const tree = await apiTree('{service_name="shop-checkout"}');
    const k = findPath(tree, ['main', 'syscall.write', 'entry_SYSCALL_64_[k]', 'do_syscall_64_[k]', 'tcp_sendmsg_[k]']);
    const u = findPath(tree, ['main', 'http.serve', 'checkout.handle', 'checkout.parseCart', 'json.decode']);
    expect(k).toBeGreaterThan(0);
    const centre = (n: number) => (tree.x[n] + tree.total[n] / 2) / tree.total[0];
    const kernel = await hoverRow('flame', tree.depth[k], centre(k));
    expect(await kernel.tip.getAttribute('data-name')).toBe('tcp_sendmsg_[k]');
    expect(await kernel.tip.locator('[data-testid="tooltip-kind"]').textContent()).toMatch(/^kernel/);
    const user = await hoverRow('flame', tree.depth[u], centre(u));
    expect(await user.tip.locator('[data-testid="tooltip-kind"]').textContent()).toMatch(/^user code · json/);
    // Colour: kernel frames sit in the orange band (red > blue), user frames in the blue/violet one.
    const rgb = (n: number) =>
      page.evaluate(
        ([node, testId]) => {
          const rect = window.__kilnRenderers![testId].rectOf(node);
          const canvas = document.querySelector(`[data-testid="${testId}"] canvas`) as HTMLCanvasElement;
          const dpr = window.devicePixelRatio || 1;
          const d = canvas.getContext('2d')!.getImageData(Math.round((rect.x + 2) * dpr), Math.round((rect.y + 3) * dpr), 1, 1).data;
          return [d[0], d[1], d[2]];
        },
        [n, 'flame'] as const,
      );
    await page.mouse.move(0, 0);
    const [kr, , kb] = await rgb(k);
    expect(kr).toBeGreaterThan(kb + 40);
    const [ur, , ub] = await rgb(u);
    expect(ub).toBeGreaterThan(ur);
  });

  it('click zooms into a frame (and the zoom is in the URL)', async () => {
    const { box, tip } = await hoverRow('flame', 4, 0.02);
    const name = (await tip.getAttribute('data-name'))!;
    await page.mouse.click(box.x + box.width * 0.02, box.y + 4 * ROW + ROW / 2);
    await expect.poll(() => new URL(page.url()).searchParams.get('zoom')?.split(';').pop()).toBe(name);
    await page.locator('[data-testid="flame-zoomed"]').waitFor();
    const far = await hoverRow('flame', 4, 0.98);
    expect(await far.tip.getAttribute('data-name')).toBe(name);
    await shot('03-zoomed');
    await page.click('[data-testid="flame-zoomed"] button');
    await expect.poll(() => new URL(page.url()).searchParams.get('zoom')).toBeNull();
  });

  it('search highlights matches and sums their share', async () => {
    const tree = await apiTree('{service_name="shop-checkout"}');
    await page.fill('[data-testid="search"]', 'checkout.p');
    const share = page.locator('[data-testid="flame-search-share"]');
    await share.waitFor();
    const expected = searchMatches(tree, nameTest('checkout.p')!).value;
    expect(expected).toBeGreaterThan(0);
    expect(Number(await share.getAttribute('data-value'))).toBe(expected);
    expect(await share.textContent()).toContain(`${((100 * expected) / tree.total[0]).toFixed(1)}%`);
    await shot('04-search');
  });

  it('the top table sorts and filters', async () => {
    await page.click('[data-testid="view-table"]');
    const rows = page.locator('[data-testid="top-table"] tbody tr');
    await rows.first().waitFor();
    // Each order is the server's (`kiln query top --sort total`); the reversed order is that list backwards.
    const bySelf = await kilnApi<TopTable>('top', '{service_name="shop-checkout"}', { limit: '0' });
    expect(await shownRows()).toEqual(bySelf.entries);
    const byTotal = await kilnApi<TopTable>('top', '{service_name="shop-checkout"}', { limit: '0', sort: 'total' });
    expect(byTotal.entries.length).toBeGreaterThan(5);
    await page.click('[data-testid="sort-total"]');
    await expect.poll(() => shownRows()).toEqual(byTotal.entries);
    const totals = byTotal.entries.map((e) => e.total);
    expect(totals).toEqual([...totals].sort((a, b) => b - a));
    await page.click('[data-testid="sort-total"]');
    await expect.poll(() => shownRows()).toEqual(byTotal.entries.slice().reverse());
    expect(await page.locator('[data-testid="top-table"]').getAttribute('aria-busy')).toBe('false');
    await page.fill('[data-testid="table-filter"]', 'checkout.');
    const names = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-name') ?? ''));
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((n) => n.includes('checkout.'))).toBe(true);
    // A /regex/ filter is RE2, as the server's: (?i) works, and the rows are the server's filtered ones.
    await page.fill('[data-testid="table-filter"]', '/(?i)^CHECKOUT\\.P/');
    await expect.poll(async () => (await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-name')))).sort()).toEqual(['checkout.parseCart', 'checkout.price']);
    const filtered = await kilnApi<TopTable>('top', '{service_name="shop-checkout"}', { limit: '0', sort: 'total', filter: '(?i)^CHECKOUT\\.P' });
    expect(await shownRows()).toEqual(filtered.entries.slice().reverse());
    await shot('05-table');
    await page.fill('[data-testid="table-filter"]', '');
  });

  it('the table, focus, hide and sandwich are the server\'s answers over every stack, not the trimmed graph', async () => {
    const sel = '{service_name="shop-wide"}';
    // The fixture does what production data does: the 16 384-node graph the page draws has `other`
    // nodes, one of them heavier than any function's self — a table built from it would list `other` first.
    const trimmed = await apiTree(sel);
    const others = [...Array(trimmed.count).keys()].filter((i) => nodeName(trimmed, i) === 'other');
    expect(others.length).toBeGreaterThan(0);
    const top = await kilnApi<TopTable>('top', sel, { limit: '500' });
    expect(top.entries[0]!.name).toBe('hot.loop');
    expect(Math.max(...others.map((i) => trimmed.self[i]))).toBeGreaterThan(top.entries[0]!.self);

    await page.goto(viewUrl({ query: sel, view: 'table' }));
    await page.locator('[data-testid="top-table"] tbody tr').first().waitFor();
    const rows = await shownRows();
    expect(rows.map((r) => r.name)).not.toContain('other');
    expect(rows).toEqual(top.entries); // the first 500 of every function, in the server's order
    expect(await page.locator('[data-testid="top-table"] .note').textContent()).toContain(`of ${LEAVES + 4} functions`);
    // …and `kiln query top` prints the same rows.
    const iso = (ms: number) => new Date(ms).toISOString();
    const cli = await runKiln(['query', 'top', `${CPU}${sel}`, '--json', '-n', '500', '--from', iso(start), '--until', iso(end), '--url', server.url]);
    expect(cli.code, cli.stderr).toBe(0);
    expect((JSON.parse(cli.stdout) as TopTable).entries).toEqual(top.entries);

    // Focus: the graph and the table are the server's, filtered over every stack.
    await page.goto(viewUrl({ query: sel, view: 'split', focus: 'worker' }));
    await flameDrawn();
    await page.locator('[data-testid="top-table"] tbody tr').first().waitFor();
    expect(await drawnLines('flame')).toEqual(treeLines(await apiTree(sel, { start, end }, CPU, { focus: '^worker$' })));
    expect(await shownRows()).toEqual((await kilnApi<TopTable>('top', sel, { limit: '500', focus: '^worker$' })).entries);

    // Hide a function and a package at once: one server filter for both.
    await page.goto(`${viewUrl({ query: sel, view: 'split', hide: 'worker' })}&hide=${encodeURIComponent('pkg:hot')}`);
    await flameDrawn();
    await page.locator('[data-testid="top-table"] tbody tr').first().waitFor();
    const hide = { hide: '^worker$|^hot\\.' };
    expect(await drawnLines('flame')).toEqual(treeLines(await apiTree(sel, { start, end }, CPU, hide)));
    const hiddenTop = await kilnApi<TopTable>('top', sel, { limit: '500', ...hide });
    expect(hiddenTop.entries.map((e) => e.name)).not.toContain('hot.loop');
    expect(await shownRows()).toEqual(hiddenTop.entries);
    expect(Number(await page.locator('[data-testid="top-table"] table').getAttribute('data-total'))).toBe(hiddenTop.total);

    // Sandwich: both halves are the server's, rooted at the function.
    await page.goto(viewUrl({ query: sel, view: 'sandwich', fn: 'json.decode' }));
    await flameDrawn('sandwich-callers');
    await flameDrawn('sandwich-callees');
    const sw = await kilnApi<{ callers: FlameGraphJson; callees: FlameGraphJson }>('sandwich', sel, { function: 'json.decode', max_nodes: '16384' });
    const callers = decodeFlameGraph(sw.callers, 'json.decode');
    expect(callers.total[0]).toBe(700 * 1e7); // 500 + 200 samples at 100 Hz
    expect(await drawnLines('sandwich-callers')).toEqual(treeLines(callers));
    expect(await drawnLines('sandwich-callees')).toEqual(treeLines(decodeFlameGraph(sw.callees, 'json.decode')));
    // 20 000 stacks through the server, a CLI process and six page loads: about 40 s on this 2-core machine.
  }, 120_000);

  it('diff of two label sets: red where 1.5 is slower, table sorted by change', async () => {
    await page.goto(
      viewUrl({
        query: '{service_name="shop-checkout"}',
        view: 'diff',
        lq: '{service_name="shop-checkout", version="1.4"}',
        rq: '{service_name="shop-checkout", version="1.5"}',
      }),
    );
    await flameDrawn('diff-flame');
    const rows = page.locator('[data-testid="diff-table"] tbody tr');
    await rows.first().waitFor();
    expect(await rows.first().getAttribute('data-name')).toBe('json.decode');
    expect(Number(await rows.first().getAttribute('data-change'))).toBeGreaterThan(0.2);
    const changes = await rows.evaluateAll((trs) => trs.map((tr) => Math.abs(Number(tr.getAttribute('data-change')))));
    expect(changes).toEqual([...changes].sort((a, b) => b - a));
    // The pixel under json.decode is red, under db.query (a smaller share in 1.5) green.
    const iso = (ms: number) => new Date(ms).toISOString();
    const q = new URLSearchParams({
      profile_type: CPU,
      base_query: '{service_name="shop-checkout", version="1.4"}',
      head_query: '{service_name="shop-checkout", version="1.5"}',
      base_from: iso(start),
      base_until: iso(end),
      head_from: iso(start),
      head_until: iso(end),
      max_nodes: '16384',
      limit: '0',
    });
    const r = (await (await fetch(`${server.url}/api/v1/diff?${q}`)).json()) as { flamegraph: FlameGraphDiffJson; table: DiffTable };
    const diff = decodeDiffFlameGraph(r.flamegraph);
    // Every function of both sides is listed, with the server's values as shares of each side.
    const listed = await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-name'), Number(tr.getAttribute('data-change'))] as const));
    expect(listed.map(([n]) => n).sort()).toEqual(r.table.entries.map((e) => e.name).sort());
    for (const [name, change] of listed) {
      const e = r.table.entries.find((x) => x.name === name)!;
      expect(change).toBeCloseTo(e.headSelf / r.table.headTotal - e.baseSelf / r.table.baseTotal, 12);
    }
    const pixel = async (frames: string[]) => {
      const n = findPath(diff, frames);
      expect(n, frames.join(';')).toBeGreaterThan(0);
      return page.evaluate((node) => {
        const rd = window.__kilnRenderers!['diff-flame'];
        const rect = rd.rectOf(node);
        const canvas = document.querySelector('[data-testid="diff-flame"] canvas') as HTMLCanvasElement;
        const dpr = window.devicePixelRatio || 1;
        const d = canvas.getContext('2d')!.getImageData(Math.round((rect.x + Math.min(rect.w, 40) / 2) * dpr), Math.round((rect.y + 3) * dpr), 1, 1).data;
        return [d[0], d[1], d[2]];
      }, n);
    };
    const [r1, g1] = await pixel(['main', 'http.serve', 'checkout.handle', 'checkout.parseCart', 'json.decode']);
    expect(r1).toBeGreaterThan(g1 + 40);
    const [r2, g2] = await pixel(['main', 'http.serve', 'checkout.handle', 'checkout.price', 'db.query']);
    expect(g2).toBeGreaterThan(r2 + 20);
    await shot('06-diff');
  });

  it('diff of two ranges of one service', async () => {
    await page.goto(
      viewUrl({
        query: '{service_name="shop-batch"}',
        view: 'diff',
        lfrom: String(start),
        luntil: String(batchHalf),
        rfrom: String(batchHalf),
        runtil: String(end),
      }),
    );
    await flameDrawn('diff-flame');
    const rows = page.locator('[data-testid="diff-table"] tbody tr');
    await rows.first().waitFor();
    const change = async (name: string) => Number(await page.locator(`[data-testid="diff-table"] tr[data-name="${name}"]`).getAttribute('data-change'));
    expect(await change('upload')).toBeCloseTo(0.6, 5); // 20 % → 80 % of the range
    expect(await change('compress')).toBeCloseTo(-0.6, 5);
    await shot('06b-diff-ranges');
  });

  it('a diff over a relative range asks the server once, not on every render', async () => {
    let diffs = 0;
    const count = (r: { url(): string }) => {
      if (new URL(r.url()).pathname === '/api/v1/diff') diffs++;
    };
    page.on('request', count);
    try {
      await page.goto(
        viewUrl({
          query: '{service_name="shop-checkout"}',
          view: 'diff',
          from: 'now-1h',
          until: 'now',
          lq: '{service_name="shop-checkout", version="1.4"}',
          rq: '{service_name="shop-checkout", version="1.5"}',
        }),
      );
      await flameDrawn('diff-flame');
      await page.locator('[data-testid="diff-table"] tbody tr').first().waitFor();
      // Long enough for a render loop (a new "now" per render) to have sent many more.
      await page.waitForTimeout(1000);
      expect(diffs).toBe(1);
      // The refresh button re-reads "now" for the diff's ranges too.
      await Promise.all([page.waitForRequest((r) => new URL(r.url()).pathname === '/api/v1/diff'), page.click('button[title="Re-read \'now\'"]')]);
      await page.locator('[data-testid="diff-table"] tbody tr').first().waitFor();
      expect(diffs).toBe(2);
    } finally {
      page.off('request', count);
    }
  });

  it('label names are asked for once per range and fill both the autocomplete and group-by', async () => {
    let asks = 0;
    const count = (r: { url(): string }) => {
      if (r.url().endsWith('/LabelNames')) asks++;
    };
    page.on('request', count);
    try {
      await page.goto(viewUrl({ query: '{service_name="shop-checkout"}' }));
      await flameDrawn();
      const options = (sel: string) => page.locator(sel).evaluateAll((o) => o.map((x) => (x as HTMLOptionElement).value));
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="group-by"] option[value="version"]').length > 0);
      expect(await options('[data-testid="group-by"] option')).toContain('version');
      expect(await options('#kiln-label-names option')).toContain('version');
      expect(asks).toBe(1);
    } finally {
      page.off('request', count);
    }
  });

  it('an invalid selector in a link is pointed at inline and nothing is queried', async () => {
    await page.goto(viewUrl({ query: '{service_name=}' }));
    const err = page.locator('[data-testid="selector-error"]');
    await err.waitFor();
    // The server's own parser, in the page: its words and column.
    expect(await err.textContent()).toMatch(/expected a quoted label value, got "}" \(at column 15\)/);
    expect(await page.locator('[data-testid="idle"]').first().textContent()).toMatch(/Fix the selector/);
    expect(await page.locator('[data-testid="error"]').count()).toBe(0);
  });

  it('shows a heap profile in MiB, with the type picked from the server list', async () => {
    const types = await querier<{ profileTypes?: { ID: string }[] }>('ProfileTypes', { start: String(heapRange.start), end: String(heapRange.end) });
    const inuse = (types.profileTypes ?? []).map((t) => t.ID).find((id) => id.split(':')[1] === 'inuse_space');
    expect(inuse, JSON.stringify(types)).toBeDefined();
    await page.goto(viewUrl({ query: '{service_name="go-heap"}', from: String(heapRange.start), until: String(heapRange.end), type: inuse! }));
    await flameDrawn();
    expect(await page.locator('[data-testid="profile-type"]').inputValue()).toBe(inuse);
    const tree = await apiTree('{service_name="go-heap"}', heapRange, inuse);
    const { tip } = await hoverRow('flame', 0, 0.5);
    expect(Number(await tip.getAttribute('data-total'))).toBe(tree.total[0]);
    expect(await tip.locator('[data-testid="tooltip-total"]').textContent()).toBe(formatValue(tree.total[0], 'bytes'));
    expect(await tip.locator('[data-testid="tooltip-total"]').textContent()).toMatch(/MiB|GiB/);
    await shot('07b-heap');
  });

  it('a reloaded URL restores the view', async () => {
    await page.goto(viewUrl({ query: '{service_name="shop-checkout"}', view: 'split', search: 'json', zoom: 'main;http.serve' }));
    await flameDrawn();
    await page.reload();
    await flameDrawn();
    expect(await page.locator('[data-testid="search"]').inputValue()).toBe('json');
    expect(await page.locator('[data-testid="flame-zoomed"]').textContent()).toContain('http.serve');
    await page.locator('[data-testid="top-table"]').waitFor();
    expect(await page.locator('[data-testid="service"]').inputValue()).toBe('shop-checkout');
    const { tip } = await hoverRow('flame', 1, 0.5);
    expect(await tip.getAttribute('data-name')).toBe('main');
    await shot('07-split-restored');
  });

  it('a link to a deeper path still loads the page (index.html fallback, absolute assets)', async () => {
    await page.goto(viewUrl({ query: '{service_name="shop-checkout"}' }).replace('/?', '/explore/cpu?'));
    await flameDrawn();
    expect(await page.locator('[data-testid="service"]').inputValue()).toBe('shop-checkout');
  });

  it('right-click focuses on a function and sandwich shows callers and callees', async () => {
    await page.goto(viewUrl({ query: '{service_name="shop-checkout"}' }));
    await flameDrawn();
    const { box, tip } = await hoverRow('flame', 3, 0.02);
    const name = (await tip.getAttribute('data-name'))!;
    await page.mouse.click(box.x + box.width * 0.02, box.y + 3 * ROW + ROW / 2, { button: 'right' });
    await page.click('[data-testid="flame-menu"] >> text=Sandwich view');
    await expect.poll(() => new URL(page.url()).searchParams.get('fn')).toBe(name);
    await flameDrawn('sandwich-callers');
    await flameDrawn('sandwich-callees');
    await shot('08-sandwich');
    await page.click('[data-testid="view-flame"]');
    await flameDrawn();
    await hoverRow('flame', 3, 0.02);
    await page.mouse.click(box.x + box.width * 0.02, box.y + 3 * ROW + ROW / 2, { button: 'right' });
    await page.click('[data-testid="flame-menu"] >> text=Focus on this function');
    await page.locator('[data-testid="chip-focus"]').waitFor();
    const focused = await hoverRow('flame', 1, 0.5);
    expect(await focused.tip.getAttribute('data-name')).toBe(name);
    // Hide a whole package: every checkout.* frame goes, their callees (db.query, json.decode) move up to http.serve.
    await page.goto(viewUrl({ query: '{service_name="shop-checkout"}' }));
    await flameDrawn();
    await hoverRow('flame', 3, 0.02);
    await page.mouse.click(box.x + box.width * 0.02, box.y + 3 * ROW + ROW / 2, { button: 'right' });
    await page.click('[data-testid="flame-menu"] >> text=Hide package checkout');
    await expect.poll(() => new URL(page.url()).searchParams.getAll('hide')).toEqual(['pkg:checkout']);
    expect(await page.locator('.chips').textContent()).toContain('hidden: package checkout');
    // The server hid them: the page draws its graph for `hide` = every checkout.* function.
    const hidden = await apiTree('{service_name="shop-checkout"}', { start, end }, CPU, { hide: '^checkout\\.' });
    await expect.poll(() => drawnLines('flame')).toEqual(treeLines(hidden));
    const dbQuery = findPath(hidden, ['main', 'http.serve', 'db.query']);
    expect(dbQuery).toBeGreaterThan(0);
    const moved = await hoverRow('flame', 3, (hidden.x[dbQuery] + hidden.total[dbQuery] / 2) / hidden.total[0]);
    expect(await moved.tip.getAttribute('data-name')).toBe('db.query');
    await shot('08b-hide-package');
  });

  it('downloads folded and pprof that hold the same total as the API', async () => {
    await page.goto(viewUrl({ query: '{service_name="shop-checkout"}' }));
    await flameDrawn();
    const tree = await apiTree('{service_name="shop-checkout"}');
    const [folded] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="download-folded"]')]);
    const text = readFileSync((await folded.path())!, 'utf8');
    expect(text.trim().split('\n').reduce((s, l) => s + Number(l.split(' ').pop()), 0)).toBe(tree.total[0]);
    const [pprof] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="download-pprof"]')]);
    const prof = PprofProfile.decode(readFileSync((await pprof.path())!));
    const sums = prof.sampleType.map((_, k) => prof.sample.reduce((s, x) => s + Number(x.value[k]), 0));
    expect(sums).toContain(tree.total[0]);
  });

  it('shows a corpus profile, readable errors and empty states, and a dark theme', async () => {
    await page.goto(viewUrl({ query: '{service_name="go-corpus"}', from: String(corpusRange.start), until: String(corpusRange.end) }));
    await flameDrawn();
    const corpus = await apiTree('{service_name="go-corpus"}', corpusRange);
    expect(corpus.count).toBeGreaterThan(20);
    const { tip } = await hoverRow('flame', 0, 0.5);
    expect(Number(await tip.getAttribute('data-total'))).toBe(corpus.total[0]);
    await page.click('[data-testid="theme"]');
    await expect.poll(() => page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await shot('09-corpus-dark');
    await page.fill('[data-testid="selector"]', '{service_name=go-corpus}');
    expect(await page.locator('[data-testid="selector-error"]').textContent()).toMatch(/expected a quoted label value/);
    await page.goto(viewUrl({ query: '{service_name="no-such-service"}' }));
    await page.locator('[data-testid="empty"]').first().waitFor();
    expect(await page.locator('[data-testid="empty"]').first().textContent()).toMatch(/No samples/);
    expect(await page.locator('[data-testid="service"]').inputValue()).toBe('no-such-service');
    await shot('10-empty');
    // An API failure reads as a message with the server's words, not a blank graph.
    await page.route('**/api/v1/flamegraph?*', (route) =>
      route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'store is restarting' }) }),
    );
    await page.goto(viewUrl({ query: '{service_name="shop-checkout"}' }));
    const err = page.locator('main [data-testid="error"]');
    await err.waitFor();
    expect(await err.textContent()).toMatch(/Could not load the flame graph: store is restarting/);
    await page.unroute('**/api/v1/flamegraph?*');
    await shot('11-api-error');
  });
});
