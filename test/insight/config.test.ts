import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseServerConfig } from '../../src/config/server-config.js';
import { metricUnit } from '../../src/insight/metric-names.js';
import { InputError, parseProfileType } from '../../src/model/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kiln-insight-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refused(text: string, file = 'kiln.yaml'): string {
  try {
    parseServerConfig(text, file);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error(`accepted:\n${text}`);
}

describe('metrics, rules, alerting and remote_write sections', () => {
  it('reads every section with its defaults', () => {
    const alerts = path.join(dir, 'alerts.yaml');
    writeFileSync(alerts, 'groups:\n  - name: g\n    interval: 30s\n    rules:\n      - alert: Hot\n        expr: kiln_service_cpu_cores > 2\n        for: 1m\n');
    const cfg = parseServerConfig(
      `metrics: { top_n: 5, window: 2m, labels: [namespace], profile_types: [process_cpu:cpu:nanoseconds:cpu:nanoseconds, memory:alloc_space:bytes:space:bytes] }
rules:
  - record: "kiln:json:cpu_cores"
    selector: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{namespace="shop"}'
    function: 'encoding/json\\..*'
    group_by: [service_name]
alerting: { alertmanager_url: "http://am:9093/", rule_files: [alerts.yaml] }
remote_write: { url: "http://prom:9090/api/v1/write", headers: { X-Scope-OrgID: kiln } }
`,
      path.join(dir, 'kiln.yaml'),
    );
    expect(cfg.unknownSections).toEqual([]);
    expect(cfg.metrics).toMatchObject({ enabled: true, topN: 5, windowMs: 120_000, intervalMs: 15_000, delayMs: 15_000, labels: ['namespace'], maxSeries: 10_000, anomalyDays: 7 });
    expect(cfg.metrics!.profileTypes.map((t) => t.unit.suffix)).toEqual(['cpu_cores', 'alloc_bytes_per_second']);
    expect(cfg.rules![0]).toMatchObject({ record: 'kiln:json:cpu_cores', kind: 'total', groupBy: ['service_name'], tenant: 'anonymous' });
    expect(cfg.rules![0]!.functionRegex!.test('encoding/json.Marshal')).toBe(true);
    // Anchored, as Prometheus matchers are: a pattern names whole function names.
    expect(cfg.rules![0]!.functionRegex!.test('main.encoding/json.Marshal')).toBe(false);
    expect(cfg.alerting!.alertmanagerUrl).toBe('http://am:9093');
    expect(cfg.alerting!.groups[0]).toMatchObject({ name: 'g', intervalMs: 30_000 });
    expect(cfg.alerting!.groups[0]!.rules[0]).toMatchObject({ alert: 'Hot', forMs: 60_000 });
    expect(cfg.remoteWrite).toEqual({ url: 'http://prom:9090/api/v1/write', headers: { 'X-Scope-OrgID': 'kiln' }, timeoutMs: 10_000 });
  });

  it('names the file and the key of every mistake', () => {
    expect(refused('metrics: { widnow: 1m }')).toMatch(/^kiln\.yaml: metrics\.widnow is not a setting here \(known: enabled, top_n, window/);
    expect(refused('metrics: { window: 60 }')).toMatch(/metrics\.window must be a duration with a unit/);
    expect(refused('metrics: { top_n: 0 }')).toMatch(/metrics\.top_n must be a whole number from 1/);
    expect(refused('metrics: { labels: [service_name] }')).toMatch(/metrics\.labels: "service_name" is already a label/);
    expect(refused('metrics: { labels: [currency] }')).toMatch(/metrics\.labels: "currency" is already a label/);
    expect(refused('metrics: { anomaly_days: -1 }')).toMatch(/metrics\.anomaly_days must be a whole number from 0/);
    expect(parseServerConfig('metrics: { anomaly_days: 0 }', 'kiln.yaml').metrics!.anomalyDays).toBe(0);
    expect(refused('metrics: { profile_types: [memory:inuse_space:bytes:space:bytes] }')).toMatch(/metrics\.profile_types: .*holds snapshots/);
    expect(refused('metrics: { profile_types: [process_cpu:cpu:nanoseconds:cpu:nanoseconds, other:cpu:nanoseconds:cpu:nanoseconds] }')).toMatch(/both export kiln_function_cpu_cores/);
    expect(refused('rules: { a: 1 }')).toMatch(/kiln\.yaml: rules must be a list/);
    expect(refused("rules: [ { record: 'bad name', selector: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{}' } ]")).toMatch(/rules\[0\]\.record: "bad name" is not a Prometheus metric name/);
    expect(refused("rules: [ { record: r, selector: '{service_name=\"a\"}' } ]")).toMatch(/rules\[0\]\.selector: selector has no profile type/);
    expect(refused("rules: [ { record: r, selector: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{}', function: '(a' } ]")).toMatch(/rules\[0\]\.function: /);
    expect(refused("rules: [ { record: r, selector: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{}', kind: self } ]")).toMatch(/rules\[0\]\.kind: self needs a function/);
    expect(refused('alerting: { groups: [ { name: g, rules: [ { alert: A, expr: "x > 1" } ] } ] }')).toMatch(/alerting\.alertmanager_url is missing/);
    expect(refused('alerting: { alertmanager_url: "ftp://x", groups: [] }')).toMatch(/alerting\.alertmanager_url: "ftp:\/\/x" must be an http/);
    expect(refused('alerting: { alertmanager_url: "http://am", groups: [ { name: g, rules: [ { alert: A, expr: "sum(x) > 1" } ] } ] }')).toMatch(
      /alerting\.groups\[0\]\.rules\[0\]\.expr: .*not an expression Kiln evaluates.*load this rule into Prometheus/,
    );
    expect(refused('alerting: { alertmanager_url: "http://am", groups: [ { name: g, rules: [ { alert: A, expr: "x > 1", annotations: { s: "{{ $labels.a | title }}" } } ] } ] }')).toMatch(
      /alerting\.groups\[0\]\.rules\[0\]\.annotations\.s: template .* "title" is not something Kiln can render/,
    );
    expect(refused('alerting: { alertmanager_url: "http://am", rule_files: [missing.yaml] }', path.join(dir, 'kiln.yaml'))).toMatch(/cannot read rule file missing\.yaml: ENOENT/);
    writeFileSync(path.join(dir, 'record.yaml'), 'groups:\n  - name: g\n    rules:\n      - record: x:y\n        expr: sum(x)\n');
    expect(refused('alerting: { alertmanager_url: "http://am", rule_files: [record.yaml] }', path.join(dir, 'kiln.yaml'))).toMatch(
      /^record\.yaml: groups\[0\]\.rules\[0\]\.record: Kiln evaluates alert rules/,
    );
    expect(refused('remote_write: { headers: {} }')).toMatch(/remote_write\.url is missing/);
  });
});

describe('metric names', () => {
  const name = (id: string) => metricUnit(parseProfileType(id));
  it('are rates per second in base units, named after the sample type', () => {
    expect(name('process_cpu:cpu:nanoseconds:cpu:nanoseconds')).toMatchObject({ suffix: 'cpu_cores', scale: 1e-9 });
    expect(name('memory:alloc_space:bytes:space:bytes')).toMatchObject({ suffix: 'alloc_bytes_per_second', scale: 1 });
    expect(name('memory:alloc_objects:count:space:bytes')).toMatchObject({ suffix: 'alloc_objects_per_second', scale: 1 });
    expect(name('mutex:delay:nanoseconds:contentions:count')).toMatchObject({ suffix: 'mutex_delay_seconds_per_second', scale: 1e-9 });
    expect(name('block:contentions:count:contentions:count')).toMatchObject({ suffix: 'block_contentions_per_second', scale: 1 });
    expect(name('wall:wall:microseconds:wall:microseconds')).toMatchObject({ suffix: 'wall_seconds_per_second', scale: 1e-6 });
    expect(name('process_cpu:samples:count:cpu:nanoseconds')).toMatchObject({ suffix: 'samples_per_second' });
    expect(() => name('goroutines:goroutine:count:goroutine:count')).toThrow(/snapshots/);
  });
});
