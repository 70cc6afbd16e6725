import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CorpusCpuProfile, KilnUnderTest } from './kiln.js';
import type { Load } from './kiln.js';
import { cpuProfile, startKiln, startLoad } from './kiln.js';
import type { PromVector, Service } from './prometheus.js';
import { promQuery, startPrometheus, waitFor } from './prometheus.js';

/**
 * Proof 1 of issue 9: a real pprof with a known hot function (parca-fib: math/big.addVV, ~95 % of its
 * CPU), re-stamped to now and pushed to `kiln server` → a real Prometheus scraping Kiln's /metrics every
 * second answers topk(1, kiln_function_cpu_cores{…,kind="self"}) with that function, at the profile's
 * own figure (its CPU nanoseconds in addVV / its duration, computed with pprof-format). The same series
 * pushed by remote write into a second real Prometheus, and the Grafana dashboard's queries and data
 * links, checked against the same data.
 */
const SERVICE = 'fib-service';
const HOT = 'math/big.addVV';
// The window equals the profile's length (30 s) and the load pushes one copy per 30 s, so the
// window's average is the profile's own rate.
const WINDOW_S = 30;

let receiver: Service;
let kiln: KilnUnderTest;
let prom: Service;
let fib: CorpusCpuProfile;
let load: Load;

beforeAll(async () => {
  fib = cpuProfile('parca-fib.pb.gz');
  receiver = await startPrometheus({ remoteWriteReceiver: true });
  kiln = await startKiln(
    `metrics: { window: ${WINDOW_S}s, interval: 1s, delay: 1s, top_n: 5 }\nremote_write: { url: "${receiver.url}/api/v1/write" }\n`,
  );
  prom = await startPrometheus({ scrapeTarget: kiln.target });
  load = startLoad(kiln.url, SERVICE, fib, WINDOW_S * 1000, 6);
}, 120_000);

afterAll(async () => {
  load?.stop();
  await prom?.stop();
  await kiln?.stop();
  await receiver?.stop();
});

/** The profile's own figure for a function: CPU seconds in it per second of the profile. */
function ownCores(fn: string): number {
  return fib.selfNs.get(fn)! / fib.durationNs;
}

describe('function metrics in a real Prometheus', () => {
  it('topk(1, kiln_function_cpu_cores{kind="self"}) names the hot function at the profile\'s own rate (±10 %)', async () => {
    const query = `topk(1, kiln_function_cpu_cores{service_name="${SERVICE}",kind="self"})`;
    const [top] = await waitFor(`Prometheus to answer ${query}`, 25_000, async () => {
      const r = await promQuery(prom, query);
      return r.length > 0 ? r : undefined;
    });
    expect(top!.metric['function']).toBe(HOT);
    expect(top!.metric['job']).toBe('kiln');
    const value = Number(top!.value[1]);
    const expected = ownCores(HOT);
    expect(expected).toBeGreaterThan(0.9);
    expect(Math.abs(value - expected) / expected).toBeLessThan(0.1);

    // The service's CPU is the profile's whole CPU, and total ≥ self for the hot function.
    const [service] = await promQuery(prom, `kiln_service_cpu_cores{service_name="${SERVICE}"}`);
    expect(Math.abs(Number(service!.value[1]) - fib.totalNs / fib.durationNs) / (fib.totalNs / fib.durationNs)).toBeLessThan(0.1);
    const [total] = await promQuery(prom, `kiln_function_cpu_cores{service_name="${SERVICE}",function="${HOT}",kind="total"}`);
    if (total) expect(Number(total.value[1])).toBeGreaterThanOrEqual(value);
    // top_n: 5 per kind.
    expect((await promQuery(prom, `count(kiln_function_cpu_cores{service_name="${SERVICE}",kind="self"})`))[0]!.value[1]).toBe('5');
  }, 60_000);

  it('remote write delivers the same series to a Prometheus that does not scrape', async () => {
    const query = `kiln_function_cpu_cores{service_name="${SERVICE}",kind="self",function="${HOT}"}`;
    const [row] = await waitFor(`the remote-write receiver to hold ${query}`, 25_000, async () => {
      const r = await promQuery(receiver, query);
      return r.length > 0 ? r : undefined;
    });
    expect(row!.metric['job']).toBeUndefined();
    const value = Number(row!.value[1]);
    expect(Math.abs(value - ownCores(HOT)) / ownCores(HOT)).toBeLessThan(0.1);
    expect((await promQuery(receiver, `kiln_service_cpu_cores{service_name="${SERVICE}"}`)).length).toBe(1);
    const metrics = await kiln.metrics();
    expect(metrics).toMatch(/^kiln_remote_write_requests_total [1-9]/m);
    expect(metrics).toMatch(/^kiln_remote_write_failures_total 0$/m);
  }, 60_000);

  it("the Grafana dashboard's Prometheus queries answer, and its data links open the flame graph of the series they sit on", async () => {
    const dashboard = JSON.parse(readFileSync(fileURLToPath(new URL('../../deploy/grafana/kiln-functions.json', import.meta.url)), 'utf8')) as Dashboard;
    const promPanels = dashboard.panels.filter((p) => p.datasource.type === 'prometheus');
    expect(promPanels.length).toBeGreaterThanOrEqual(3);
    const flame = dashboard.panels.find((p) => p.type === 'flamegraph');
    expect(flame?.datasource.type).toBe('grafana-pyroscope-datasource');
    expect(flame?.targets[0]!.profileTypeId).toBe('process_cpu:cpu:nanoseconds:cpu:nanoseconds');

    let linksChecked = 0;
    for (const panel of promPanels) {
      for (const t of panel.targets) {
        const expr = t.expr!.replaceAll('$service', SERVICE);
        const rows = await waitFor(`${panel.title}: ${expr}`, 15_000, async () => {
          const r = await promQuery(prom, expr);
          return r.length > 0 ? r : undefined;
        });
        for (const link of panel.fieldConfig?.defaults.links ?? []) {
          const row = rows.find((r) => r.metric['function'] === HOT) ?? rows[0]!;
          const url = new URL(grafanaLink(link.url, row, kiln.url, load.stamps[0]! - 60_000, Date.now()));
          // What Kiln's UI loads for this link: the top table of the selection it names.
          const p = url.searchParams;
          const top = await fetch(`${kiln.url}/api/v1/top?${new URLSearchParams({ query: `${p.get('type')}${p.get('query')}`, from: p.get('from')!, until: p.get('until')! })}`);
          expect(top.status).toBe(200);
          const table = (await top.json()) as { entries: { name: string; self: number }[] };
          expect(table.entries[0]!.name).toBe(HOT);
          if (p.has('search')) expect(p.get('search')).toBe(row.metric['function']);
          linksChecked++;
        }
      }
    }
    expect(linksChecked).toBeGreaterThanOrEqual(3);
  }, 90_000);
});

interface Dashboard {
  panels: {
    title: string;
    type: string;
    datasource: { type: string };
    targets: { expr?: string; profileTypeId?: string }[];
    fieldConfig?: { defaults: { links?: { url: string }[] } };
  }[];
}

/** Grafana's interpolation of a data link, for the variables the dashboard uses. */
function grafanaLink(template: string, row: PromVector, kilnUrl: string, fromMs: number, toMs: number): string {
  return template
    .replaceAll('${kiln_url}', kilnUrl)
    .replaceAll('${__from}', String(fromMs))
    .replaceAll('${__to}', String(toMs))
    .replace(/\$\{__(?:data\.fields|field\.labels)\.([a-z_]+)(:percentencode)?\}/g, (_m, name: string, enc: string | undefined) => {
      const v = row.metric[name] ?? '';
      return enc ? encodeURIComponent(v) : v;
    });
}
