import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerConfig } from '../../src/config/server-config.js';
import type { TeamReport } from '../../src/insight/report.js';
import { reportHtml } from '../../src/insight/report-html.js';
import { reportMarkdown } from '../../src/insight/report-markdown.js';
import { ReportScheduler } from '../../src/insight/report-schedule.js';
import { formatMoney } from '../../src/insight/cost.js';
import { CONFIG, CPU, WORKLOADS, expectedFunctions, pushWorkloads, reportedHour, startConfiguredServer } from './teams-fixtures.js';
import type { ConfiguredServer } from './teams-fixtures.js';

/**
 * Team reports from a server holding two teams' namespaces and a namespace nobody owns: each report
 * lists only its team's functions, with cores and costs computed here from the pushed workloads.
 */
let server: ConfiguredServer;
let dir: string;
const hour = reportedHour();
const TEAMS = ['payments', 'search'] as const;

async function report(team: string): Promise<TeamReport> {
  const q = new URLSearchParams({ team, from: String(hour.from), until: String(hour.to), top: '100' });
  const res = await fetch(`${server.url}/api/v1/report?${q}`);
  if (!res.ok) throw new Error(`report: ${res.status} ${await res.text()}`);
  return (await res.json()) as TeamReport;
}

/** Functions of a team's workloads, and of everyone else's (which must never show). */
function ownAndOthers(team: string): { own: Set<string>; others: Set<string> } {
  const frames = (pick: (t: string | undefined) => boolean) =>
    new Set(WORKLOADS.filter((w) => pick(w.team)).flatMap((w) => `${w.now}\n${w.before}`.split('\n').flatMap((l) => l.split(' ')[0]!.split(';'))));
  const own = frames((t) => t === team);
  const others = new Set([...frames((t) => t !== team)].filter((f) => !own.has(f)));
  return { own, others };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-report-'));
  server = await startConfiguredServer(CONFIG);
  await pushWorkloads(server.url, hour);
});

afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('team reports', () => {
  it("lists only the team's functions, each with its cores and cost per week and month", async () => {
    for (const team of TEAMS) {
      const r = await report(team);
      const expected = expectedFunctions((w) => w.team === team);
      const { own, others } = ownAndOthers(team);
      const names = r.functions.map((f) => f.name);
      expect(names.filter((n) => others.has(n)), `${team} shows another team's functions`).toEqual([]);
      // Every function that burns CPU itself (callers with no self time add no cost of their own).
      expect(new Set(names)).toEqual(new Set([...own].filter((f) => expected.get(f)!.selfSeconds > 0)));
      for (const f of r.functions) {
        const want = expected.get(f.name)!;
        expect(f.selfCores, `${team} ${f.name}`).toBeCloseTo(want.selfSeconds / 3600, 9);
        expect(f.totalCores, `${team} ${f.name}`).toBeCloseTo(want.totalSeconds / 3600, 9);
        expect(f.selfCostPerWeek, `${team} ${f.name}`).toBeCloseTo(want.selfCost * 168, 9);
        expect(f.selfCostPerMonth, `${team} ${f.name}`).toBeCloseTo(want.selfCost * 730, 9);
        expect(f.totalCostPerWeek, `${team} ${f.name}`).toBeCloseTo(want.totalCost * 168, 9);
        expect(f.change, `${team} ${f.name}`).toEqual(want.previousSelfSeconds > 0 ? expect.closeTo((want.selfSeconds - want.previousSelfSeconds) / want.previousSelfSeconds, 9) : null);
      }
      let cost = 0;
      let secs = 0;
      for (const e of expected.values()) {
        cost += e.selfCost;
        secs += e.selfSeconds;
      }
      expect(r.total.cores).toBeCloseTo(secs / 3600, 9);
      expect(r.total.costPerWeek).toBeCloseTo(cost * 168, 9);
      expect(r.currency).toBe('USD');
      expect(r.services.map((s) => s.service).sort()).toEqual([...new Set(WORKLOADS.filter((w) => w.team === team).map((w) => w.service))].sort());
    }
  });

  it('calls a function new to this period a hotspot, and draws the biggest service', async () => {
    const payments = await report('payments');
    expect(payments.hotspots.map((h) => h.name)).toEqual(['fraud.score']);
    expect(payments.hotspots[0]!.change).toBeNull();
    expect(payments.flame?.service).toBe('checkout');
    // checkout: 600 s per push (both node pools), six pushes.
    expect(payments.flame?.tree.total).toBe(3600e9);
    const search = await report('search');
    expect(search.hotspots).toEqual([]); // bm25.score grew by half: ordinary movement
    expect(search.flame?.service).toBe('indexer');
  });

  it('renders Markdown and HTML with the figures and links into the UI', async () => {
    const r = await report('payments');
    const crypto = r.functions.find((f) => f.name === 'crypto.sign')!;
    const money = formatMoney(crypto.selfCostPerWeek!, 'USD');
    expect(money).toBe('$2.80');
    const md = reportMarkdown(r, 'http://kiln.example:4040');
    expect(md).toContain('# Kiln report: team payments');
    expect(md).toMatch(new RegExp(`\\| \\[\`crypto\\.sign\`\\]\\([^)]+\\) \\| 0\\.42 \\| 0\\.42 \\| \\${money} \\|`));
    expect(md).toContain('- [`fraud.score`](http://kiln.example:4040/?type=');
    // Each service's cost per week and per month (730 h), from the workloads' own seconds and prices.
    const checkoutCost = [...expectedFunctions((w) => w.service === 'checkout').values()].reduce((n, e) => n + e.selfCost, 0);
    expect(md).toMatch(new RegExp(`\\| \\[checkout\\]\\([^)]+\\) \\| [^|]+ \\| \\${formatMoney(checkoutCost * 168, 'USD')} \\| \\${formatMoney(checkoutCost * 730, 'USD')} \\|`));
    expect(md).not.toContain('tokenize');
    const html = reportHtml(r, 'http://kiln.example:4040');
    expect(html).toContain('<svg xmlns="http://www.w3.org/2000/svg" class="flame"');
    expect(html).toContain('<title>json.decode — 0.67 cores, 66.67 % of checkout</title>');
    expect(html).toContain(`data-function="crypto.sign"`);
    // Links select the team as the UI does, by its team label (expanded by the server).
    expect(html).toContain('query=%7Bteam%3D%22payments%22%2Cservice_name%3D%22checkout%22%7D');
    expect(html).not.toMatch(/<script/i);
    // The server renders the same page itself for a browser.
    const res = await fetch(`${server.url}/api/v1/report?team=payments&from=${hour.from}&until=${hour.to}&format=html`);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('data-function="crypto.sign"');
  });

  it('answers 400 without a team', async () => {
    const res = await fetch(`${server.url}/api/v1/report`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('missing \\"team\\" parameter');
  });
});

describe('scheduled reports', () => {
  let hook: Server;
  let hookUrl = '';
  const posts: { text: string; report: TeamReport }[] = [];

  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        posts.push(JSON.parse(body) as { text: string; report: TeamReport });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const address = hook.address();
    hookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => hook?.close(() => resolve()));
  });

  it('writes each due report to its directory and posts it to its webhook, at the minute its cron names', async () => {
    const out = path.join(dir, 'reports');
    // Fires at the reported hour's end: the report covers exactly that hour.
    const minute = new Date(hour.to);
    const cron = `${minute.getUTCMinutes()} ${minute.getUTCHours()} * * *`;
    const config = parseServerConfig(
      `${CONFIG}\nreports:\n  - { cron: "${cron}", team: payments, output: "${out}", range: 1h }\n  - { cron: "${cron}", team: search, webhook: "${hookUrl}", range: 1h, format: markdown }\n  - { cron: "0 0 1 1 *", team: search, output: "${out}" }\n`,
      path.join(dir, 'kiln.yaml'),
    );
    const logs: string[] = [];
    const scheduler = new ReportScheduler({
      query: server.server.context.query,
      settings: () => ({ reports: config.reports ?? [], cost: config.cost }),
      uiUrl: () => 'http://kiln.example:4040',
      log: (m) => logs.push(m),
    });
    expect(scheduler.tick(hour.to - 60_000)).toHaveLength(0); // the minute before: nothing is due
    const runs = scheduler.tick(hour.to);
    expect(runs).toHaveLength(2); // the yearly one is not due
    await Promise.all(runs);
    await scheduler.stop();
    expect(logs.filter((l) => l.includes('failed'))).toEqual([]);
    const files = await readdir(out);
    expect(files).toEqual([`kiln-report-payments-${new Date(hour.to).toISOString().slice(0, 16).replace(/:/g, '')}.html`]);
    const html = await readFile(path.join(out, files[0]!), 'utf8');
    expect(html).toContain('data-function="fraud.score"');
    expect(html).not.toContain('tokenize');
    expect(html).toContain(formatMoney(expectedFunctions((w) => w.team === 'payments').get('crypto.sign')!.selfCost * 168, 'USD'));
    expect(posts).toHaveLength(1);
    expect(posts[0]!.report.team).toBe('search');
    expect(posts[0]!.report.from).toBe(hour.from);
    expect(posts[0]!.text).toContain('`tokenize`');
    expect(posts[0]!.text).not.toContain('crypto.sign');
    expect(posts[0]!.report.profileType).toBe(CPU);
  });
});
