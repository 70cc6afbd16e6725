import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CorpusCpuProfile, KilnUnderTest, Load } from './kiln.js';
import { cpuProfile, metricValue, startKiln, startLoad } from './kiln.js';
import type { Service } from './prometheus.js';
import { promQuery, promtoolCheckRules, startAlertmanager, startPrometheus, waitFor } from './prometheus.js';

/**
 * Proof 2 of issue 9: recording rules on a function regex produce the expected gauges; an alert rule
 * with `for: 30s` over one of them, evaluated by Kiln, fires into a real Alertmanager whose API shows it
 * with its flame-graph link, and is resolved once the load stops. The same rule file passes
 * `promtool check rules` and, loaded into a real Prometheus scraping Kiln, fires there too. The rules
 * arrive by a live reload (SIGHUP) of a server started without them.
 */
const SERVICE = 'fib-service';
const WINDOW_S = 30;
const ALERT = 'BigAddHot';

const RULES_FILE = `groups:
  - name: kiln-profiles
    rules:
      - alert: ${ALERT}
        expr: kiln:addvv:cpu_cores{service_name="${SERVICE}"} > 0.5
        for: 30s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.service_name }} spends {{ $value | humanize }} cores in math/big.addVV"
`;

let am: Service;
let kiln: KilnUnderTest;
let prom: Service;
let fib: CorpusCpuProfile;
let rulesPath = '';

beforeAll(async () => {
  fib = cpuProfile('parca-fib.pb.gz');
  am = await startAlertmanager();
  kiln = await startKiln(`metrics: { window: ${WINDOW_S}s, interval: 1s, delay: 1s }\n`);
  rulesPath = path.join(kiln.dir, 'kiln-alerts.yaml');
  await writeFile(rulesPath, RULES_FILE);
  prom = await startPrometheus({ scrapeTarget: kiln.target, ruleFiles: [RULES_FILE] });
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  await kiln?.stop();
  await am?.stop();
});

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  status: { state: string };
}

async function amAlerts(): Promise<AmAlert[]> {
  const res = await fetch(`${am.url}/api/v2/alerts`);
  expect(res.status).toBe(200);
  return ((await res.json()) as AmAlert[]).filter((a) => a.labels['alertname'] === ALERT);
}

describe('recording rules and alerts', () => {
  it('the rule file is valid for Prometheus (promtool check rules)', () => {
    const r = promtoolCheckRules(rulesPath);
    expect(r.output).toMatch(/SUCCESS: 1 rules found/);
    expect(r.code).toBe(0);
  });

  it('recording rules arrive by reload and give the expected gauges; the alert fires in Alertmanager with its link after for: 30s, and resolves when the load stops', async () => {
    expect(await kiln.metrics()).not.toMatch(/^kiln:addvv:cpu_cores/m);
    await kiln.reload(`metrics: { window: ${WINDOW_S}s, interval: 1s, delay: 1s }
rules:
  - record: "kiln:addvv:cpu_cores"
    selector: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="${SERVICE}"}'
    function: 'math/big\\.addVV'
    group_by: [service_name]
  - record: "kiln:math_big_self:cpu_cores"
    selector: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{}'
    function: 'math/big\\..*'
    kind: self
    group_by: [service_name]
    labels: { team: numbers }
alerting:
  alertmanager_url: "${am.url}"
  external_url: "${kiln.url}"
  rule_files: [kiln-alerts.yaml]
`);
    const load: Load = startLoad(kiln.url, SERVICE, fib, WINDOW_S * 1000, 8);
    try {
      // The gauges, at the profile's own figures computed with pprof-format (±10 %).
      const addvv = fib.selfNs.get('math/big.addVV')! / fib.durationNs;
      let mathBig = 0;
      for (const [fn, ns] of fib.selfNs) if (fn.startsWith('math/big.')) mathBig += ns / fib.durationNs;
      expect(mathBig).toBeGreaterThan(addvv);
      const seenAt = await waitFor('kiln:addvv:cpu_cores on /metrics', 20_000, async () => {
        const v = metricValue(await kiln.metrics(), 'kiln:addvv:cpu_cores', { service_name: SERVICE });
        return v !== undefined && v > 0.5 ? Date.now() : undefined;
      });
      const body = await kiln.metrics();
      expect(Math.abs(metricValue(body, 'kiln:addvv:cpu_cores', { service_name: SERVICE })! - addvv) / addvv).toBeLessThan(0.1);
      const selfValue = metricValue(body, 'kiln:math_big_self:cpu_cores', { service_name: SERVICE, team: 'numbers' })!;
      expect(Math.abs(selfValue - mathBig) / mathBig).toBeLessThan(0.1);
      // Prometheus scrapes the gauges like any other metric.
      await waitFor('Prometheus to scrape kiln:addvv:cpu_cores', 15_000, async () => ((await promQuery(prom, 'kiln:addvv:cpu_cores')).length > 0 ? true : undefined));

      // Pending first: `for: 30s` holds it back.
      await waitFor('the alert to be pending in Kiln', 10_000, async () => (/^kiln_alerts\{alertname="BigAddHot",group="kiln-profiles",state="pending"\} 1$/m.test(await kiln.metrics()) ? true : undefined));
      expect(await amAlerts()).toEqual([]);

      const [alert] = await waitFor('Alertmanager to show the alert', 45_000, async () => {
        const a = await amAlerts();
        return a.length > 0 ? a : undefined;
      });
      expect(alert!.status.state).toBe('active');
      expect(alert!.labels).toEqual({ alertname: ALERT, service_name: SERVICE, severity: 'page' });
      expect(Date.parse(alert!.startsAt) - seenAt).toBeGreaterThanOrEqual(28_000);
      expect(alert!.annotations['summary']).toMatch(/^fib-service spends 9\d\d(\.\d+)?m cores in math\/big\.addVV$/);

      // The link: Kiln's UI on the flame graph of the window that fired, the function searched.
      const link = new URL(alert!.annotations['flamegraph_url']!);
      expect(alert!.generatorURL).toBe(link.toString());
      expect(link.origin).toBe(kiln.url);
      const p = link.searchParams;
      expect(p.get('type')).toBe('process_cpu:cpu:nanoseconds:cpu:nanoseconds');
      expect(p.get('query')).toBe(`{service_name="${SERVICE}"}`);
      expect(p.get('search')).toBe('/^(?:math/big\\.addVV)$/');
      const from = Number(p.get('from'));
      const until = Number(p.get('until'));
      expect(until - from).toBeGreaterThanOrEqual(60_000 - 2000);
      expect(from).toBeLessThanOrEqual(load.stamps[0]!);
      const top = await fetch(`${kiln.url}/api/v1/top?${new URLSearchParams({ query: `${p.get('type')}${p.get('query')}`, from: String(from), until: String(until) })}`);
      expect(((await top.json()) as { entries: { name: string }[] }).entries[0]!.name).toBe('math/big.addVV');

      // The same rule file, loaded into Prometheus over the scraped gauge, fires there too.
      await waitFor('Prometheus to fire the same rule', 30_000, async () => {
        const res = (await (await fetch(`${prom.url}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
        return res.data.alerts.some((a) => a.labels['alertname'] === ALERT && a.state === 'firing') ? true : undefined;
      });
    } finally {
      load.stop();
    }
    // Once the last pushed profile leaves the window the gauge goes, and Kiln sends the resolution
    // (endsAt = now); without it Alertmanager would keep the alert for minutes (endsAt of a firing alert).
    const stoppedAt = Date.now();
    await waitFor('Alertmanager to drop the resolved alert', 60_000, async () => ((await amAlerts()).length === 0 ? true : undefined));
    expect(Date.now() - stoppedAt).toBeLessThan(60_000);
    expect(await kiln.metrics()).toMatch(/^kiln_alerts\{alertname="BigAddHot",group="kiln-profiles",state="firing"\} 0$/m);
    expect(await kiln.metrics()).toMatch(/^kiln_alert_notifications_failed_total 0$/m);
  }, 200_000);
});
