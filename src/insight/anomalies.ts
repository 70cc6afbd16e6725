import { getLabel, SERVICE_NAME } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';
import type { QueryEngine } from '../query/engine.js';
import { topTable } from '../query/top.js';
import type { SeriesQuery } from '../store/store.js';

/**
 * Anomalies: a function whose share of its service's samples is far from what it usually is at this
 * time of day. Load follows the clock (traffic peaks, nightly batches), so the baseline is the same
 * window on each of the past `days` days — not the last hour — and robust: the median of those shares
 * and their median absolute deviation (MAD), so one odd day in the baseline does not hide or fake an
 * anomaly. The score is the modified z-score, (share − median) / (1.4826 × MAD), 1.4826 making MAD
 * comparable to a standard deviation (Iglewicz and Hoaglin flag |z| > 3.5).
 *
 * A share is a function's self value over its service's total, so a service that merely gets busier
 * shows no anomaly; one whose time moves into another function does. Reads: one grouped merge per
 * window (1 + days, by service_name, each service limited to its heaviest stacks), never per service.
 */
export interface AnomalyOptions {
  readonly tenant: string;
  readonly profileType: string;
  readonly matchers: readonly Matcher[];
  /** End of the window looked at (Unix ms); the window is [at − windowMs, at). */
  readonly at: number;
  readonly windowMs: number;
  /** Days of baseline (the same window, 1 … days days earlier). */
  readonly days: number;
  /** |score| at or past this flags an anomaly. */
  readonly threshold: number;
  /** …and the share must have moved by at least this much (0.01 = one percentage point). */
  readonly minChange: number;
  readonly signal?: AbortSignal;
}

export interface Anomaly {
  readonly service: string;
  readonly function: string;
  /** Share of the service's samples in the window (0…1). */
  readonly share: number;
  readonly median: number;
  readonly mad: number;
  readonly score: number;
  readonly direction: 'up' | 'down';
  /** The baseline shares, most recent day first (days without the service are left out). */
  readonly baseline: readonly number[];
}

export interface AnomalyReport {
  readonly profileType: string;
  readonly from: number;
  readonly to: number;
  readonly days: number;
  readonly threshold: number;
  /** Services with samples in the window and enough baseline days to judge. */
  readonly services: number;
  readonly anomalies: readonly Anomaly[];
}

export const ANOMALY_DEFAULTS = { windowMs: 3_600_000, days: 7, threshold: 3.5, minChange: 0.01 } as const;

export const DAY_MS = 86_400_000;
/** Stacks kept per service and window: the functions that can move a share by a point live there. */
const STACKS_PER_SERVICE = 2_000;
/** Functions per service and window that are candidates (the heaviest by self). */
const CANDIDATES = 20;
/** Fewer baseline days than this and a service has no baseline yet (a new service is not an anomaly). */
export const MIN_BASELINE_DAYS = 3;
/**
 * Floor of the scale (0.5 percentage point): a share steady to the decimal over a week has a MAD of ~0,
 * and dividing by it would flag a move of 0.01 pp as 100 σ.
 */
const MIN_SCALE = 0.005;

/** Share of each function's self value in every service: service → function → share, and totals. */
type Shares = Map<string, { total: number; shares: Map<string, number>; top: string[] }>;

export async function findAnomalies(query: QueryEngine, o: AnomalyOptions): Promise<AnomalyReport> {
  const windows = Array.from({ length: o.days + 1 }, (_, d) => ({ from: o.at - o.windowMs - d * DAY_MS, to: o.at - d * DAY_MS }));
  const merged = await Promise.all(windows.map((w) => sharesOf(query, { tenant: o.tenant, selector: { profileType: o.profileType, matchers: o.matchers }, ...w, signal: o.signal })));
  const [now, ...past] = merged as [Shares, ...Shares[]];
  const anomalies: Anomaly[] = [];
  let services = 0;
  for (const [service, cur] of now) {
    const days = past.map((p) => p.get(service)).filter((d): d is NonNullable<typeof d> => d !== undefined && d.total > 0);
    if (cur.total <= 0 || days.length < MIN_BASELINE_DAYS) continue;
    services++;
    const candidates = new Set([...cur.top, ...days.flatMap((d) => d.top)]);
    for (const fn of candidates) {
      const share = cur.shares.get(fn) ?? 0;
      const baseline = days.map((d) => d.shares.get(fn) ?? 0);
      const { median, mad, score } = robustScore(share, baseline);
      if (Math.abs(score) < o.threshold || Math.abs(share - median) < o.minChange) continue;
      anomalies.push({ service, function: fn, share, median, mad, score, direction: score > 0 ? 'up' : 'down', baseline });
    }
  }
  anomalies.sort((a, b) => Math.abs(b.score) - Math.abs(a.score) || (a.service < b.service ? -1 : 1));
  return { profileType: o.profileType, from: windows[0]!.from, to: windows[0]!.to, days: o.days, threshold: o.threshold, services, anomalies };
}

async function sharesOf(query: QueryEngine, q: SeriesQuery): Promise<Shares> {
  const out: Shares = new Map();
  for (const g of await query.groupedStacks(q, [SERVICE_NAME], STACKS_PER_SERVICE)) {
    const service = getLabel(g.labels, SERVICE_NAME) ?? '';
    const table = topTable(g.stacks, { sort: 'self' });
    const shares = new Map<string, number>();
    // Divide by the group's whole value, the cut stacks included: the share of the service, not of what was read.
    for (const e of table.entries) if (e.self > 0 && g.total > 0) shares.set(e.name, e.self / g.total);
    out.set(service, { total: g.total, shares, top: table.entries.slice(0, CANDIDATES).filter((e) => e.self > 0).map((e) => e.name) });
  }
  return out;
}

/**
 * The modified z-score of a share against its baseline shares (one per day): median, MAD, and
 * (share − median) / (1.4826 × MAD), the scale floored at MIN_SCALE. Shared by /api/v1/anomalies and
 * the metrics bridge's anomaly metric, so both say the same number for the same window.
 */
export function robustScore(share: number, baseline: readonly number[]): { median: number; mad: number; score: number } {
  const median = medianOf(baseline);
  const mad = medianOf(baseline.map((b) => Math.abs(b - median)));
  return { median, mad, score: (share - median) / Math.max(1.4826 * mad, MIN_SCALE) };
}

export function medianOf(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
