import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Overview } from '../../src/insight/overview.js';
import { CONFIG, WORKLOADS, ingestFolded, pushWorkloads, reportedHour, startConfiguredServer } from './teams-fixtures.js';
import type { ConfiguredServer, Workload } from './teams-fixtures.js';

/**
 * GET /api/v1/services — the UI's first page — over two teams' namespaces on a real server: every
 * figure checked against the pushed workloads, and the reads counted (one grouped merge, whatever the
 * number of services).
 */
let server: ConfiguredServer;
const hour = reportedHour();

type ServicesAnswer = Overview & { teams: string[]; team: string };

async function services(params: Record<string, string> = {}): Promise<ServicesAnswer> {
  const q = new URLSearchParams({ from: String(hour.from), until: String(hour.to), ...params });
  const res = await fetch(`${server.url}/api/v1/services?${q}`);
  if (!res.ok) throw new Error(`services: ${res.status} ${await res.text()}`);
  return (await res.json()) as ServicesAnswer;
}

/** CPU seconds per push of a folded text (sampleRate 1: a count is a second). */
function seconds(text: string): number {
  return text.split('\n').reduce((n, l) => n + Number(l.split(' ')[1]), 0);
}

/** Cores, cost per week and the previous hour of a service, from the workload table. */
function expectedService(service: string): { cores: number; costPerWeek: number; change: number } {
  const ws = WORKLOADS.filter((w: Workload) => w.service === service);
  const now = ws.reduce((n, w) => n + seconds(w.now) * 6, 0);
  const before = ws.reduce((n, w) => n + seconds(w.before) * 6, 0);
  const cost = ws.reduce((n, w) => n + ((seconds(w.now) * 6) / 3600) * (w.nodePool === 'spot' ? 0.01 : 0.04), 0);
  return { cores: now / 3600, costPerWeek: cost * 168, change: (now - before) / before };
}

beforeAll(async () => {
  server = await startConfiguredServer(CONFIG);
  await pushWorkloads(server.url, hour);
});

afterAll(async () => {
  await server?.close();
});

describe('service overview', () => {
  it("lists a team's services with cores, cost, change, sparkline and top functions, from one grouped merge", async () => {
    server.calls.clear();
    const o = await services({ team: 'payments' });
    expect(server.calls.get('mergeStacksGrouped')).toBe(1);
    expect(server.calls.get('mergeStacks') ?? 0).toBe(0);
    expect(server.calls.get('seriesPoints')).toBe(2);
    expect(o.services.map((s) => s.service)).toEqual(['checkout', 'settle', 'ledger']);
    for (const s of o.services) {
      const want = expectedService(s.service);
      expect(s.cores, s.service).toBeCloseTo(want.cores, 9);
      expect(s.costPerWeek, s.service).toBeCloseTo(want.costPerWeek, 9);
      expect(s.change, s.service).toBeCloseTo(want.change, 9);
      // Every push of the hour lands in one sparkline bucket: the line sums to the service's value.
      expect(s.spark.length).toBe(48);
      expect(s.spark.reduce((a, b) => a + b, 0)).toBe(s.value);
      expect(s.spark.filter((v) => v > 0).length).toBe(6);
    }
    expect(o.services[0]!.top).toEqual([
      { name: 'json.decode', self: 2400e9 },
      { name: 'db.query', self: 1200e9 },
    ]);
    expect(o.services.find((s) => s.service === 'settle')!.top.map((f) => f.name)).toEqual(['fraud.score', 'csv.parse']);
    expect(o.currency).toBe('USD');
    expect(o.teams).toEqual(['payments', 'search']);
    expect(o.team).toBe('payments');
  });

  it('lists every service without a team filter, heaviest first, and counts what a limit leaves out', async () => {
    const all = await services();
    expect(all.services.map((s) => s.service)).toEqual(['checkout', 'settle', 'ledger', 'proxy', 'indexer', 'query'].sort((a, b) => expectedService(b).cores - expectedService(a).cores || (a < b ? -1 : 1)));
    expect(all.total).toBe(all.services.reduce((n, s) => n + s.value, 0));
    const two = await services({ limit: '2' });
    expect(two.services.length).toBe(2);
    expect(two.more).toBe(4);
    expect(two.total).toBe(all.total);
  });

  it("names each service's teams unfiltered: configured teams by their matchers, else the series' own team label", async () => {
    const all = await services();
    for (const s of all.services) {
      const want = [...new Set(WORKLOADS.filter((w) => w.service === s.service).flatMap((w) => (w.team ? [w.team] : [])))].sort();
      expect(s.teams, s.service).toEqual(want);
    }
    // Series with their own `team` label (as the agent copies it from a pod), in an hour of their own.
    const from = hour.from - 5 * 3_600_000;
    await ingestFolded(server.url, 'cron.cpu{namespace=ops,team=billing}', 'main;bill 10', from / 1000 + 60);
    await ingestFolded(server.url, 'lookup.cpu{namespace=search,team=billing}', 'main;find 10', from / 1000 + 60);
    // `payments` is a configured team: its matchers, not a label, decide what it owns.
    await ingestFolded(server.url, 'stray.cpu{namespace=infra,team=payments}', 'main;stray 10', from / 1000 + 60);
    const labelled = await services({ from: String(from), until: String(from + 3_600_000) });
    const teamsOf = new Map(labelled.services.map((s) => [s.service, s.teams]));
    expect(teamsOf.get('cron')).toEqual(['billing']);
    expect(teamsOf.get('lookup')).toEqual(['billing', 'search']);
    expect(teamsOf.get('stray')).toEqual([]);
  });

  it('answers an empty list for a range without data and a 400 for a bad selector', async () => {
    const empty = await services({ from: String(hour.from - 10 * 3_600_000), until: String(hour.from - 9 * 3_600_000) });
    expect(empty.services).toEqual([]);
    const res = await fetch(`${server.url}/api/v1/services?query=${encodeURIComponent('{namespace=}')}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('quoted label value');
  });
});
