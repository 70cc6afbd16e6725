import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_METRICS } from '../../src/insight/config.js';
import type { MetricsConfig, RecordingRule } from '../../src/insight/config.js';
import { computeFunctionMetrics } from '../../src/insight/function-metrics.js';
import { metricUnit } from '../../src/insight/metric-names.js';
import { computeRecordingRule } from '../../src/insight/recording-rules.js';
import { StackSummaries } from '../../src/insight/stack-summaries.js';
import { compileRegex, CPU_TYPE, labelsFrom, profileTypeId } from '../../src/model/index.js';
import { QueryEngine } from '../../src/query/engine.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { cpuProfile, ingestPprof } from './kiln.js';

/**
 * The function metrics against the query layer: for real corpus profiles under three services, every
 * exported self and total equals what Kiln's own top table (QueryEngine.top, the UI's and CLI's table)
 * says for that service and window, divided by the window — on the first evaluation and on a second
 * one served from the stack-summary cache. A recording rule equals the top table's figure likewise.
 */
const CPU = profileTypeId(CPU_TYPE);
const FILES: Record<string, string> = { fib: 'parca-fib.pb.gz', profile1: 'parca-profile1.pb.gz', pyro: 'pyroscope-cpu.pprof' };
const WINDOW_MS = 120_000;

let srv: TestServer;
let range = { from: 0, to: 0 };

beforeAll(async () => {
  srv = await startTestServer();
  const t = Date.now() - 10_000;
  for (const [service, file] of Object.entries(FILES)) await ingestPprof(srv.url, service, cpuProfile(file).stamped(t));
  range = { from: t - WINDOW_MS / 2, to: t + WINDOW_MS / 2 };
}, 60_000);

afterAll(async () => {
  await srv?.close();
});

describe('function metrics', () => {
  it("equal the top table's self and total per service, divided by the window, also from the cache", async () => {
    const cfg: MetricsConfig = { ...DEFAULT_METRICS, topN: 10_000 };
    const summaries = new StackSummaries();
    const engine = new QueryEngine(srv.store);
    for (const pass of ['cold', 'cached']) {
      const fm = await computeFunctionMetrics(srv.store, summaries, cfg, ['anonymous'], range);
      expect(fm.cut).toBe(0);
      const fns = fm.families.find((f) => f.name === 'kiln_function_cpu_cores')!.samples;
      const services = fm.families.find((f) => f.name === 'kiln_service_cpu_cores')!.samples;
      expect(services.map((s) => s.labels[0]!.value).sort(), pass).toEqual(Object.keys(FILES).sort());
      for (const service of Object.keys(FILES)) {
        const table = await engine.top({ tenant: 'anonymous', selector: { profileType: CPU, matchers: [{ name: 'service_name', op: '=', value: service }] }, ...range }, { limit: 0 });
        const perSecond = 1e-9 / (WINDOW_MS / 1000);
        const got = (kind: string) =>
          new Map(fns.filter((s) => s.labels.some((l) => l.value === service)).filter((s) => s.labels.some((l) => l.name === 'kind' && l.value === kind)).map((s) => [s.labels.find((l) => l.name === 'function')!.value, s.value]));
        const self = got('self');
        const total = got('total');
        expect(self.size, `${service} ${pass}`).toBe(table.entries.filter((e) => e.self > 0).length);
        expect(total.size).toBe(table.entries.length);
        for (const e of table.entries) {
          if (e.self > 0) expect(self.get(e.name), `${service} ${e.name} self`).toBeCloseTo(e.self * perSecond, 12);
          expect(total.get(e.name), `${service} ${e.name} total`).toBeCloseTo(e.total * perSecond, 12);
        }
        expect(services.find((s) => s.labels[0]!.value === service)!.value).toBeCloseTo(table.total * perSecond, 12);
        // The series' origin is the service's selection, which the UI opens.
        expect(services.find((s) => s.labels[0]!.value === service)!.origin).toEqual({ profileType: CPU, matchers: [{ name: 'service_name', op: '=', value: service }] });
      }
    }
  });

  it('keep the top N per kind, and cut beyond max_series counting what was cut', async () => {
    const fm = await computeFunctionMetrics(srv.store, new StackSummaries(), { ...DEFAULT_METRICS, topN: 2 }, ['anonymous'], range);
    const fns = fm.families.find((f) => f.name === 'kiln_function_cpu_cores')!.samples;
    expect(fns.length).toBe(3 * 2 * 2);
    const capped = await computeFunctionMetrics(srv.store, new StackSummaries(), { ...DEFAULT_METRICS, topN: 2, maxSeries: 5 }, ['anonymous'], range);
    expect(capped.candidates).toBe(3 + 12);
    expect(capped.cut).toBe(10);
    expect(capped.families.find((f) => f.name === 'kiln_service_cpu_cores')!.samples.length).toBe(3);
    const kept = capped.families.find((f) => f.name === 'kiln_function_cpu_cores')!.samples.map((s) => s.value);
    const heaviest = fns.map((s) => s.value).sort((a, b) => b - a).slice(0, 2);
    expect(kept.sort((a, b) => b - a)).toEqual(heaviest);
  });

  it('a recording rule (self or total of a function regex) equals the top table', async () => {
    const engine = new QueryEngine(srv.store);
    const rule = (kind: 'self' | 'total', pattern: string): RecordingRule => ({
      record: 'kiln:test',
      selector: { profileType: CPU, matchers: [] },
      selectorText: `${CPU}{}`,
      functionPattern: pattern,
      functionRegex: compileRegex(pattern, { anchored: true }),
      kind,
      groupBy: ['service_name'],
      labels: labelsFrom({ team: 't' }),
      unit: metricUnit(CPU_TYPE),
      tenant: 'anonymous',
    });
    const summaries = new StackSummaries();
    const q = { tenant: 'anonymous', selector: { profileType: CPU, matchers: [{ name: 'service_name', op: '=' as const, value: 'fib' }] }, ...range };
    const table = await engine.top(q, { limit: 0 });
    const addvv = table.entries.find((e) => e.name === 'math/big.addVV')!;
    const selfRule = await computeRecordingRule(srv.store, summaries, rule('self', 'math/big\\.addVV'), 2000, range);
    const fib = (f: typeof selfRule) => f.samples.find((s) => s.labels.some((l) => l.value === 'fib'))!;
    expect(fib(selfRule).value).toBeCloseTo((addvv.self * 1e-9) / (WINDOW_MS / 1000), 12);
    expect(fib(selfRule).labels).toEqual(labelsFrom({ service_name: 'fib', team: 't' }));
    // total of a pattern: each stack once, even when several of its functions match.
    const focused = await engine.top(q, { limit: 0, focus: '^math/big\\.' });
    const totalRule = await computeRecordingRule(srv.store, summaries, rule('total', 'math/big\\..*'), 2000, range);
    expect(fib(totalRule).value).toBeCloseTo((focused.total * 1e-9) / (WINDOW_MS / 1000), 12);
    // A service with no matching function reads 0 rather than vanishing.
    expect(totalRule.samples.find((s) => s.labels.some((l) => l.value === 'pyro'))!.value).toBe(0);
  });
});
