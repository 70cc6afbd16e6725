import { parseProfileType } from '../model/profile-type.js';
import type { MergeFilter, QueryEngine } from '../query/engine.js';
import type { TopEntry, TopOptions, TopTable } from '../query/top.js';
import { topTable } from '../query/top.js';
import type { SeriesQuery } from '../store/store.js';
import type { CostConfig } from './cost.js';
import { priceLabels, rateOf, resourceOf } from './cost.js';

/** A top-table row with what it cost over the range (self: where the CPU burned; total: with callees). */
export interface CostedEntry extends TopEntry {
  readonly selfCost: number;
  readonly totalCost: number;
}

/** What the costs are in: money over `rangeMs`; perWeek / perMonth in cost.ts turn them into rates. */
export interface CostInfo {
  readonly currency: string;
  readonly rangeMs: number;
  /** The selection's whole cost over the range. */
  readonly total: number;
}

export type CostedTopTable = TopTable & { readonly entries: readonly TopEntry[] | readonly CostedEntry[]; readonly cost?: CostInfo };

/**
 * The top table with each function's cost when `cost:` is configured and the type has a price
 * (cost.ts). Without per-label prices that is the table times one rate. With them, the merge is split
 * by the labels the price rules read — one grouped merge, every stack kept, so the rows are exactly the
 * plain table's — and each group's functions are priced at the group's rate.
 */
export async function topWithCost(query: QueryEngine, q: SeriesQuery, opts: TopOptions & MergeFilter, cost: CostConfig | undefined): Promise<CostedTopTable> {
  const resource = cost ? resourceOf(parseProfileType(q.selector.profileType)) : undefined;
  if (!cost || !resource) return query.top(q, opts);
  const rangeMs = q.to - q.from;
  const by = priceLabels(cost);
  if (by.length === 0) {
    const table = await query.top(q, opts);
    const rate = rateOf(cost, resource, []);
    return {
      total: table.total,
      entries: table.entries.map((e) => ({ ...e, selfCost: e.self * rate, totalCost: e.total * rate })),
      cost: { currency: cost.currency, rangeMs, total: table.total * rate },
    };
  }
  const groups = await query.groupedStacks(q, by, 0, opts);
  const table = topTable(
    groups.flatMap((g) => g.stacks),
    opts,
  );
  const costs = new Map<string, { self: number; total: number }>();
  let totalCost = 0;
  for (const g of groups) {
    const rate = rateOf(cost, resource, g.labels);
    const own = topTable(g.stacks, { filter: opts.filter });
    totalCost += own.total * rate;
    for (const e of own.entries) {
      const c = costs.get(e.name) ?? { self: 0, total: 0 };
      c.self += e.self * rate;
      c.total += e.total * rate;
      costs.set(e.name, c);
    }
  }
  return {
    total: table.total,
    entries: table.entries.map((e) => ({ ...e, selfCost: costs.get(e.name)?.self ?? 0, totalCost: costs.get(e.name)?.total ?? 0 })),
    cost: { currency: cost.currency, rangeMs, total: totalCost },
  };
}

/** Whether a row carries costs (a table from a server with `cost:` configured, for a priced type). */
export function isCosted(e: TopEntry): e is CostedEntry {
  return typeof (e as Partial<CostedEntry>).selfCost === 'number';
}
