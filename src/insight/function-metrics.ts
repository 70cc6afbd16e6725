import type { Labels } from '../model/labels.js';
import { SERVICE_NAME, labelsFrom, labelsToRecord } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';
import type { Store, TimeRange } from '../store/store.js';
import type { AnomalyBaselines } from './bridge-anomaly.js';
import type { MetricsConfig } from './config.js';
import type { CostConfig } from './cost.js';
import { HOUR_MS, priceLabels, rateOf, resourceOf } from './cost.js';
import type { MetricFamily, MetricSample } from './exposition.js';
import type { GroupFunction } from './metric-groups.js';
import { foldWindow, groupKey } from './metric-groups.js';
import { FUNCTION_PREFIX, SERVICE_PREFIX, metricStem } from './metric-names.js';
import type { StackSummaries } from './stack-summaries.js';
import { mergeWindow } from './window-merge.js';

/**
 * The function metrics: per service_name (and the configured extra labels), the top N functions by
 * self and by total over the window, as rates in the type's base unit —
 *   kiln_function_cpu_cores{service_name="checkout",function="encoding/json.Marshal",kind="self"} 0.73
 *   kiln_service_cpu_cores{service_name="checkout"} 2.4
 * With `cost:` configured, what the same figures cost per hour (CPU types):
 *   kiln_function_cpu_cost_per_hour{service_name="checkout",function="…",kind="self",currency="USD"} 0.0226
 * With `metrics.anomaly_days`, each exported function's anomaly score against its usual share:
 *   kiln_function_cpu_share_anomaly_score{service_name="checkout",function="…"} 4.1
 * All computed from one grouped merge per tenant and profile type and window (window-merge.ts) — the
 * anomaly baseline adds one per past day, re-read every few minutes (bridge-anomaly.ts) — then capped.
 */
export interface FunctionMetrics {
  readonly families: MetricFamily[];
  /** Series the window produced before the cap. */
  readonly candidates: number;
  /** Series cut by `max_series`. */
  readonly cut: number;
}

type FamilyKind = 'service' | 'function' | 'serviceCost' | 'functionCost' | 'anomaly';

interface Candidate {
  readonly type: number;
  readonly family: FamilyKind;
  /** What the cap ranks by: the rate (type units) the series stands for. */
  readonly weight: number;
  readonly sample: MetricSample;
}

/** What the bridge adds when configured: prices (`cost:`) and the anomaly baselines. */
export interface MetricExtras {
  readonly cost?: CostConfig;
  /** With `metrics.anomaly_days` > 0: the baselines, kept between evaluations. */
  readonly baselines?: AnomalyBaselines;
}

export async function computeFunctionMetrics(
  store: Store,
  summaries: StackSummaries,
  cfg: MetricsConfig,
  tenants: readonly string[],
  range: TimeRange,
  signal?: AbortSignal,
  extras: MetricExtras = {},
): Promise<FunctionMetrics> {
  const hours = (range.to - range.from) / HOUR_MS;
  const perSecond = 1000 / (range.to - range.from);
  const groupBy = [SERVICE_NAME, ...cfg.labels];
  const { cost, baselines } = extras;
  const candidates: Candidate[] = [];
  for (const tenant of tenants) {
    for (let ti = 0; ti < cfg.profileTypes.length; ti++) {
      const t = cfg.profileTypes[ti]!;
      const resource = cost ? resourceOf(t.type) : undefined;
      // Only CPU is priced per unit of a rate; snapshot types (memory in use) are refused by metricsSection.
      const rate = cost && resource === 'cpu' ? (labels: Labels) => rateOf(cost, resource, labels) : undefined;
      const priceBy = rate ? priceLabels(cost).filter((n) => !groupBy.includes(n)) : [];
      const window = await mergeWindow(store, summaries, { tenant, selector: { profileType: t.id, matchers: [] }, groupBy: [...groupBy, ...priceBy], limit: cfg.maxStacks, range, signal });
      const groups = foldWindow(window, groupBy, summaries, rate);
      const scores =
        baselines && cfg.anomalyDays > 0
          ? await baselines.scores(store, summaries, { tenant, profileType: t.id, groupBy, limit: cfg.maxStacks, range, days: cfg.anomalyDays, topN: cfg.topN, signal }, groups)
          : undefined;
      const factor = perSecond * t.unit.scale;
      for (const g of groups) {
        const base = labelsToRecord(g.labels);
        if (cfg.tenants !== undefined) base['tenant'] = tenant;
        const matchers: Matcher[] = g.labels.map((l) => ({ name: l.name, op: '=', value: l.value }));
        // Series without a group label (no service_name) are still counted, under an explicit '' match.
        for (const name of groupBy) if (!(name in base)) matchers.push({ name, op: '=', value: '' });
        const origin = { profileType: t.id, matchers };
        const serviceRate = g.total * factor;
        const money: Record<string, string> = cost ? { currency: cost.currency } : {};
        candidates.push({ type: ti, family: 'service', weight: serviceRate, sample: { labels: labelsFrom(base), value: serviceRate, origin } });
        if (rate) candidates.push({ type: ti, family: 'serviceCost', weight: serviceRate, sample: { labels: labelsFrom({ ...base, ...money }), value: g.cost / hours, origin } });
        const entries = [...g.functions.values()];
        for (const kind of ['self', 'total'] as const) {
          for (const e of topN(entries, kind, cfg.topN)) {
            const value = e[kind] * factor;
            const fnOrigin = { ...origin, search: e.name };
            candidates.push({ type: ti, family: 'function', weight: value, sample: { labels: labelsFrom({ ...base, function: e.name, kind }), value, origin: fnOrigin } });
            if (rate) {
              const spent = kind === 'self' ? e.selfCost : e.totalCost;
              candidates.push({ type: ti, family: 'functionCost', weight: value, sample: { labels: labelsFrom({ ...base, function: e.name, kind, ...money }), value: spent / hours, origin: fnOrigin } });
            }
          }
        }
        for (const a of scores?.get(groupKey(g.labels)) ?? []) {
          candidates.push({ type: ti, family: 'anomaly', weight: a.selfValue * factor, sample: { labels: labelsFrom({ ...base, function: a.function }), value: a.score, origin: { ...origin, search: a.function } } });
        }
      }
    }
  }
  const kept = capSeries(candidates, cfg.maxSeries);
  const families: MetricFamily[] = [];
  cfg.profileTypes.forEach((t, ti) => {
    const f = (kind: FamilyKind, name: string, help: string) => families.push(family(name, help, kept, ti, kind));
    f('service', `${SERVICE_PREFIX}${t.unit.suffix}`, `Rate of ${t.id} per service over the last window, in ${t.unit.means}.`);
    f(
      'function',
      `${FUNCTION_PREFIX}${t.unit.suffix}`,
      `Top functions of ${t.id} per service over the last window, in ${t.unit.means}; kind=self: the function itself, kind=total: with its callees.`,
    );
    const stem = metricStem(t.unit);
    if (cost && resourceOf(t.type) === 'cpu') {
      f('serviceCost', `${SERVICE_PREFIX}${stem}_cost_per_hour`, `What ${t.id} of each service costs per hour at the configured prices, over the last window, in the label currency.`);
      f('functionCost', `${FUNCTION_PREFIX}${stem}_cost_per_hour`, `What each exported function's ${t.id} costs per hour at the configured prices, over the last window, in the label currency; kind as for ${FUNCTION_PREFIX}${t.unit.suffix}.`);
    }
    if (baselines && cfg.anomalyDays > 0) {
      f(
        'anomaly',
        `${FUNCTION_PREFIX}${stem}_share_anomaly_score`,
        `Modified z-score of each function's self share of its service (${t.id}) in the last window against the same window on each of the past ${cfg.anomalyDays} days (median and MAD); |score| >= 3.5 is unusual.`,
      );
    }
  });
  return { families, candidates: candidates.length, cut: candidates.length - kept.length };
}

/** The heaviest `n` by `kind` with a value (ties: the other kind, then the name, as the top table sorts). */
function topN(entries: readonly GroupFunction[], kind: 'self' | 'total', n: number): GroupFunction[] {
  const other = kind === 'self' ? 'total' : 'self';
  return entries
    .filter((e) => e[kind] > 0)
    .sort((a, b) => b[kind] - a[kind] || b[other] - a[other] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .slice(0, n);
}

/**
 * Keeps at most `max` series: service series first (the figure a dashboard starts from), then function
 * series by the rate they stand for (a cost or anomaly series weighs what its function's rate weighs),
 * heaviest first — so what is cut is what matters least, and a function's cost and score go together.
 */
function capSeries(all: readonly Candidate[], max: number): Candidate[] {
  if (all.length <= max) return all.slice();
  const isService = (c: Candidate) => c.family === 'service' || c.family === 'serviceCost';
  return all
    .slice()
    .sort((a, b) => (isService(a) === isService(b) ? b.weight - a.weight : isService(a) ? -1 : 1))
    .slice(0, max);
}

function family(name: string, help: string, kept: readonly Candidate[], type: number, kind: FamilyKind): MetricFamily {
  return { name, help, type: 'gauge', samples: kept.filter((c) => c.type === type && c.family === kind).map((c) => c.sample) };
}
