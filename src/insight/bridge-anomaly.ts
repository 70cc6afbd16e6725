import type { Store, TimeRange } from '../store/store.js';
import { DAY_MS, MIN_BASELINE_DAYS, medianOf, robustScore } from './anomalies.js';
import type { MetricGroup } from './metric-groups.js';
import { foldWindow, groupKey } from './metric-groups.js';
import type { StackSummaries } from './stack-summaries.js';
import { mergeWindow } from './window-merge.js';

/** One day of a group's baseline: the self share of each function in that day's window. */
interface BaselineDay {
  readonly shares: ReadonlyMap<string, number>;
}

interface Baseline {
  readonly computedAt: number;
  readonly windowMs: number;
  /** Metric group key → its days with samples, most recent first. */
  readonly groups: ReadonlyMap<string, readonly BaselineDay[]>;
}

/** A function's anomaly score in a group, with the share it is computed from. */
export interface AnomalyScore {
  readonly function: string;
  readonly score: number;
  /** The share's weight for the series cap: its self value now (the baseline's median for a function gone quiet). */
  readonly selfValue: number;
}

/**
 * The baseline behind the bridge's anomaly metric: for each metric group (service_name + metrics.labels),
 * each function's self share of the group in the same window on each of the past `days` days — the
 * baseline /api/v1/anomalies uses (anomalies.ts), read with one grouped merge per day, never per
 * service or function. The days are old and move slowly, so a baseline is kept for REFRESH_MS and
 * then read again: an evaluation every 15 s does not re-read seven days each time (the baseline window
 * is at most REFRESH_MS behind the time of day of the current one).
 */
export class AnomalyBaselines {
  static readonly REFRESH_MS = 5 * 60_000;
  private readonly cache = new Map<string, Baseline>();

  async scores(
    store: Store,
    summaries: StackSummaries,
    q: { tenant: string; profileType: string; groupBy: readonly string[]; limit: number; range: TimeRange; days: number; topN: number; signal?: AbortSignal },
    current: readonly MetricGroup[],
  ): Promise<Map<string, AnomalyScore[]>> {
    const key = JSON.stringify([q.tenant, q.profileType, q.groupBy, q.limit, q.days]);
    const windowMs = q.range.to - q.range.from;
    let base = this.cache.get(key);
    if (!base || base.windowMs !== windowMs || q.range.to - base.computedAt >= AnomalyBaselines.REFRESH_MS || q.range.to < base.computedAt) {
      base = await readBaseline(store, summaries, q);
      this.cache.set(key, base);
    }
    const out = new Map<string, AnomalyScore[]>();
    for (const g of current) {
      const days = base.groups.get(groupKey(g.labels));
      if (!days || days.length < MIN_BASELINE_DAYS || g.total <= 0) continue;
      // Candidates: the group's heaviest functions now and those usually heaviest, so a function that
      // went quiet is scored too (its share now is 0) — at most 2 × top_n per group.
      const now = [...g.functions.values()].filter((f) => f.self > 0).sort((a, b) => b.self - a.self).slice(0, q.topN).map((f) => f.name);
      const medians = new Map<string, number>();
      for (const d of days) for (const name of d.shares.keys()) if (!medians.has(name)) medians.set(name, medianOf(days.map((x) => x.shares.get(name) ?? 0)));
      const usual = [...medians].filter(([, m]) => m > 0).sort((a, b) => b[1] - a[1]).slice(0, q.topN).map(([name]) => name);
      const scores: AnomalyScore[] = [];
      for (const name of new Set([...now, ...usual])) {
        const self = g.functions.get(name)?.self ?? 0;
        const { score } = robustScore(self / g.total, days.map((d) => d.shares.get(name) ?? 0));
        scores.push({ function: name, score, selfValue: self > 0 ? self : (medians.get(name) ?? 0) * g.total });
      }
      out.set(groupKey(g.labels), scores);
    }
    return out;
  }

  /** Forgets baselines of settings no longer exported (after a reload). */
  clear(): void {
    this.cache.clear();
  }
}

async function readBaseline(
  store: Store,
  summaries: StackSummaries,
  q: { tenant: string; profileType: string; groupBy: readonly string[]; limit: number; range: TimeRange; days: number; signal?: AbortSignal },
): Promise<Baseline> {
  const groups = new Map<string, BaselineDay[]>();
  // One day at a time: each window's summary indexes are turned into names before the next is read.
  for (let d = 1; d <= q.days; d++) {
    const range = { from: q.range.from - d * DAY_MS, to: q.range.to - d * DAY_MS };
    const window = await mergeWindow(store, summaries, { tenant: q.tenant, selector: { profileType: q.profileType, matchers: [] }, groupBy: q.groupBy, limit: q.limit, range, signal: q.signal });
    for (const g of foldWindow(window, q.groupBy, summaries, undefined)) {
      const shares = new Map<string, number>();
      for (const f of g.functions.values()) if (f.self > 0) shares.set(f.name, f.self / g.total);
      const key = groupKey(g.labels);
      const list = groups.get(key) ?? [];
      list.push({ shares });
      groups.set(key, list);
    }
  }
  return { computedAt: q.range.to, windowMs: q.range.to - q.range.from, groups };
}
