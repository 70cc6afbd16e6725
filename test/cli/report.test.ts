import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatMoney } from '../../src/insight/cost.js';
import type { TeamReport } from '../../src/insight/report.js';
import { runKiln, startKilnServer } from '../support/cli.js';
import type { CliServer } from '../support/cli.js';
import { CONFIG, WORKLOADS, expectedFunctions, pushWorkloads, reportedHour } from '../insight/teams-fixtures.js';

/**
 * `kiln report` and scheduled reports as a user runs them: a real `kiln server --config kiln.yaml`
 * process holding two teams' namespaces, the CLI writing each team's report, and the server writing
 * and posting its scheduled reports — including one added to the config while it runs.
 */
let dir: string;
let server: CliServer;
let hook: Server;
let hookUrl = '';
const posts: { text: string; report: TeamReport }[] = [];
/** When every workload was stored: a scheduled report fired before then holds only part of them. */
let pushedAt = Infinity;
const hour = reportedHour();
const configFile = () => path.join(dir, 'kiln.yaml');
const reportsDir = () => path.join(dir, 'reports');

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-cli-report-'));
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      posts.push(JSON.parse(body) as { text: string; report: TeamReport });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const address = hook.address();
  hookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
  // Every minute, relative output directory (found beside the config file).
  await writeFile(configFile(), `${CONFIG}\nreports:\n  - { cron: "* * * * *", team: payments, output: reports, range: 2h }\n`);
  server = await startKilnServer(['--data-dir', path.join(dir, 'data'), '--config', configFile()]);
  await pushWorkloads(server.url, hour);
  pushedAt = Date.now();
});

afterAll(async () => {
  await server?.stop();
  await new Promise<void>((resolve) => (hook ? hook.close(() => resolve()) : resolve()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

const range = () => ['--from', String(hour.from), '--until', String(hour.to)];

describe('kiln report', () => {
  it("writes each team's HTML report with only its functions and their costs", async () => {
    for (const team of ['payments', 'search'] as const) {
      const file = path.join(dir, `${team}.html`);
      const r = await runKiln(['report', '--team', team, ...range(), '--format', 'html', '-o', file, '--url', server.url, '--top', '50']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`wrote the html report for team ${team} to ${file}`);
      const html = await readFile(file, 'utf8');
      const expected = expectedFunctions((w) => w.team === team);
      const shown = [...html.matchAll(/<tr data-function="([^"]+)">/g)].map((m) => m[1]!);
      const mine = [...expected].filter(([, e]) => e.selfSeconds > 0).map(([n]) => n);
      // Top functions table (hotspots may repeat a name): exactly the team's functions.
      expect(new Set(shown)).toEqual(new Set(mine));
      for (const w of WORKLOADS.filter((x) => x.team !== team)) expect(html).not.toContain(`data-service="${w.service}"`);
      for (const [name, e] of expected) {
        if (e.selfSeconds === 0) continue;
        const row = new RegExp(`<tr data-function="${name.replace('.', '\\.')}">(.*?)</tr>`).exec(html)![1]!;
        expect(row, name).toContain(`>${formatMoney(e.selfCost * 168, 'USD')}<`);
        expect(row, name).toContain(`>${formatMoney(e.selfCost * 730, 'USD')}<`);
      }
      expect(html).toContain('<svg xmlns="http://www.w3.org/2000/svg" class="flame"');
    }
  });

  it('prints Markdown and JSON, and links to --link-url', async () => {
    const md = await runKiln(['report', '--team', 'search', ...range(), '--url', server.url, '--link-url', 'https://kiln.example']);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toContain('# Kiln report: team search');
    expect(md.stdout).toContain('](https://kiln.example/?type=');
    expect(md.stdout).not.toContain('crypto.sign');
    const json = await runKiln(['report', '--team', 'payments', ...range(), '--url', server.url, '--format', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as TeamReport;
    expect(report.hotspots.map((h) => h.name)).toEqual(['fraud.score']);
  });

  it('exits 2 for a missing team and 1 for a server it cannot reach', async () => {
    const noTeam = await runKiln(['report', '--url', server.url]);
    expect(noTeam.code).toBe(2);
    expect(noTeam.stderr).toContain("required option '--team <name>' not specified");
    const unreachable = await runKiln(['report', '--team', 'payments', '--url', 'http://127.0.0.1:9']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('cannot reach kiln server');
  });
});

describe('scheduled reports in kiln server', () => {
  it('writes the configured report every minute and applies a report added by a config reload', async () => {
    // Added while the server runs: picked up by the file watch, posted from the next minute on.
    await writeFile(configFile(), `${CONFIG}\nreports:\n  - { cron: "* * * * *", team: payments, output: reports, range: 2h }\n  - { cron: "* * * * *", team: search, webhook: "${hookUrl}", range: 2h }\n`);
    const deadline = Date.now() + 150_000;
    // Only reports fired once every workload was stored: the cron may fire while beforeAll still pushes
    // (its file, named by the minute it fired, then holds only the first services).
    const complete = (f: string) => {
      const m = /^kiln-report-payments-(\d{4}-\d\d-\d\d)T(\d\d)(\d\d)\.html$/.exec(f);
      return m !== null && Date.parse(`${m[1]}T${m[2]}:${m[3]}:00Z`) >= pushedAt;
    };
    let files: string[] = [];
    while (Date.now() < deadline) {
      files = await readdir(reportsDir()).catch(() => []);
      if (files.some(complete) && posts.length > 0) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const html = files.filter(complete);
    expect(html.length, `files: ${files.join(', ')}`).toBeGreaterThan(0);
    const page = await readFile(path.join(reportsDir(), html[0]!), 'utf8');
    expect(page).toContain('data-function="fraud.score"');
    expect(page).not.toContain('tokenize');
    expect(posts.length).toBeGreaterThan(0);
    expect(posts[0]!.report.team).toBe('search');
    expect(posts[0]!.text).toContain('`tokenize`');
    expect(posts[0]!.text).not.toContain('fraud.score');
  }, 180_000);
});
