import type { Id } from '../model/ids.js';
import type { Labels } from '../model/labels.js';
import { emptyDictionary } from '../model/symbols.js';
import { OTHER_STACK_ID } from '../store/store.js';
import type { ResolvedStacks, SeriesQuery, Store } from '../store/store.js';
import type { StackFilter, WeightedStack } from './stacks.js';
import { filterStacks, weightedStacks } from './stacks.js';
import { checkRange } from './time.js';

/** One label group of a grouped merge, with frames. */
export interface StackGroup {
  /** Values of the group-by labels (only those the group's series have). */
  readonly labels: Labels;
  /** The kept stacks, root first, after the filter. */
  readonly stacks: WeightedStack[];
  /** The group's whole value, the stacks a limit cut included (before the filter). */
  readonly total: number;
  /** Value of the stacks the limit cut: in `total`, not in `stacks`. */
  readonly remainder: number;
}

/**
 * A merge per label group (per service, per node pool …) in ONE engine pass — the store's
 * mergeStacksGrouped, each group limited to its heaviest `limit` stacks plus a remainder (0 = all) —
 * then one symbol lookup for the union of the kept stacks. What an overview of every service needs:
 * one query however many services there are, never one merge per service.
 */
export async function groupedStacks(store: Store, q: SeriesQuery, groupBy: readonly string[], limit: number, filter?: StackFilter): Promise<StackGroup[]> {
  checkRange(q);
  filterStacks([], filter); // a bad pattern fails before the store is read
  const groups = await store.mergeStacksGrouped({ ...q, groupBy: [...new Set(groupBy)], limit });
  q.signal?.throwIfAborted();
  const ids = new Set<Id>();
  for (const g of groups) for (const s of g.stacks) if (s.stackId !== OTHER_STACK_ID && s.value !== 0) ids.add(s.stackId);
  const resolved: ResolvedStacks = ids.size === 0 ? { dict: emptyDictionary(), stacks: new Map() } : await store.resolveStacks(q.tenant, [...ids], q.signal);
  q.signal?.throwIfAborted();
  return groups.map((g) => {
    let total = 0;
    let remainder = 0;
    for (const s of g.stacks) {
      total += s.value;
      if (s.stackId === OTHER_STACK_ID) remainder += s.value;
    }
    const kept = g.stacks.filter((s) => s.stackId !== OTHER_STACK_ID);
    return { labels: g.labels, stacks: filterStacks(weightedStacks(kept, resolved), filter), total, remainder };
  });
}
