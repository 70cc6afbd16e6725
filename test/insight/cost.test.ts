import { Function as PprofFunction, Line, Location, Profile as PprofProfile, Sample, StringTable, ValueType } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerConfig } from '../../src/config/server-config.js';
import type { CostedTopTable } from '../../src/insight/cost-top.js';
import { MONTH_MS, costSection, formatMoney, perMonth, perWeek, rateOf, resourceOf } from '../../src/insight/cost.js';
import { labelsFrom } from '../../src/model/labels.js';
import { parseProfileType } from '../../src/model/profile-type.js';
import { runKiln } from '../support/cli.js';
import { CONFIG, CPU, expectedFunctions, pushWorkloads, reportedHour, startConfiguredServer } from './teams-fixtures.js';
import type { ConfiguredServer } from './teams-fixtures.js';

/** Cost per function: prices per core-hour (and per label set), on the top table and `kiln query top`. */
let server: ConfiguredServer;
const hour = reportedHour();

beforeAll(async () => {
  server = await startConfiguredServer(CONFIG);
  await pushWorkloads(server.url, hour);
});

afterAll(async () => {
  await server?.close();
});

describe('the cost section', () => {
  it('reads prices, per-label rules and names the file and key of a mistake', () => {
    const cost = costSection({ core_hour: 0.04, gib_hour: 0.005, currency: 'EUR', prices: [{ match: '{node_pool="spot"}', core_hour: 0.01 }] }, 'kiln.yaml');
    expect(cost).toMatchObject({ coreHour: 0.04, gibHour: 0.005, currency: 'EUR', memoryIntervalMs: 10_000 });
    expect(() => parseServerConfig('cost: { core_hour: -1 }', 'kiln.yaml')).toThrow('kiln.yaml: cost.core_hour must be a price');
    expect(() => parseServerConfig('cost: { core_hour: "cheap" }', 'kiln.yaml')).toThrow('kiln.yaml: cost.core_hour must be a price');
    expect(() => parseServerConfig('cost: { cpu_hour: 1 }', 'kiln.yaml')).toThrow('kiln.yaml: cost.cpu_hour is not a setting here');
    expect(() => parseServerConfig('cost: { currency: USD }', 'kiln.yaml')).toThrow('kiln.yaml: cost.core_hour is missing');
    expect(() => parseServerConfig("cost: { core_hour: 1, prices: [ { match: '{node_pool=spot}', core_hour: 1 } ] }", 'kiln.yaml')).toThrow(/kiln\.yaml: cost\.prices\[0\]\.match: .*quoted label value/);
    expect(() => parseServerConfig("cost: { core_hour: 1, prices: [ { match: '{a=\"b\"}' } ] }", 'kiln.yaml')).toThrow('kiln.yaml: cost.prices[0].match: the rule sets no price');
  });

  it('prices CPU per core-hour and in-use memory per GiB-hour, first matching rule first', () => {
    const cost = costSection({ core_hour: 0.04, gib_hour: 0.005, prices: [{ match: '{node_pool="spot"}', core_hour: 0.01 }, { match: '{region="eu"}', core_hour: 0.05, gib_hour: 0.006 }] }, 'kiln.yaml');
    const coreHourNs = 3600e9;
    expect(rateOf(cost, 'cpu', labelsFrom({ node_pool: 'ondemand' })) * coreHourNs).toBeCloseTo(0.04, 12);
    expect(rateOf(cost, 'cpu', labelsFrom({ node_pool: 'spot', region: 'eu' })) * coreHourNs).toBeCloseTo(0.01, 12);
    expect(rateOf(cost, 'cpu', labelsFrom({ region: 'eu' })) * coreHourNs).toBeCloseTo(0.05, 12);
    // Memory: a snapshot of 1 GiB every 10 s for an hour merges to 360 GiB, one GiB-hour.
    expect(rateOf(cost, 'memory', labelsFrom({ node_pool: 'spot' })) * 360 * 1024 ** 3).toBeCloseTo(0.005, 12);
    expect(rateOf(cost, 'memory', labelsFrom({ region: 'eu' })) * 360 * 1024 ** 3).toBeCloseTo(0.006, 12);
    expect(resourceOf(parseProfileType(CPU))).toBe('cpu');
    expect(resourceOf(parseProfileType('memory:inuse_space:bytes:space:bytes'))).toBe('memory');
    expect(resourceOf(parseProfileType('wall:wall:nanoseconds:wall:nanoseconds'))).toBeUndefined();
    expect(resourceOf(parseProfileType('memory:alloc_space:bytes:space:bytes'))).toBeUndefined();
    expect(perWeek(1, 3_600_000)).toBe(168);
    expect(perMonth(1, 3_600_000)).toBe(730);
    expect(formatMoney(1234.5, 'USD')).toBe('$1,234.50');
    expect(formatMoney(0.0123, 'EUR')).toBe('€0.012');
    expect(formatMoney(3, 'SEK')).toBe('3.00 SEK');
  });
});

describe('cost per function on a real server', () => {
  const costedTop = async (selector: string): Promise<CostedTopTable> => {
    const q = new URLSearchParams({ query: selector, from: String(hour.from), until: String(hour.to), limit: '0' });
    const res = await fetch(`${server.url}/api/v1/top?${q}`);
    if (!res.ok) throw new Error(`top: ${res.status} ${await res.text()}`);
    return (await res.json()) as CostedTopTable;
  };

  it('gives every function of each team its cost at the price of the node pool it ran on', async () => {
    for (const team of ['payments', 'search'] as const) {
      const table = await costedTop(`${CPU}{team="${team}"}`);
      const expected = expectedFunctions((w) => w.team === team);
      expect(table.cost?.currency).toBe('USD');
      expect(table.cost?.rangeMs).toBe(3_600_000);
      let teamCost = 0;
      for (const e of expected.values()) teamCost += e.selfCost;
      expect(table.cost!.total).toBeCloseTo(teamCost, 9);
      for (const entry of table.entries) {
        const want = expected.get(entry.name)!;
        expect('selfCost' in entry && entry.selfCost, `${team} ${entry.name}`).toBeCloseTo(want.selfCost, 9);
        expect('totalCost' in entry && entry.totalCost, `${team} ${entry.name}`).toBeCloseTo(want.totalCost, 9);
      }
    }
    // json.decode runs in both teams: payments pays 300 s on spot and 100 s on demand per push.
    const payments = await costedTop(`${CPU}{team="payments"}`);
    const json = payments.entries.find((e) => e.name === 'json.decode')!;
    expect('selfCost' in json && json.selfCost).toBeCloseTo(((1800 * 0.01) + (600 * 0.04)) / 3600, 12);
  });

  it('kiln query top prints the cost per week beside each function', async () => {
    const r = await runKiln(['query', 'top', `${CPU}{team="payments"}`, '--url', server.url, '--from', String(hour.from), '--until', String(hour.to), '-n', '3']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/SELF COST\/WEEK\s+TOTAL COST\/WEEK\s+FUNCTION/);
    // json.decode: 0.0117 per hour → $1.96 per week; crypto.sign: 1500 s on demand → $2.80 per week.
    const row = (fn: string) => lines.find((l) => l.trimEnd().endsWith(` ${fn}`)) ?? '';
    const expected = expectedFunctions((w) => w.team === 'payments');
    expect(row('json.decode')).toContain(formatMoney(expected.get('json.decode')!.selfCost * 168, 'USD'));
    expect(row('crypto.sign')).toContain(formatMoney(expected.get('crypto.sign')!.selfCost * 168, 'USD'));
    expect(formatMoney(expected.get('crypto.sign')!.selfCost * 168, 'USD')).toBe('$2.80');
  });

  it('kiln query top --cost-per month prints the cost per month instead', async () => {
    const r = await runKiln(['query', 'top', `${CPU}{team="payments"}`, '--url', server.url, '--from', String(hour.from), '--until', String(hour.to), '-n', '3', '--cost-per', 'month']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/SELF COST\/MONTH\s+TOTAL COST\/MONTH\s+FUNCTION/);
    const row = (fn: string) => lines.find((l) => l.trimEnd().endsWith(` ${fn}`)) ?? '';
    const expected = expectedFunctions((w) => w.team === 'payments');
    const hoursPerMonth = MONTH_MS / 3_600_000;
    expect(row('crypto.sign')).toContain(formatMoney(expected.get('crypto.sign')!.selfCost * hoursPerMonth, 'USD'));
  });

  it('prices an in-use memory profile per GiB-hour, at the price of its node pool', async () => {
    // One Go-style heap snapshot (inuse_space, built with pprof-format): 1 GiB held by cache.fill under main.
    const st = new StringTable();
    const bytes = new ValueType({ type: st.dedup('inuse_space'), unit: st.dedup('bytes') });
    const heap = new PprofProfile({
      sampleType: [bytes],
      periodType: new ValueType({ type: st.dedup('space'), unit: st.dedup('bytes') }),
      period: 1,
      function: [new PprofFunction({ id: 1, name: st.dedup('main') }), new PprofFunction({ id: 2, name: st.dedup('cache.fill') })],
      location: [new Location({ id: 1, line: [new Line({ functionId: 1 })] }), new Location({ id: 2, line: [new Line({ functionId: 2 })] })],
      sample: [new Sample({ locationId: [2, 1], value: [1024 ** 3] })],
      timeNanos: BigInt(hour.from + 600_000) * 1_000_000n,
      stringTable: st,
    }).encode();
    const res = await fetch(`${server.url}/ingest?name=${encodeURIComponent('cache{node_pool=spot}')}&format=pprof`, { method: 'POST', body: heap as BodyInit });
    expect(res.status, await res.text()).toBe(200);
    server.setConfig(`${CONFIG}\n`.replace('core_hour: 0.04\n', 'core_hour: 0.04\n  gib_hour: 0.72\n').replace("core_hour: 0.01 }", "core_hour: 0.01, gib_hour: 0.36 }"));
    try {
      const table = await costedTop('memory:inuse_space:bytes:space:bytes{service_name="cache"}');
      const fill = table.entries.find((e) => e.name === 'cache.fill')!;
      expect(fill.self).toBe(1024 ** 3);
      // A 1 GiB snapshot stands for 1 GiB held for one 10 s interval: 1/360 GiB-hour at the spot price 0.36.
      expect('selfCost' in fill && fill.selfCost).toBeCloseTo(0.36 / 360, 12);
      expect(table.cost!.total).toBeCloseTo(0.001, 12);
    } finally {
      server.setConfig(CONFIG);
    }
  });

  it('shows no cost when the config has no cost section, or for a type without a price', async () => {
    server.setConfig(CONFIG.replace(/cost:[\s\S]*$/, ''));
    try {
      const table = await costedTop(`${CPU}{team="payments"}`);
      expect(table.cost).toBeUndefined();
      expect(table.entries.every((e) => !('selfCost' in e))).toBe(true);
    } finally {
      server.setConfig(CONFIG);
    }
  });
});
