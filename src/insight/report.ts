import type { Matcher } from '../model/matcher.js';
import { parseProfileType } from '../model/profile-type.js';
import type { QueryEngine } from '../query/engine.js';
import type { FlameNode } from '../query/tree.js';
import type { SeriesQuery, TimeRange } from '../store/store.js';
import type { CostConfig } from './cost.js';
import { coresOf, perMonth, perWeek, resourceOf } from './cost.js';
import { isCosted, topWithCost } from './cost-top.js';
import type { Overview } from './overview.js';
import { serviceOverview } from './overview.js';
import { teamMatcher } from './teams.js';

/**
 * A team's report: what its services burn, in cores and money, this period against the one before
 * (week over week for the usual `--from now-7d`), its top functions, new hotspots, and the flame graph
 * of its biggest service. One model, rendered as Markdown (report-markdown.ts) or HTML with an inline
 * SVG flame graph (report-html.ts) by `kiln report` and by the server's scheduled reports alike.
 * The model holds data, not links: the renderers link into whichever UI they are given.
 */
export interface ReportRequest {
  readonly tenant: string;
  readonly team: string;
  readonly profileType: string;
  readonly range: TimeRange;
  /** Functions listed. */
  readonly top: number;
  readonly signal?: AbortSignal;
}

export interface FunctionLine {
  readonly name: string;
  readonly self: number;
  readonly total: number;
  /** Self value over the previous period. */
  readonly previousSelf: number;
  /** (self − previousSelf) / previousSelf; null when the function did not run before. */
  readonly change: number | null;
  readonly selfCores?: number;
  readonly totalCores?: number;
  readonly selfCostPerWeek?: number;
  readonly selfCostPerMonth?: number;
  readonly totalCostPerWeek?: number;
}

export interface TeamReport {
  readonly team: string;
  /** The matchers that select the team (`team="…"`, expanded by the server when configured). */
  readonly matchers: readonly Matcher[];
  readonly profileType: string;
  readonly unit: string;
  readonly from: number;
  readonly to: number;
  readonly previousFrom: number;
  readonly generatedAt: number;
  readonly currency?: string;
  readonly total: { readonly value: number; readonly previous: number; readonly change: number | null; readonly cores?: number; readonly costPerWeek?: number; readonly costPerMonth?: number };
  readonly services: Overview['services'];
  readonly functions: readonly FunctionLine[];
  /** Functions in this period's top list that were (almost) absent from the previous period. */
  readonly hotspots: readonly FunctionLine[];
  /** The biggest service's flame graph, trimmed for a page. */
  readonly flame?: { readonly service: string; readonly tree: FlameNode };
}

/** Nodes of the report's flame graph: enough to read the hot paths, small enough for an e-mail. */
export const REPORT_FLAME_NODES = 300;
/**
 * A hotspot is new when its self value now is at least 5× what it was in the previous period (or it
 * was not there at all) and it holds at least 1 % of the team's samples: smaller growth is ordinary
 * movement, smaller functions are noise.
 */
const HOTSPOT_GROWTH = 5;
const HOTSPOT_MIN_SHARE = 0.01;

export async function buildTeamReport(query: QueryEngine, req: ReportRequest, cost: CostConfig | undefined): Promise<TeamReport> {
  const { from, to } = req.range;
  const len = to - from;
  const previousFrom = Math.max(0, from - len);
  const type = parseProfileType(req.profileType);
  const resource = resourceOf(type);
  const matchers = [teamMatcher(req.team)];
  const q: SeriesQuery = { tenant: req.tenant, selector: { profileType: req.profileType, matchers }, from, to, signal: req.signal };
  const [overview, now, before] = await Promise.all([
    serviceOverview(query, { tenant: req.tenant, profileType: req.profileType, matchers, range: req.range, limit: 0, signal: req.signal }, cost),
    topWithCost(query, q, { sort: 'self' }, cost),
    previousFrom < from ? query.top({ ...q, from: previousFrom, to: from }, { sort: 'self' }) : Promise.resolve({ total: 0, entries: [] }),
  ]);
  const prevSelf = new Map(before.entries.map((e) => [e.name, e.self]));
  const line = (e: (typeof now.entries)[number]): FunctionLine => {
    const previous = prevSelf.get(e.name) ?? 0;
    return {
      name: e.name,
      self: e.self,
      total: e.total,
      previousSelf: previous,
      change: previous > 0 ? (e.self - previous) / previous : null,
      ...(resource === 'cpu' ? { selfCores: coresOf(e.self, len), totalCores: coresOf(e.total, len) } : {}),
      ...(isCosted(e) ? { selfCostPerWeek: perWeek(e.selfCost, len), selfCostPerMonth: perMonth(e.selfCost, len), totalCostPerWeek: perWeek(e.totalCost, len) } : {}),
    };
  };
  // Functions that burn CPU themselves: a caller's own cost is nil, its callees' is in their rows and in the services table.
  const functions = now.entries.filter((e) => e.self > 0).slice(0, req.top).map(line);
  const hotspots = functions.filter((f) => now.total > 0 && f.self / now.total >= HOTSPOT_MIN_SHARE && f.self >= HOTSPOT_GROWTH * f.previousSelf && f.self > 0);
  const biggest = overview.services[0];
  let flame: TeamReport['flame'];
  if (biggest && biggest.value > 0) {
    const fq = { ...q, selector: { ...q.selector, matchers: [...matchers, { name: 'service_name', op: '=' as const, value: biggest.service }] } };
    flame = { service: biggest.service, tree: await query.flamegraph(fq, { maxNodes: REPORT_FLAME_NODES }) };
  }
  const costTotal = now.cost?.total;
  return {
    team: req.team,
    matchers,
    profileType: req.profileType,
    unit: type.sampleUnit,
    from,
    to,
    previousFrom,
    generatedAt: Date.now(),
    ...(now.cost ? { currency: now.cost.currency } : {}),
    total: {
      value: now.total,
      previous: before.total,
      change: before.total > 0 ? (now.total - before.total) / before.total : null,
      ...(resource === 'cpu' ? { cores: coresOf(now.total, len) } : {}),
      ...(costTotal !== undefined ? { costPerWeek: perWeek(costTotal, len), costPerMonth: perMonth(costTotal, len) } : {}),
    },
    services: overview.services,
    functions,
    hotspots,
    flame,
  };
}
