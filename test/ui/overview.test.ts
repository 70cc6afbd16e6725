import type {} from '../../ui/src/flame/window-hooks.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatMoney } from '../../src/insight/cost.js';
import type { Overview } from '../../src/insight/overview.js';
import { formatCores } from '../../ui/src/model/units.js';
import { CONFIG, expectedFunctions, ingestFolded, pushWorkloads, reportedHour, startConfiguredServer } from '../insight/teams-fixtures.js';
import type { ConfiguredServer } from '../insight/teams-fixtures.js';
import { ARTIFACTS, ensureUiBuilt, launchChromium } from './browser.js';

/**
 * The services overview and the HTML team report in real Chromium, against a real server holding two
 * teams' namespaces: what the page shows is checked against the API and the pushed workloads, and
 * screenshots are kept in test-artifacts/overview/.
 */
const SHOTS = path.join(path.dirname(ARTIFACTS), 'overview');
const DAY = 86_400_000;
let server: ConfiguredServer;
let browser: Browser;
let page: Page;
const hour = reportedHour();

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function services(team = ''): Promise<Overview> {
  const q = new URLSearchParams({ from: String(hour.from), until: String(hour.to), team });
  const res = await fetch(`${server.url}/api/v1/services?${q}`);
  if (!res.ok) throw new Error(`services: ${res.status} ${await res.text()}`);
  return (await res.json()) as Overview;
}

/** The rows of the services table as shown: name, cores and cost cells. */
async function shownServices(): Promise<{ service: string; cores: string; cost: string }[]> {
  return page.locator('[data-testid="services"] tbody tr').evaluateAll((rows) =>
    rows.map((r) => ({
      service: (r as HTMLElement).dataset.service ?? '',
      cores: r.querySelector('[data-testid="cores"]')?.textContent ?? '',
      cost: r.querySelector('[data-testid="cost"]')?.textContent ?? '',
    })),
  );
}

beforeAll(async () => {
  const uiDir = ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  server = await startConfiguredServer(CONFIG, { uiDir });
  await pushWorkloads(server.url, hour);
  // A service owned through its own `team` label (as the agent copies it from a pod), no configured team.
  for (const minute of [5, 25, 45]) await ingestFolded(server.url, 'cron.cpu{namespace=ops,team=billing,node_pool=ondemand}', 'main;bill.run 60', hour.from / 1000 + minute * 60);
  // A week of history at this hour for payments' `api`, which moves its time into gc this hour.
  for (let d = 0; d <= 7; d++) {
    const parse = d === 0 ? 40 : 70 + [0, 2, -1, 1, -2, 3, 0][d - 1]!;
    for (const minute of [10, 30, 50]) {
      await ingestFolded(server.url, 'api.cpu{namespace=payments-prod,node_pool=ondemand}', `main;handle;parse ${parse}\nmain;gc ${100 - parse}`, (hour.from - d * DAY) / 1000 + minute * 60);
    }
  }
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the services overview in Chromium', () => {
  it('opens on the overview and shows every service with the API\'s cores and costs', async () => {
    await page.goto(`${server.url}/?page=services&from=${hour.from}&until=${hour.to}`);
    await page.locator('[data-testid="services"] tbody tr').first().waitFor();
    const api = await services();
    const rows = await shownServices();
    expect(rows.map((r) => r.service)).toEqual(api.services.map((s) => s.service));
    for (const [i, s] of api.services.entries()) {
      expect(rows[i]!.cores, s.service).toBe(formatCores(s.cores!));
      expect(rows[i]!.cost, s.service).toBe(formatMoney(s.costPerWeek!, 'USD'));
    }
    // Each row draws its sparkline.
    expect(await page.locator('[data-testid="services"] svg.spark polyline.spark-line').count()).toBe(api.services.length);
    await shot('01-overview-all');
  });

  it("shows each service's teams unfiltered, and a team badge filters the page to that team", async () => {
    const api = await services();
    const shown = await page
      .locator('[data-testid="services"] tbody tr')
      .evaluateAll((rows) => rows.map((r) => ({ service: (r as HTMLElement).dataset.service ?? '', teams: [...r.querySelectorAll('.team-badge')].map((b) => b.textContent ?? '') })));
    expect(shown).toEqual(api.services.map((s) => ({ service: s.service, teams: s.teams })));
    const teamsOf = new Map(shown.map((r) => [r.service, r.teams]));
    expect(teamsOf.get('checkout')).toEqual(['payments']);
    expect(teamsOf.get('indexer')).toEqual(['search']);
    expect(teamsOf.get('cron')).toEqual(['billing']);
    expect(teamsOf.get('proxy')).toEqual([]);
    await page.locator('[data-testid="services"] tr[data-service="indexer"] .team-badge').click();
    await expect.poll(() => new URL(page.url()).searchParams.get('team')).toBe('search');
    await expect.poll(async () => (await shownServices()).map((r) => r.service).sort()).toEqual(['indexer', 'query']);
    // Filtered, the column would only repeat the filter.
    expect(await page.locator('[data-testid="services"] [data-testid="teams"]').count()).toBe(0);
    await shot('01b-overview-team-search');
  });

  it('filters by team, and shows the anomaly of a team\'s service', async () => {
    await page.selectOption('[data-testid="team"]', 'payments');
    await expect.poll(() => new URL(page.url()).searchParams.get('team')).toBe('payments');
    await expect.poll(async () => (await shownServices()).map((r) => r.service).sort()).toEqual(['api', 'checkout', 'ledger', 'settle']);
    // checkout runs 300 s on spot and 100 s on demand of json.decode per push: its cost is the pushed workloads' own.
    const checkout = (await shownServices()).find((r) => r.service === 'checkout')!;
    const want = expectedFunctions((w) => w.service === 'checkout');
    let cost = 0;
    for (const e of want.values()) cost += e.selfCost;
    expect(checkout.cost).toBe(formatMoney(cost * 168, 'USD'));
    expect(checkout.cores).toBe(formatCores(1));
    const anomaly = page.locator('[data-testid="anomaly"][data-service="api"][data-function="gc"]');
    await anomaly.waitFor();
    expect(await anomaly.textContent()).toContain('60.0% of its CPU, usually 30.0%');
    expect(await page.locator('[data-testid="anomaly"][data-service="checkout"]').count()).toBe(0);
    await shot('02-overview-payments');
  });

  it('opens a service\'s flame graph on a click, with cost per function in the top table', async () => {
    await page.locator('[data-testid="services"] tr[data-service="checkout"] td.service-name').click();
    await expect.poll(() => new URL(page.url()).searchParams.get('query')).toBe('{team="payments", service_name="checkout"}');
    await page.locator('[data-testid="flame"] canvas').waitFor({ state: 'visible' });
    await page.waitForFunction(() => (window.__kilnRenderers?.['flame']?.perf.draws.length ?? 0) > 0);
    const tree = await page.evaluate(() => window.__kilnRenderers!['flame']!.currentTree()!.total[0]);
    expect(tree).toBe(3600e9); // checkout: 600 s per push, six pushes
    await shot('03-service-flame');
    await page.click('[data-testid="view-table"]');
    const json = page.locator('[data-testid="top-table"] tr[data-name="json.decode"] [data-testid="self-cost"]');
    await json.waitFor();
    const want = expectedFunctions((w) => w.service === 'checkout').get('json.decode')!;
    expect(await json.textContent()).toBe(formatMoney(want.selfCost * 168, 'USD'));
    await shot('04-top-table-cost');
    // Back to the overview, still filtered by the team.
    await page.click('[data-testid="to-services"]');
    await page.locator('[data-testid="services"] tbody tr').first().waitFor();
    expect(new URL(page.url()).searchParams.get('team')).toBe('payments');
  });

  it('is the landing page of a bare address', async () => {
    await page.goto(`${server.url}/`);
    await expect.poll(() => new URL(page.url()).searchParams.get('page')).toBe('services');
    await page.locator('[data-testid="overview-summary"], [data-testid="empty"]').first().waitFor();
  });
});

describe('the HTML team report in Chromium', () => {
  it('opens from disk with its tables and the inline SVG flame graph of the biggest service', async () => {
    const res = await fetch(`${server.url}/api/v1/report?team=payments&from=${hour.from}&until=${hour.to}&format=html&top=12`);
    expect(res.status).toBe(200);
    const file = path.join(SHOTS, 'report-payments.html');
    writeFileSync(file, await res.text());
    await page.goto(pathToFileURL(file).href);
    await expect.poll(() => page.locator('[data-testid="team"]').textContent()).toBe('payments');
    const functions = await page.locator('#functions tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.function));
    expect(functions).toContain('crypto.sign');
    expect(functions).not.toContain('tokenize');
    // The flame graph is drawn: frames with readable labels, each with its hover title.
    const frames = page.locator('svg.flame g');
    expect(await frames.count()).toBeGreaterThan(5);
    expect(await page.locator('svg.flame text', { hasText: 'json.decode' }).count()).toBe(1);
    const box = await page.locator('svg.flame').boundingBox();
    expect(box!.width).toBeGreaterThan(1000);
    expect(box!.height).toBeGreaterThan(4 * 18);
    await shot('05-report-payments');
  });
});
