import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnomalyReport } from '../../src/insight/anomalies.js';
import { medianOf } from '../../src/insight/anomalies.js';
import { ingestFolded, startConfiguredServer } from './teams-fixtures.js';
import type { ConfiguredServer } from './teams-fixtures.js';

/**
 * Anomalies against a week of history on a real server: `api` moves a third of its time from parse
 * into gc this hour; `steady` wobbles this hour exactly as much as it did on the past days; `fresh`
 * has no history. Only api's two functions may be reported.
 */
let server: ConfiguredServer;
const DAY = 86_400_000;
const at = Math.floor(Date.now() / 60_000) * 60_000;
/** Day-to-day wobble of parse's share, in samples of 100 (days 1 … 7 back). */
const WOBBLE = [0, 2, -1, 1, -2, 3, 0];

async function pushHour(service: string, end: number, parse: number): Promise<void> {
  // Three pushes in the window [end − 1h, end), as an agent would send them.
  for (const minute of [10, 30, 50]) {
    await ingestFolded(server.url, `${service}.cpu`, `main;handle;parse ${parse}\nmain;gc ${100 - parse}`, (end - 3_600_000) / 1000 + minute * 60);
  }
}

async function anomalies(params: Record<string, string> = {}): Promise<AnomalyReport> {
  const q = new URLSearchParams({ until: String(at), ...params });
  const res = await fetch(`${server.url}/api/v1/anomalies?${q}`);
  if (!res.ok) throw new Error(`anomalies: ${res.status} ${await res.text()}`);
  return (await res.json()) as AnomalyReport;
}

beforeAll(async () => {
  server = await startConfiguredServer('');
  for (let d = 1; d <= 7; d++) {
    await pushHour('api', at - d * DAY, 70 + WOBBLE[d - 1]!);
    await pushHour('steady', at - d * DAY, 70 + WOBBLE[d - 1]!);
  }
  await pushHour('api', at, 40);
  await pushHour('steady', at, 73); // as far off as the widest day of its week
  await pushHour('fresh', at, 10);
});

afterAll(async () => {
  await server?.close();
});

describe('anomalies', () => {
  it('flags the function shares that left their weekly band, and nothing else', async () => {
    server.calls.clear();
    const r = await anomalies();
    // One grouped merge per window (now and seven days), never one per service.
    expect(server.calls.get('mergeStacksGrouped')).toBe(8);
    expect(r.from).toBe(at - 3_600_000);
    expect(r.services).toBe(2); // api and steady; fresh has no baseline
    expect(r.anomalies.map((a) => `${a.service} ${a.function} ${a.direction}`).sort()).toEqual(['api gc up', 'api parse down']);
    const gc = r.anomalies.find((a) => a.function === 'gc')!;
    expect(gc.share).toBeCloseTo(0.6, 12);
    // Baseline gc shares: 0.30 − wobble/100 per day; their median is 0.30, MAD 0.01.
    expect(gc.median).toBeCloseTo(0.3, 12);
    expect(gc.mad).toBeCloseTo(0.01, 12);
    expect(gc.score).toBeCloseTo(0.3 / (1.4826 * 0.01), 6);
    expect(gc.baseline).toHaveLength(7);
  });

  it('finds nothing when the threshold is above every score, and everything moved when it is low', async () => {
    expect((await anomalies({ threshold: '100' })).anomalies).toEqual([]);
    const low = await anomalies({ threshold: '0', min_change: '0' });
    expect(low.anomalies.some((a) => a.service === 'steady')).toBe(true);
  });

  it('refuses a window it cannot compare day to day', async () => {
    const res = await fetch(`${server.url}/api/v1/anomalies?window=2d`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('window must be from 1m to 24h');
  });

  it('takes medians of odd and even counts', () => {
    expect(medianOf([3, 1, 2])).toBe(2);
    expect(medianOf([4, 1, 2, 3])).toBe(2.5);
    expect(medianOf([])).toBe(0);
  });
});
