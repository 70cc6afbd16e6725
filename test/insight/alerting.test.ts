import { describe, expect, it } from 'vitest';
import { evaluateAlertExpr, parseAlertExpr } from '../../src/insight/alert-expr.js';
import type { AlertRule, AlertTiming } from '../../src/insight/alert-rules.js';
import { AlertRuleState, FLAMEGRAPH_ANNOTATION } from '../../src/insight/alert-rules.js';
import type { MetricSample } from '../../src/insight/exposition.js';
import { renderExposition } from '../../src/insight/exposition.js';
import { parseTemplate } from '../../src/insight/template.js';
import { labelsFrom } from '../../src/model/labels.js';

const sample = (labels: Record<string, string>, value: number): MetricSample => ({
  labels: labelsFrom(labels),
  value,
  origin: { profileType: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds', matchers: [{ name: 'service_name', op: '=', value: labels['service_name'] ?? '' }] },
});

const METRICS = new Map<string, MetricSample[]>([
  [
    'kiln_function_cpu_cores',
    [
      sample({ service_name: 'checkout', function: 'encoding/json.Marshal', kind: 'self' }, 0.73),
      sample({ service_name: 'checkout', function: 'runtime.mallocgc', kind: 'self' }, 0.2),
      sample({ service_name: 'cart', function: 'encoding/json.Marshal', kind: 'self' }, 0.9),
    ],
  ],
  ['kiln_service_cpu_cores', [sample({ service_name: 'checkout' }, 2.5)]],
]);

const names = (expr: string) =>
  evaluateAlertExpr(parseAlertExpr(expr), METRICS)
    .map((r) => `${r.name}${JSON.stringify(Object.fromEntries(r.sample.labels.map((l) => [l.name, l.value])))}`)
    .sort();

describe('alert expressions', () => {
  it('threshold a metric, with Prometheus label matchers, either way round', () => {
    expect(names('kiln_function_cpu_cores{function="encoding/json.Marshal"} > 0.8')).toEqual([
      'kiln_function_cpu_cores{"function":"encoding/json.Marshal","kind":"self","service_name":"cart"}',
    ]);
    expect(names('0.5 < kiln_function_cpu_cores{service_name=~"check.*"}')).toHaveLength(1);
    expect(names('kiln_function_cpu_cores{service_name!="cart", function!~".*json.*"} >= 0.2')).toHaveLength(1);
    expect(names('(kiln_service_cpu_cores) > 2')).toHaveLength(1);
    expect(names('kiln_service_cpu_cores <= 2')).toEqual([]);
    expect(names('{__name__=~"kiln_.*_cpu_cores", service_name="checkout"} > 0.5')).toHaveLength(2);
    expect(names('kiln_service_cpu_cores{team="x"} > 0')).toEqual([]);
    expect(names('kiln_function_cpu_cores{team=""} != 0.2')).toHaveLength(2);
  });

  it('refuses the PromQL Kiln does not evaluate, pointing to Prometheus', () => {
    for (const e of ['sum(kiln_service_cpu_cores) > 1', 'rate(x[5m]) > 1', 'a > b', 'a > bool 1', 'a', 'a + 1 > 2', '{} > 1', '{__name__=~".*"} > 1']) {
      expect(() => parseAlertExpr(e), e).toThrow(/not an expression Kiln evaluates|__name__ matcher/);
    }
    expect(() => parseAlertExpr('x{a=~"("} > 1')).toThrow(/invalid regex/);
  });
});

describe('templates', () => {
  const data = { labels: { service_name: 'checkout', function: 'encoding/json.Marshal' }, value: 0.7312, externalUrl: 'http://kiln:4040' };
  it('render labels, values and the functions rule files use, as Prometheus does', () => {
    const r = (t: string) => parseTemplate(t, 'x').render(data);
    expect(r('{{ $labels.service_name }} burns {{ $value | humanize }} cores in {{ .Labels.function }}')).toBe('checkout burns 731.2m cores in encoding/json.Marshal');
    expect(r('{{ printf "%.2f" $value }} / {{ $value | printf "%.1f" }}')).toBe('0.73 / 0.7');
    expect(r('{{ $value | humanizePercentage }}')).toBe('73.12%');
    expect(r('{{ $labels.missing }}|{{- " a " -}}|{{/* note */}}{{ $externalURL }}')).toBe('| a |http://kiln:4040');
    expect(parseTemplate('{{ $value | humanize }}', 'x').render({ ...data, value: 12_345 })).toBe('12.35k');
    expect(r('{{ .Value }}')).toBe('0.7312');
  });
  it('refuse what they cannot render, naming where', () => {
    expect(() => parseTemplate('{{ if $value }}x{{ end }}', 'kiln.yaml: a.b')).toThrow(/^kiln\.yaml: a\.b: template \{\{ if \$value \}\}/);
    expect(() => parseTemplate('{{ $labels.x', 'w')).toThrow(/never closed/);
  });
});

describe('alert life cycle', () => {
  const rule: AlertRule = {
    group: 'g',
    alert: 'JsonHot',
    expr: parseAlertExpr('kiln_function_cpu_cores{function="encoding/json.Marshal"} > 0.5'),
    forMs: 30_000,
    labels: new Map([['severity', parseTemplate('page', 'l')]]),
    annotations: new Map([['summary', parseTemplate('{{ $labels.service_name }}: {{ $value }}', 'a')]]),
  };
  const timing: AlertTiming = {
    resendDelayMs: 60_000,
    intervalMs: 15_000,
    externalUrl: 'http://kiln',
    linkFor: (origin, activeAt, now) => `http://kiln/?query=${origin.matchers[0]!.value}&from=${activeAt}&until=${now}`,
  };

  it('pending for `for:`, then firing (re-sent every resend delay), then resolved with endsAt, re-sent, and forgotten after 15 minutes', () => {
    const state = new AlertRuleState(rule);
    const t0 = 1_000_000;
    expect(state.evaluate(t0, METRICS, timing)).toEqual([]);
    expect(state.counts()).toEqual({ pending: 2, firing: 0 });
    expect(state.evaluate(t0 + 15_000, METRICS, timing)).toEqual([]);
    const fired = state.evaluate(t0 + 30_000, METRICS, timing);
    expect(fired).toHaveLength(2);
    const cart = fired.find((a) => a.labels['service_name'] === 'cart')!;
    expect(cart.labels).toEqual({ alertname: 'JsonHot', function: 'encoding/json.Marshal', kind: 'self', service_name: 'cart', severity: 'page' });
    expect(cart.annotations).toEqual({ summary: 'cart: 0.9', [FLAMEGRAPH_ANNOTATION]: `http://kiln/?query=cart&from=${t0}&until=${t0 + 30_000}` });
    expect(cart.generatorURL).toBe(cart.annotations[FLAMEGRAPH_ANNOTATION]);
    expect(cart.startsAt).toBe(new Date(t0 + 30_000).toISOString());
    // Valid for 4 × max(interval, resend delay), as Prometheus sends them.
    expect(cart.endsAt).toBe(new Date(t0 + 30_000 + 240_000).toISOString());
    expect(state.counts()).toEqual({ pending: 0, firing: 2 });
    expect(state.evaluate(t0 + 45_000, METRICS, timing)).toEqual([]);
    expect(state.evaluate(t0 + 90_000, METRICS, timing)).toHaveLength(2);

    // checkout cools down: its alert resolves now, with endsAt = now; cart keeps firing.
    const cooler = new Map(METRICS);
    cooler.set('kiln_function_cpu_cores', METRICS.get('kiln_function_cpu_cores')!.filter((s) => s.labels.some((l) => l.value === 'cart')));
    const resolved = state.evaluate(t0 + 105_000, cooler, timing);
    expect(resolved).toHaveLength(1);
    expect(resolved[0]!.labels['service_name']).toBe('checkout');
    expect(resolved[0]!.endsAt).toBe(new Date(t0 + 105_000).toISOString());
    expect(state.counts()).toEqual({ pending: 0, firing: 1 });
    // Resolved alerts are re-sent (a lost notification heals) until 15 minutes have passed.
    expect(state.evaluate(t0 + 165_000, cooler, timing).map((a) => a.labels['service_name']).sort()).toEqual(['cart', 'checkout']);
    const late = state.evaluate(t0 + 105_000 + 16 * 60_000, cooler, timing);
    expect(late.map((a) => a.labels['service_name'])).toEqual(['cart']);
  });

  it('a pending alert that clears goes away silently; a failed delivery is re-sent at the next evaluation', () => {
    const state = new AlertRuleState(rule);
    state.evaluate(0, METRICS, timing);
    expect(state.evaluate(15_000, new Map(), timing)).toEqual([]);
    expect(state.counts()).toEqual({ pending: 0, firing: 0 });
    const instant = new AlertRuleState({ ...rule, forMs: 0 });
    expect(instant.evaluate(0, METRICS, timing)).toHaveLength(2);
    expect(instant.evaluate(15_000, METRICS, timing)).toHaveLength(0);
    instant.markUnsent();
    expect(instant.evaluate(30_000, METRICS, timing)).toHaveLength(2);
  });
});

describe('exposition', () => {
  it('escapes label values and spells special floats as Prometheus reads them', () => {
    const text = renderExposition([
      { name: 'm', help: 'a\\b\nc', type: 'gauge', samples: [{ labels: labelsFrom({ function: 'a"b\\c\nd' }), value: Infinity }, { labels: [], value: NaN }] },
    ]);
    expect(text).toBe('# HELP m a\\\\b\\nc\n# TYPE m gauge\nm{function="a\\"b\\\\c\\nd"} +Inf\nm NaN\n');
  });
});
