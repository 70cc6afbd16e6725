import type { Id } from '../model/ids.js';
import type { Selector } from '../model/matcher.js';
import type { WeightedStack } from '../query/stacks.js';
import { weightedStacks } from '../query/stacks.js';
import type { GroupedStacks, Store, TimeRange } from '../store/store.js';
import { OTHER_STACK_ID } from '../store/store.js';

/** One label group of a window: its exact total and its heaviest stacks with their frames. */
export interface WindowGroup {
  readonly group: GroupedStacks;
  /** Sum of every stack of the group, the cut ones (the remainder row) included. */
  readonly total: number;
  /** The kept stacks, root first; they sum to `total` minus the remainder. */
  readonly stacks: WeightedStack[];
}

/**
 * The merge of one window per label group, in one engine pass (`mergeStacksGrouped`: top `limit`
 * stacks per group plus a remainder row, computed in DuckDB or ClickHouse), then one symbol lookup for
 * the union of the kept stacks (cached by content id in the store, so a steady workload resolves
 * almost nothing new per window). Never one merge per service.
 */
export async function mergeWindow(
  store: Store,
  q: { tenant: string; selector: Selector; groupBy: readonly string[]; limit: number; range: TimeRange; signal?: AbortSignal },
): Promise<WindowGroup[]> {
  const groups = await store.mergeStacksGrouped({ tenant: q.tenant, selector: q.selector, ...q.range, groupBy: q.groupBy, limit: q.limit, signal: q.signal });
  const ids = new Set<Id>();
  for (const g of groups) for (const s of g.stacks) if (s.stackId !== OTHER_STACK_ID) ids.add(s.stackId);
  if (ids.size === 0) return groups.map((group) => ({ group, total: sum(group), stacks: [] }));
  const resolved = await store.resolveStacks(q.tenant, [...ids], q.signal);
  return groups.map((group) => ({
    group,
    total: sum(group),
    stacks: weightedStacks(
      group.stacks.filter((s) => s.stackId !== OTHER_STACK_ID),
      resolved,
    ),
  }));
}

function sum(g: GroupedStacks): number {
  let t = 0;
  for (const s of g.stacks) t += s.value;
  return t;
}
