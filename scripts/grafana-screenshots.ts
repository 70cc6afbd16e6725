/**
 * Regenerates the screenshots of docs/GRAFANA.md: Kiln's own UI answering the queries Grafana's
 * Pyroscope data source and Profiles Drilldown send (Grafana itself does not run here).
 *
 *   npx tsx scripts/grafana-screenshots.ts            # writes docs/img/grafana-*.png
 *
 * A real Kiln server (loopback, free port, temporary DuckDB store) is started with the built UI, the
 * conformance corpus's Go CPU and heap profiles are ingested as one service on two pods over the last
 * hour, and headless Chromium (/usr/bin/chromium) takes each page at a small fixed viewport.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureUiBuilt, launchChromium } from '../test/ui/browser.js';
import { startTestServer } from '../test/support/server.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CORPUS = path.resolve(ROOT, '../shared/testdata/pprof');
const OUT = path.join(ROOT, 'docs', 'img');
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
const SERVICE = 'checkout';
const VIEWPORT = { width: 1100, height: 720 };

async function ingest(url: string, file: string, name: string, atS: number): Promise<void> {
  const params = new URLSearchParams({ name, format: 'pprof', from: String(atS), until: String(atS + 10), restamp: '1' });
  const res = await fetch(`${url}/ingest?${params}`, { method: 'POST', body: readFileSync(path.join(CORPUS, file)) });
  if (res.status !== 200) throw new Error(`ingest ${file}: ${res.status} ${await res.text()}`);
}

async function main(): Promise<void> {
  if (!existsSync(CORPUS)) throw new Error(`the corpus is missing: ${CORPUS} (../shared/testdata beside the checkout)`);
  mkdirSync(OUT, { recursive: true });
  const uiDir = ensureUiBuilt();
  const server = await startTestServer({ uiDir });
  const browser = await launchChromium();
  try {
    const nowS = Math.floor(Date.now() / 1000);
    // Every 5 minutes for the last hour: pod p0 runs one Go program, pod p1 another, and p1 only from
    // half an hour ago (the diff then has something to show).
    for (let m = 55; m >= 5; m -= 5) {
      await ingest(server.url, 'pyroscope-cpu.pprof', `${SERVICE}.cpu{pod=p0,env=prod}`, nowS - m * 60);
      if (m <= 30) await ingest(server.url, 'parca-profile1.pb.gz', `${SERVICE}.cpu{pod=p1,env=prod}`, nowS - m * 60);
      await ingest(server.url, 'pyroscope-heap', `${SERVICE}.alloc_space{pod=p0,env=prod}`, nowS - m * 60);
      await ingest(server.url, 'pyroscope-cpu.pprof', `payments.cpu{pod=q0,env=prod}`, nowS - m * 60);
    }
    const page = await browser.newPage({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    /** The page at `query` once `ready` shows; `from` crops the shot to start at that element, `height` to that many pixels. */
    const shot = async (name: string, query: Record<string, string>, ready: string, crop: { from?: string; height?: number } = {}): Promise<void> => {
      await page.goto(`${server.url}/?${new URLSearchParams(query)}`);
      await page.locator(ready).first().waitFor({ timeout: 30_000 });
      // Charts and the canvas flame graph draw after the data arrives.
      await page.waitForTimeout(800);
      const top = crop.from ? ((await page.locator(crop.from).first().boundingBox())?.y ?? 0) : 0;
      const clip = { x: 0, y: Math.max(0, top - 8), width: VIEWPORT.width, height: crop.height ?? VIEWPORT.height };
      await page.screenshot({ path: path.join(OUT, `grafana-${name}.png`), clip, fullPage: crop.from !== undefined });
      console.log(`docs/img/grafana-${name}.png`);
    };
    const selection = { type: CPU, query: `{service_name="${SERVICE}"}`, from: 'now-1h', until: 'now' };
    // Drilldown's "All services" (querier.v1 Series with service_name and __profile_type__).
    await shot('services', { page: 'services', from: 'now-1h', until: 'now' }, '[data-testid="services"] tbody tr', { height: 260 });
    // A Grafana panel of query type "Both": SelectSeries grouped by pod above SelectMergeStacktraces.
    await shot('explore', { ...selection, groupBy: 'pod', view: 'flame' }, '[data-testid="chart"]');
    // Drilldown's flame graph with its function table (the same merge, as top functions).
    await shot('table', { ...selection, view: 'split' }, 'table tbody tr');
    // Drilldown's diff flame graph (/pyroscope/render-diff): the first half hour against the second.
    const half = `now-30m`;
    await shot('diff', { ...selection, view: 'diff', lfrom: 'now-1h', luntil: half, rfrom: half, runtil: 'now' }, '[data-testid="diff-table"] tbody tr', { from: '[data-testid="diff-view"]', height: 640 });
  } finally {
    await browser.close();
    await server.close();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
