import { getLabel, SERVICE_NAME } from '../model/labels.js';
import type { Labels } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';
import { matches } from '../model/matcher.js';
import { parseProfileType } from '../model/profile-type.js';
import type { QueryEngine } from '../query/engine.js';
import type { WeightedStack } from '../query/stacks.js';
import { topTable } from '../query/top.js';
import type { SeriesQuery, TimeRange } from '../store/store.js';
import type { CostConfig } from './cost.js';
import { coresOf, perWeek, priceLabels, rateOf, resourceOf } from './cost.js';
import type { Teams } from './teams.js';
import { NO_TEAMS, TEAM_LABEL } from './teams.js';

/**
 * The service overview — the UI's first page, "which service?" — and the services part of reports:
 * every service of a selection (a team's, when filtered) with its value over the range, cores and
 * cost, the change against the previous period of the same length, a sparkline and its three hottest
 * functions.
 *
 * Each service also says which teams own it (teams.ts): the configured teams whose matchers select its
 * series and the `team` label its series carry, so the unfiltered page can show ownership.
 *
 * Cost of the reads, whatever the number of services: ONE grouped merge (by service_name, plus the
 * labels per-label prices and the configured teams' matchers read, plus `team`), each service limited to its heaviest OVERVIEW_STACKS stacks plus a
 * remainder, so totals are exact and the top three come from the heavy stacks; and two seriesPoints
 * aggregates, the sparklines and the previous period's totals. Never one merge per service.
 */
export const OVERVIEW_STACKS = 2_000;
/** Sparkline buckets over the range. */
export const SPARK_POINTS = 48;
/** The agents push every 10 s: a bucket narrower than that would show pushes, not load. */
const MIN_STEP_MS = 10_000;

export interface OverviewRequest {
  readonly tenant: string;
  readonly profileType: string;
  /** What selects the services (a team's matcher, a namespace …); [] = every service. */
  readonly matchers: readonly Matcher[];
  readonly range: TimeRange;
  /** Services to return (heaviest first); the rest are counted in `more`. */
  readonly limit: number;
  readonly signal?: AbortSignal;
}

export interface HotFunction {
  readonly name: string;
  /** Value where the function itself runs (self), over the range. */
  readonly self: number;
}

export interface ServiceRow {
  /** service_name ('' for series without one). */
  readonly service: string;
  readonly value: number;
  /** Value over the previous period of the same length. */
  readonly previous: number;
  /** (value − previous) / previous; null when there was nothing before. */
  readonly change: number | null;
  /** Average cores over the range (CPU types only). */
  readonly cores?: number;
  /** Money over the range and per week (when `cost:` prices this type). */
  readonly cost?: number;
  readonly costPerWeek?: number;
  /** Value per bucket of `stepMs` from the range's start. */
  readonly spark: readonly number[];
  /** Teams owning some of its series (configured teams, then `team` label values), sorted; [] = none. */
  readonly teams: readonly string[];
  readonly top: readonly HotFunction[];
}

export interface Overview {
  readonly profileType: string;
  readonly unit: string;
  readonly from: number;
  readonly to: number;
  readonly previousFrom: number;
  readonly stepMs: number;
  /** Sum over every service (the ones past `limit` included). */
  readonly total: number;
  readonly currency?: string;
  readonly services: readonly ServiceRow[];
  /** Services left out by `limit`. */
  readonly more: number;
}

export async function serviceOverview(query: QueryEngine, req: OverviewRequest, cost: CostConfig | undefined, teams: Teams = NO_TEAMS): Promise<Overview> {
  const { from, to } = req.range;
  const len = to - from;
  const type = parseProfileType(req.profileType);
  const resource = resourceOf(type);
  const priced = cost !== undefined && resource !== undefined;
  const q: SeriesQuery = { tenant: req.tenant, selector: { profileType: req.profileType, matchers: req.matchers }, from, to, signal: req.signal };
  const previousFrom = Math.max(0, from - len);
  const stepMs = Math.max(MIN_STEP_MS, Math.ceil(len / SPARK_POINTS / 1000) * 1000);
  const [groups, spark, before] = await Promise.all([
    query.groupedStacks(q, [...new Set([SERVICE_NAME, TEAM_LABEL, ...teamLabels(teams), ...(priced ? priceLabels(cost) : [])])], OVERVIEW_STACKS),
    query.series(q, stepMs, [SERVICE_NAME]),
    previousFrom < from ? query.series({ ...q, from: previousFrom, to: from }, from - previousFrom, [SERVICE_NAME]) : Promise.resolve([]),
  ]);

  const acc = new Map<string, { value: number; cost: number; stacks: WeightedStack[]; teams: Set<string> }>();
  let total = 0;
  for (const g of groups) {
    const name = getLabel(g.labels, SERVICE_NAME) ?? '';
    const a = acc.get(name) ?? { value: 0, cost: 0, stacks: [], teams: new Set<string>() };
    a.value += g.total;
    if (g.total > 0) for (const t of teamsOf(g.labels, teams)) a.teams.add(t);
    if (priced) a.cost += g.total * rateOf(cost, resource, g.labels);
    for (const s of g.stacks) a.stacks.push(s);
    acc.set(name, a);
    total += g.total;
  }
  const buckets = Math.max(1, Math.ceil(len / stepMs));
  const sparks = new Map<string, number[]>();
  for (const s of spark) {
    const line = new Array<number>(buckets).fill(0);
    for (const p of s.points) {
      const i = Math.floor((p.timeMs - from) / stepMs);
      if (i >= 0 && i < buckets) line[i] += p.value;
    }
    sparks.set(getLabel(s.labels, SERVICE_NAME) ?? '', line);
  }
  const previous = new Map<string, number>();
  for (const s of before) previous.set(getLabel(s.labels, SERVICE_NAME) ?? '', s.points.reduce((n, p) => n + p.value, 0));

  const rows = [...acc].map(([service, a]): ServiceRow => {
    const prev = previous.get(service) ?? 0;
    return {
      service,
      value: a.value,
      previous: prev,
      change: prev > 0 ? (a.value - prev) / prev : null,
      ...(resource === 'cpu' ? { cores: coresOf(a.value, len) } : {}),
      ...(priced ? { cost: a.cost, costPerWeek: perWeek(a.cost, len) } : {}),
      spark: sparks.get(service) ?? new Array<number>(buckets).fill(0),
      teams: [...a.teams].sort(),
      top: topTable(a.stacks, { sort: 'self', limit: 3 }).entries.filter((e) => e.self > 0).map((e) => ({ name: e.name, self: e.self })),
    };
  });
  rows.sort((a, b) => b.value - a.value || (a.service < b.service ? -1 : 1));
  const shown = req.limit > 0 ? rows.slice(0, req.limit) : rows;
  return {
    profileType: req.profileType,
    unit: type.sampleUnit,
    from,
    to,
    previousFrom,
    stepMs,
    total,
    ...(priced ? { currency: cost.currency } : {}),
    services: shown,
    more: rows.length - shown.length,
  };
}

/** Label names the configured teams' matchers read: grouping by them gives every group one answer. */
function teamLabels(teams: Teams): string[] {
  const names = new Set<string>();
  for (const matchers of teams.values()) for (const m of matchers) names.add(m.name);
  return [...names];
}

/**
 * The teams a group of series belongs to, as a `{team="…"}` selector would find it (teams.ts): every
 * configured team whose matchers match, and its own `team` label unless the config defines that name
 * (then the config's matchers, not the label, say who owns what).
 */
function teamsOf(labels: Labels, teams: Teams): string[] {
  const out: string[] = [];
  for (const [team, matchers] of teams) if (matches(labels, matchers)) out.push(team);
  const own = getLabel(labels, TEAM_LABEL);
  if (own !== undefined && !teams.has(own)) out.push(own);
  return out;
}
