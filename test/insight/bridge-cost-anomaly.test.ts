import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CorpusCpuProfile, KilnUnderTest } from './kiln.js';
import { cpuProfile, ingestPprof, metricValue, startKiln } from './kiln.js';
import type { Service } from './prometheus.js';
import { promQuery, startPrometheus, waitFor } from './prometheus.js';

/**
 * The metrics bridge's cost and anomaly series, from a real `kiln server --config kiln.yaml` scraped
 * over HTTP, against figures computed from the corpus files with pprof-format (not Kiln):
 * - cost: service `priced` runs the same fib profile once on a spot node (0.01 EUR per core-hour) and
 *   once elsewhere (0.04): each function's cost per hour is its CPU nanoseconds at each price, over the
 *   window in hours, and the service's is its whole CPU likewise;
 * - anomaly: service `shifted` ran the fib profile at this time on each of the past 4 days and now runs
 *   it beside the pyroscope profile, so the pyroscope functions' share jumps from 0 and addVV's drops:
 *   the score is (share now − median) / max(1.4826 × MAD, 0.005) with MAD 0.
 * And a real Prometheus scraping the same /metrics accepts both families and answers queries on them.
 */
const WINDOW_MS = 10 * 60_000;
const HOURS = WINDOW_MS / 3_600_000;
const DAY_MS = 86_400_000;
const HOT = 'math/big.addVV';
const PYRO_COPIES = 10;
const config = (anomalyDays: number) => `metrics: { window: 10m, interval: 1s, delay: 0s, top_n: 5, anomaly_days: ${anomalyDays} }
cost:
  core_hour: 0.04
  currency: EUR
  prices:
    - { match: '{node_pool="spot"}', core_hour: 0.01 }
`;

let kiln: KilnUnderTest;
let prom: Service;
let fib: CorpusCpuProfile;
let pyro: CorpusCpuProfile;
let lastBody = '';
/** When every profile was in and anomalies on: only evaluations started after it count. */
let readyAt = 0;

beforeAll(async () => {
  fib = cpuProfile('parca-fib.pb.gz');
  pyro = cpuProfile('pyroscope-cpu.pprof');
  // Anomalies off while the baseline days are pushed; turned on by a reload once they are all in.
  kiln = await startKiln(config(0));
  const at = Date.now() - 2 * 60_000;
  await ingestPprof(kiln.url, 'priced{node_pool=spot}', fib.stamped(at));
  await ingestPprof(kiln.url, 'priced', fib.stamped(at));
  for (let d = 1; d <= 4; d++) await ingestPprof(kiln.url, 'shifted', fib.stamped(at - d * DAY_MS));
  await ingestPprof(kiln.url, 'shifted', fib.stamped(at));
  // The pyroscope profile is light beside fib: ten copies (a second apart, so none is a replay) make the shift plain.
  for (let k = 0; k < PYRO_COPIES; k++) await ingestPprof(kiln.url, 'shifted', pyro.stamped(at + k * 1000));
  await kiln.reload(config(4));
  readyAt = Date.now();
  prom = await startPrometheus({ scrapeTarget: kiln.target });
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  await kiln?.stop();
});

/** A /metrics body from an evaluation that started after every profile was stored, holding `name{labels}`. */
async function freshMetrics(what: string, name: string, labels: Record<string, string>): Promise<string> {
  return waitFor(what, 20_000, async () => {
    const b = (lastBody = await kiln.metrics());
    const evaluatedAt = metricValue(b, 'kiln_insight_last_evaluation_timestamp_seconds', {});
    return evaluatedAt !== undefined && evaluatedAt * 1000 > readyAt && metricValue(b, name, labels) !== undefined ? b : undefined;
  });
}

const close = (got: number | undefined, want: number, what: string) => {
  expect(got, what).toBeDefined();
  expect(Math.abs(got! - want) / Math.abs(want), `${what}: ${got} vs ${want}\n${lastBody}`).toBeLessThan(1e-9);
};

describe('cost and anomaly series on /metrics', () => {
  it("price each function and service at its nodes' price per core-hour, in the configured currency", async () => {
    const body = await freshMetrics('the cost series', 'kiln_function_cpu_cost_per_hour', { service_name: 'priced', function: HOT, kind: 'self' });
    const perNs = (0.01 + 0.04) / 3.6e12;
    close(metricValue(body, 'kiln_function_cpu_cost_per_hour', { service_name: 'priced', function: HOT, kind: 'self', currency: 'EUR' }), (fib.selfNs.get(HOT)! * perNs) / HOURS, 'addVV self cost');
    close(metricValue(body, 'kiln_service_cpu_cost_per_hour', { service_name: 'priced', currency: 'EUR' }), (fib.totalNs * perNs) / HOURS, 'service cost');
    // The same functions as the cores series: one price split does not make two series per function.
    const lines = (name: string) => body.split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes('service_name="priced"'));
    expect(lines('kiln_function_cpu_cost_per_hour').length).toBe(lines('kiln_function_cpu_cores').length);
    close(metricValue(body, 'kiln_function_cpu_cores', { service_name: 'priced', function: HOT, kind: 'self' }), (2 * fib.selfNs.get(HOT)! * 1e-9) / (WINDOW_MS / 1000), 'addVV cores');
    expect(body).toMatch(/# TYPE kiln_function_cpu_cost_per_hour gauge/);
  }, 30_000);

  it('score each function against the same window on the past days: the new hot function up, the old one down', async () => {
    const newcomer = [...pyro.selfNs].filter(([name]) => !fib.selfNs.has(name)).sort((a, b) => b[1] - a[1])[0]!;
    const body = await freshMetrics('the anomaly series', 'kiln_function_cpu_share_anomaly_score', { service_name: 'shifted', function: newcomer[0] });
    const total = fib.totalNs + PYRO_COPIES * pyro.totalNs;
    close(metricValue(body, 'kiln_function_cpu_share_anomaly_score', { service_name: 'shifted', function: newcomer[0] }), (PYRO_COPIES * newcomer[1]) / total / 0.005, `${newcomer[0]} score`);
    const before = fib.selfNs.get(HOT)! / fib.totalNs;
    close(metricValue(body, 'kiln_function_cpu_share_anomaly_score', { service_name: 'shifted', function: HOT }), (fib.selfNs.get(HOT)! / total - before) / 0.005, 'addVV score');
    // No baseline days, no score: `priced` has only today.
    expect(body).not.toMatch(/kiln_function_cpu_share_anomaly_score\{[^}]*service_name="priced"/);
  }, 30_000);

  it('a real Prometheus scrapes both families and answers queries on them', async () => {
    const [cost] = await waitFor('Prometheus to hold the cost series', 25_000, async () => {
      const r = await promQuery(prom, 'topk(1, kiln_function_cpu_cost_per_hour{service_name="priced",kind="self"})');
      return r.length > 0 ? r : undefined;
    });
    expect(cost!.metric['function']).toBe(HOT);
    expect(cost!.metric['currency']).toBe('EUR');
    const up = await promQuery(prom, 'kiln_function_cpu_share_anomaly_score{service_name="shifted"} > 3.5');
    expect(up.length).toBeGreaterThan(0);
    const down = await promQuery(prom, `kiln_function_cpu_share_anomaly_score{service_name="shifted",function="${HOT}"} < -3.5`);
    expect(down.length).toBe(1);
  }, 40_000);
});
