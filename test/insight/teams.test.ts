import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerConfig } from '../../src/config/server-config.js';
import { expandTeams, teamsSection } from '../../src/insight/teams.js';
import type { TopTable } from '../../src/query/top.js';
import { CONFIG, CPU, expectedFunctions, ingestFolded, pushWorkloads, reportedHour, startConfiguredServer } from './teams-fixtures.js';
import type { ConfiguredServer } from './teams-fixtures.js';

/**
 * Ownership: `team` is a label every selector can use — a team from the config means its matchers, a
 * team the config does not know is the series' own `team` label — on every read of a real server.
 */
let server: ConfiguredServer;
const hour = reportedHour();

async function top(selector: string): Promise<TopTable> {
  const q = new URLSearchParams({ query: selector, from: String(hour.from), until: String(hour.to), limit: '0' });
  const res = await fetch(`${server.url}/api/v1/top?${q}`);
  if (!res.ok) throw new Error(`top: ${res.status} ${await res.text()}`);
  return (await res.json()) as TopTable;
}

beforeAll(async () => {
  server = await startConfiguredServer(CONFIG);
  await pushWorkloads(server.url, hour);
  // A series labelled by its pod (what the agent copies from a `team` pod label): no config entry for "ops".
  await ingestFolded(server.url, 'cron.cpu{namespace=jobs,team=ops}', 'main;cron.tick 60', hour.from / 1000 + 120);
});

afterAll(async () => {
  await server?.close();
});

describe('teams in the config', () => {
  it('reads a team per key and names the file and key of a mistake', () => {
    const teams = teamsSection({ payments: '{namespace=~"payments-.*"}', search: '{namespace="search", service_name!="batch"}' }, 'kiln.yaml');
    expect([...teams.keys()]).toEqual(['payments', 'search']);
    expect(teams.get('search')).toEqual([
      { name: 'namespace', op: '=', value: 'search' },
      { name: 'service_name', op: '!=', value: 'batch' },
    ]);
    expect(() => parseServerConfig('teams:\n  payments: \'{namespace=~"payments-.*"\'\n', 'kiln.yaml')).toThrow(/kiln\.yaml: teams\.payments: .*unclosed/);
    expect(() => parseServerConfig("teams:\n  everyone: '{}'\n", 'kiln.yaml')).toThrow(/kiln\.yaml: teams\.everyone: .*selects every series/);
    expect(() => parseServerConfig('teams:\n  payments: [a]\n', 'kiln.yaml')).toThrow(/kiln\.yaml: teams\.payments must be a string/);
    expect(() => parseServerConfig('teams: [payments]\n', 'kiln.yaml')).toThrow(/kiln\.yaml: teams must be a mapping/);
  });

  it('expands team="name" into the team\'s matchers, and leaves other labels and unknown teams alone', () => {
    const teams = teamsSection({ payments: '{namespace=~"payments-.*"}' }, 'kiln.yaml');
    const sel = { profileType: CPU, matchers: [{ name: 'team', op: '=' as const, value: 'payments' }, { name: 'service_name', op: '=' as const, value: 'checkout' }] };
    expect(expandTeams(sel, teams).matchers).toEqual([
      { name: 'namespace', op: '=~', value: 'payments-.*' },
      { name: 'service_name', op: '=', value: 'checkout' },
    ]);
    const ops = { profileType: CPU, matchers: [{ name: 'team', op: '=' as const, value: 'ops' }] };
    expect(expandTeams(ops, teams)).toEqual(ops);
    expect(() => expandTeams({ profileType: CPU, matchers: [{ name: 'team', op: '=~', value: 'pay.*' }] }, teams)).toThrow(/select one with team="name" \(known: payments\)/);
    // Without configured teams, `team` is an ordinary label, any operator.
    const anyOp = { profileType: CPU, matchers: [{ name: 'team', op: '=~' as const, value: 'pay.*' }] };
    expect(expandTeams(anyOp, new Map())).toBe(anyOp);
  });
});

describe('team as a label on a real server', () => {
  it('selects exactly the team\'s services in a top table, with their exact values', async () => {
    for (const team of ['payments', 'search'] as const) {
      const table = await top(`${CPU}{team="${team}"}`);
      const expected = expectedFunctions((w) => w.team === team);
      const got = new Map(table.entries.map((e) => [e.name, e]));
      expect([...got.keys()].sort()).toEqual([...expected.keys()].filter((n) => expected.get(n)!.totalSeconds > 0).sort());
      for (const [name, e] of expected) {
        if (e.totalSeconds === 0) continue;
        expect(got.get(name)!.self, `${team} ${name} self`).toBe(e.selfSeconds * 1e9);
        expect(got.get(name)!.total, `${team} ${name} total`).toBe(e.totalSeconds * 1e9);
      }
    }
  });

  it('combines a team with other matchers', async () => {
    const table = await top(`${CPU}{team="payments", service_name="ledger"}`);
    expect(table.entries.map((e) => e.name).sort()).toEqual(['crypto.sign', 'db.query', 'ledger.post', 'main']);
  });

  it('uses the series\' own team label for a team the config does not define', async () => {
    const table = await top(`${CPU}{team="ops"}`);
    expect(table.entries.find((e) => e.name === 'cron.tick')?.self).toBe(60e9);
    expect(table.total).toBe(60e9);
  });

  it('lists team among the label names, with configured teams and label values as its values', async () => {
    const body = (names: string[]) => JSON.stringify({ start: hour.from, end: hour.to, matchers: names });
    const post = async <T>(method: string, payload: string): Promise<T> => {
      const res = await fetch(`${server.url}/querier.v1.QuerierService/${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
      if (!res.ok) throw new Error(`${method}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    const names = await post<{ names: string[] }>('LabelNames', body([]));
    expect(names.names).toContain('team');
    const values = await post<{ names: string[] }>('LabelValues', JSON.stringify({ name: 'team', start: hour.from, end: hour.to, matchers: [] }));
    expect(values.names).toEqual(['ops', 'payments', 'search']);
    // Within the search namespace only the search team owns series.
    const scoped = await post<{ names: string[] }>('LabelValues', JSON.stringify({ name: 'team', start: hour.from, end: hour.to, matchers: ['{namespace="search"}'] }));
    expect(scoped.names).toEqual(['search']);
  });

  it('refuses a pattern over configured teams with a message, as a 400', async () => {
    const q = new URLSearchParams({ query: `${CPU}{team=~"pay.*"}`, from: String(hour.from), until: String(hour.to) });
    const res = await fetch(`${server.url}/api/v1/top?${q}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('select one with team=\\"name\\"');
  });

  it('follows a reloaded config on the next read', async () => {
    server.setConfig(`teams:\n  payments: '{namespace="payments-batch"}'\n  search: '{namespace="search"}'\n`);
    try {
      const table = await top(`${CPU}{team="payments"}`);
      expect(table.entries.map((e) => e.name).sort()).toEqual(['csv.parse', 'fraud.score', 'main', 'settle.run']);
    } finally {
      server.setConfig(CONFIG);
    }
  });
});
