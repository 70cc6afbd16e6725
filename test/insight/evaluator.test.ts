import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerConfig } from '../../src/config/server-config.js';
import { insightSettings } from '../../src/insight/bridge.js';
import { InsightEvaluator } from '../../src/insight/evaluator.js';
import { freePorts } from '../support/clickhouse.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { cpuProfile, ingestPprof, metricValue } from './kiln.js';
import type { Service } from './prometheus.js';
import { startAlertmanager } from './prometheus.js';

/**
 * What an operator lives through: Alertmanager down when an alert fires (counted, logged, delivered
 * once it is back, without waiting for the resend delay), and a reload that removes an alert rule
 * (its firing alert is resolved in Alertmanager, not left to expire minutes later).
 */
let srv: TestServer;
let am: Service | undefined;
let amPort = 0;

beforeAll(async () => {
  srv = await startTestServer();
  await ingestPprof(srv.url, 'fib-service', cpuProfile('parca-fib.pb.gz').stamped(Date.now() - 5000));
  [amPort] = await freePorts(1);
}, 60_000);

afterAll(async () => {
  await am?.stop();
  await srv?.close();
});

/** With the rule, or with the whole alerting section removed. */
const config = (withRule: boolean) =>
  parseServerConfig(
    `metrics: { window: 1m, delay: 0s, interval: 1h }\n` +
      (withRule ? `alerting:\n  alertmanager_url: "http://127.0.0.1:${amPort}"\n  groups: [ { name: g, rules: [ { alert: ServiceBusy, expr: kiln_service_cpu_cores > 0.1 } ] } ]\n` : ''),
  );

async function amAlertNames(): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${amPort}/api/v2/alerts`);
  return ((await res.json()) as { labels: Record<string, string> }[]).map((a) => a.labels['alertname']!);
}

describe('the evaluator', () => {
  it('counts an undeliverable alert, delivers it when Alertmanager is back, and resolves the alerts of a removed rule', async () => {
    const logs: string[] = [];
    const evaluator = new InsightEvaluator({ store: srv.store, externalUrl: srv.url, log: (m) => logs.push(m) });
    evaluator.apply(insightSettings(config(true)));

    const first = await evaluator.evaluate();
    expect(first.errors.join()).toMatch(/Alertmanager http:\/\/127\.0\.0\.1:\d+ unreachable/);
    expect(logs.join('\n')).toMatch(/alertmanager: Alertmanager .* unreachable/);
    expect(metricValue(evaluator.exposition(), 'kiln_alert_notifications_failed_total', {})).toBe(1);
    // The figures themselves are served whatever happens to Alertmanager.
    expect(metricValue(evaluator.exposition(), 'kiln_service_cpu_cores', { service_name: 'fib-service' })).toBeGreaterThan(0.1);

    am = await startAlertmanager(amPort);
    const second = await evaluator.evaluate();
    expect(second.errors).toEqual([]);
    expect(second.alertsSent).toBe(1);
    expect(await amAlertNames()).toEqual(['ServiceBusy']);
    expect(logs.at(-1)).toBe('alertmanager: working again');

    // A reload without the rule (and without alerting at all): its firing alert is resolved in Alertmanager.
    evaluator.apply(insightSettings(config(false)));
    const deadline = Date.now() + 10_000;
    while ((await amAlertNames()).length > 0) {
      if (Date.now() > deadline) throw new Error('the removed rule\'s alert is still active in Alertmanager');
      await new Promise((r) => setTimeout(r, 200));
    }
    await evaluator.stop();
  }, 60_000);
});
