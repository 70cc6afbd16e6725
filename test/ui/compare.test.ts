import type {} from '../../ui/src/flame/window-hooks.js';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompareReport } from '../../src/insight/compare.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ARTIFACTS, ensureUiBuilt, launchChromium } from './browser.js';

/**
 * The diff view's "compare to…" action in Chromium against a real server: it picks an earlier baseline,
 * keeps that choice in the URL, asks /api/v1/compare, lists the changes beyond sampling noise with the
 * server's figures, and marks them in the diff table — and leaves a change inside the noise unmarked.
 */
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
const MIN = 60_000;

// checkout 1.5 decodes JSON three times as long; log.write grows with the work (25 → 45 samples a push),
// so its share stays 2.5 %: a difference of a few samples the test must not call significant.
const v14 = (i: number) => `main;http.serve;checkout.handle;checkout.parseCart;json.decode ${400 + (i === 2 ? 1 : 0)}
main;http.serve;checkout.handle;checkout.price;db.query ${300 - (i === 3 ? 1 : 0)}
main;http.serve;checkout.handle;checkout.render 200
main;runtime.gcBgMarkWorker;runtime.scanobject 75
main;log.write 25
`;
const v15 = (i: number) => v14(i).replace(/json\.decode (\d+)/, (_, n: string) => `json.decode ${3 * Number(n)}`).replace('log.write 25', 'log.write 45');

let server: TestServer;
let browser: Browser;
let page: Page;
/** The batch job: compress-heavy for ten minutes, then upload-heavy for the next ten. */
let half = 0;
let start = 0;
let end = 0;

async function ingest(name: string, body: string, fromS: number): Promise<void> {
  const q = new URLSearchParams({ name, from: String(fromS), until: String(fromS + 60), format: 'folded', sampleRate: '100' });
  const res = await fetch(`${server.url}/ingest?${q}`, { method: 'POST', body });
  if (!res.ok) throw new Error(`ingest ${name}: ${res.status} ${await res.text()}`);
}

async function compareApi(base: { q: string; from: number; until: number }, head: { q: string; from: number; until: number }): Promise<CompareReport> {
  const iso = (ms: number) => new Date(ms).toISOString();
  const q = new URLSearchParams({
    profile_type: CPU,
    base_query: base.q, base_from: iso(base.from), base_until: iso(base.until),
    head_query: head.q, head_from: iso(head.from), head_until: iso(head.until),
    limit: '0',
  });
  return (await (await fetch(`${server.url}/api/v1/compare?${q}`)).json()) as CompareReport;
}

/** The significant rows the page lists: name and both total shares as the page holds them. */
async function panelRows(): Promise<{ name: string; base: number; head: number }[]> {
  return page.locator('[data-testid="compare-panel"] tbody tr').evaluateAll((trs) =>
    trs.map((tr) => ({ name: tr.getAttribute('data-name') ?? '', base: Number(tr.getAttribute('data-total-base')), head: Number(tr.getAttribute('data-total-head')) })),
  );
}

function significantOf(r: CompareReport): string[] {
  return r.functions.filter((f) => f.total.significant || f.self.significant).map((f) => f.name);
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  const uiDir = ensureUiBuilt();
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startTestServer({ uiDir });
  const nowS = Math.floor(Date.now() / 60_000) * 60; // whole minutes: the pushes tile the ranges exactly
  for (let i = 0; i < 5; i++) {
    await ingest('checkout.cpu{version=1.4}', v14(i), nowS - 600 + i * 60);
    await ingest('checkout.cpu{version=1.5}', v15(i), nowS - 600 + i * 60);
  }
  for (let i = 0; i < 20; i++) {
    await ingest('batch.cpu', i < 10 ? `main;compress ${80 + (i % 3)}\nmain;upload ${20 + (i % 2)}\n` : `main;compress ${20 + (i % 2)}\nmain;upload ${80 + (i % 3)}\n`, nowS - 1200 + i * 60);
  }
  half = (nowS - 600) * 1000;
  end = nowS * 1000;
  start = half - 10 * MIN;
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('diff view: compare to…', () => {
  it('the significance toggle on two versions: json.decode listed and marked with the server\'s figures, log.write not', async () => {
    const lq = '{service_name="checkout", version="1.4"}';
    const rq = '{service_name="checkout", version="1.5"}';
    const q = new URLSearchParams({ type: CPU, query: '{service_name="checkout"}', from: String(start), until: String(end), view: 'diff', lq, rq });
    await page.goto(`${server.url}/?${q}`);
    await page.locator('[data-testid="diff-table"] tbody tr').first().waitFor();
    expect(await page.locator('[data-testid="compare-panel"]').count()).toBe(0);
    await page.click('[data-testid="compare-toggle"]');
    await expect.poll(() => new URL(page.url()).searchParams.get('compare')).toBe('1');
    await page.locator('[data-testid="compare-panel"] tbody tr').first().waitFor();

    const api = await compareApi({ q: lq, from: start, until: end }, { q: rq, from: start, until: end });
    const rows = await panelRows();
    expect(rows.map((r) => r.name)).toEqual(significantOf(api));
    expect(rows[0]!.name).toBe('json.decode');
    const jd = api.functions.find((f) => f.name === 'json.decode')!;
    expect(rows[0]!.base).toBe(jd.total.base);
    expect(rows[0]!.head).toBe(jd.total.head);
    expect(jd.total.base).toBeCloseTo(2001 / 5000, 12);
    expect(rows.map((r) => r.name)).not.toContain('log.write');
    expect(await page.locator('[data-testid="compare-summary"]').textContent()).toMatch(/^9 of 11 functions changed beyond sampling noise \(5000 vs 9102 samples, α = 0\.01/);

    const mark = (name: string) => page.locator(`[data-testid="diff-table"] tr[data-name="${name}"]`).getAttribute('data-significant');
    expect(await mark('json.decode')).toBe('true');
    expect(await mark('log.write')).toBe('false');
    await shot('compare-01-versions');

    // The state is the URL: a reload shows the same panel.
    await page.reload();
    await page.locator('[data-testid="compare-panel"] tbody tr').first().waitFor();
    expect((await panelRows()).map((r) => r.name)).toEqual(significantOf(api));
  });

  it('"compare to the previous period" on one service: baseline range in the URL, upload up and compress down', async () => {
    const q = new URLSearchParams({ type: CPU, query: '{service_name="batch"}', from: String(half), until: String(end), view: 'diff' });
    await page.goto(`${server.url}/?${q}`);
    await page.locator('[data-testid="diff-table"] tbody tr').first().waitFor();
    await page.selectOption('[data-testid="compare-to"]', 'previous');
    await expect.poll(() => new URL(page.url()).searchParams.get('lfrom')).toBe(String(start));
    const url = new URL(page.url()).searchParams;
    expect([url.get('luntil'), url.get('rfrom'), url.get('runtil'), url.get('compare')]).toEqual([String(half), String(half), String(end), '1']);
    await expect.poll(async () => (await panelRows()).map((r) => r.name).sort()).toEqual(['compress', 'upload']);

    const api = await compareApi({ q: '{service_name="batch"}', from: start, until: half }, { q: '{service_name="batch"}', from: half, until: end });
    const rows = await panelRows();
    expect(rows.map((r) => r.name)).toEqual(significantOf(api));
    const upload = rows.find((r) => r.name === 'upload')!;
    expect(upload.base).toBeCloseTo(api.functions.find((f) => f.name === 'upload')!.total.base, 12);
    expect(upload.base).toBeLessThan(0.25);
    expect(upload.head).toBeGreaterThan(0.75);
    await shot('compare-02-previous-period');
  });
});
