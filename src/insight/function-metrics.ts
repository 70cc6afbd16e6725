import type { Labels } from '../model/labels.js';
import { SERVICE_NAME, labelsFrom, labelsToRecord } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';
import type { Store, TimeRange } from '../store/store.js';
import type { MetricsConfig, TypeMetric } from './config.js';
import type { MetricFamily, MetricSample } from './exposition.js';
import { FUNCTION_PREFIX, SERVICE_PREFIX } from './metric-names.js';
import type { StackSummaries } from './stack-summaries.js';
import type { Window, WindowGroup } from './window-merge.js';
import { mergeWindow } from './window-merge.js';

/**
 * The function metrics: per service_name (and the configured extra labels), the top N functions by
 * self and by total over the window, as rates in the type's base unit —
 *   kiln_function_cpu_cores{service_name="checkout",function="encoding/json.Marshal",kind="self"} 0.73
 *   kiln_service_cpu_cores{service_name="checkout"} 2.4
 * Computed from one grouped merge per tenant and profile type (window-merge.ts), then capped.
 */
export interface FunctionMetrics {
  readonly families: MetricFamily[];
  /** Series the window produced before the cap. */
  readonly candidates: number;
  /** Series cut by `max_series`. */
  readonly cut: number;
}

interface Candidate {
  readonly type: number;
  readonly service: boolean;
  readonly sample: MetricSample;
}

export async function computeFunctionMetrics(
  store: Store,
  summaries: StackSummaries,
  cfg: MetricsConfig,
  tenants: readonly string[],
  range: TimeRange,
  signal?: AbortSignal,
): Promise<FunctionMetrics> {
  const perSecond = 1000 / (range.to - range.from);
  const groupBy = [SERVICE_NAME, ...cfg.labels];
  const candidates: Candidate[] = [];
  for (const tenant of tenants) {
    for (let ti = 0; ti < cfg.profileTypes.length; ti++) {
      const t = cfg.profileTypes[ti]!;
      const window = await mergeWindow(store, summaries, { tenant, selector: { profileType: t.id, matchers: [] }, groupBy, limit: cfg.maxStacks, range, signal });
      const factor = perSecond * t.unit.scale;
      for (const g of window.groups) {
        if (g.total === 0) continue;
        const base = labelsToRecord(g.group.labels);
        if (cfg.tenants !== undefined) base['tenant'] = tenant;
        const matchers: Matcher[] = g.group.labels.map((l) => ({ name: l.name, op: '=', value: l.value }));
        // Series without a group label (no service_name) are still counted, under an explicit '' match.
        for (const name of groupBy) if (!(name in base)) matchers.push({ name, op: '=', value: '' });
        const origin = { profileType: t.id, matchers };
        candidates.push({ type: ti, service: true, sample: { labels: labelsFrom(base), value: g.total * factor, origin } });
        const entries = functionTable(window, g, summaries);
        const add = (kind: 'self' | 'total') => {
          for (const e of topN(entries, kind, cfg.topN)) {
            const labels: Labels = labelsFrom({ ...base, function: e.name, kind });
            candidates.push({ type: ti, service: false, sample: { labels, value: e[kind] * factor, origin: { ...origin, search: e.name } } });
          }
        };
        add('self');
        add('total');
      }
    }
  }
  const kept = capSeries(candidates, cfg.maxSeries);
  const families: MetricFamily[] = [];
  cfg.profileTypes.forEach((t, ti) => {
    families.push(family(`${SERVICE_PREFIX}${t.unit.suffix}`, `Rate of ${t.id} per service over the last window, in ${t.unit.means}.`, kept, ti, true));
    families.push(
      family(
        `${FUNCTION_PREFIX}${t.unit.suffix}`,
        `Top functions of ${t.id} per service over the last window, in ${t.unit.means}; kind=self: the function itself, kind=total: with its callees.`,
        kept,
        ti,
        false,
      ),
    );
  });
  return { families, candidates: candidates.length, cut: candidates.length - kept.length };
}

interface FunctionEntry {
  readonly name: string;
  readonly self: number;
  readonly total: number;
}

/**
 * Self and total per function of one group, as the top table (src/query/top.ts) defines them — self:
 * the function is the leaf; total: it is on the stack, once per stack however often it recurses —
 * summed from the cached stack summaries rather than from frame strings.
 */
function functionTable(window: Window, g: WindowGroup, summaries: StackSummaries): FunctionEntry[] {
  const self = new Map<number, number>();
  const total = new Map<number, number>();
  for (const row of g.stacks) {
    const s = window.summaries.get(row.stackId)!;
    self.set(s.leaf, (self.get(s.leaf) ?? 0) + row.value);
    for (const f of s.functions) total.set(f, (total.get(f) ?? 0) + row.value);
  }
  const out: FunctionEntry[] = [];
  for (const [f, t] of total) out.push({ name: summaries.name(f), self: self.get(f) ?? 0, total: t });
  return out;
}

/** The heaviest `n` by `kind` with a value (ties: the other kind, then the name, as the top table sorts). */
function topN(entries: readonly FunctionEntry[], kind: 'self' | 'total', n: number): FunctionEntry[] {
  const other = kind === 'self' ? 'total' : 'self';
  return entries
    .filter((e) => e[kind] > 0)
    .sort((a, b) => b[kind] - a[kind] || b[other] - a[other] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .slice(0, n);
}

/**
 * Keeps at most `max` series: service totals first (one per group, the figure a dashboard starts from),
 * then function series, heaviest first in each — so what is cut is what matters least.
 */
function capSeries(all: readonly Candidate[], max: number): Candidate[] {
  if (all.length <= max) return all.slice();
  return all
    .slice()
    .sort((a, b) => (a.service === b.service ? b.sample.value - a.sample.value : a.service ? -1 : 1))
    .slice(0, max);
}

function family(name: string, help: string, kept: readonly Candidate[], type: number, service: boolean): MetricFamily {
  return { name, help, type: 'gauge', samples: kept.filter((c) => c.type === type && c.service === service).map((c) => c.sample) };
}
