import type { Id } from '../model/ids.js';
import type { Selector } from '../model/matcher.js';
import type { GroupedStacks, StackValue, Store, TimeRange } from '../store/store.js';
import { OTHER_STACK_ID } from '../store/store.js';
import type { StackSummaries, StackSummary } from './stack-summaries.js';

/** One label group of a window: its exact total and its heaviest stacks. */
export interface WindowGroup {
  readonly group: GroupedStacks;
  /** Sum of every stack of the group, the cut ones (the remainder row) included. */
  readonly total: number;
  /** The kept stacks (the remainder row left out); they sum to `total` minus the remainder. */
  readonly stacks: readonly StackValue[];
}

export interface Window {
  readonly groups: readonly WindowGroup[];
  /** Leaf and functions of every kept stack. */
  readonly summaries: ReadonlyMap<Id, StackSummary>;
}

/**
 * The merge of one window per label group, in one engine pass (`mergeStacksGrouped`: top `limit`
 * stacks per group plus a remainder row, computed in DuckDB or ClickHouse), then summaries of the kept
 * stacks (stack-summaries.ts: only stacks not seen in earlier windows are resolved). Never one merge
 * per service.
 */
export async function mergeWindow(
  store: Store,
  summaries: StackSummaries,
  q: { tenant: string; selector: Selector; groupBy: readonly string[]; limit: number; range: TimeRange; signal?: AbortSignal },
): Promise<Window> {
  const merged = await store.mergeStacksGrouped({ tenant: q.tenant, selector: q.selector, ...q.range, groupBy: q.groupBy, limit: q.limit, signal: q.signal });
  const ids = new Set<Id>();
  const groups = merged.map((group) => {
    let total = 0;
    const stacks: StackValue[] = [];
    for (const s of group.stacks) {
      total += s.value;
      if (s.stackId === OTHER_STACK_ID || s.value === 0) continue;
      stacks.push(s);
      ids.add(s.stackId);
    }
    return { group, total, stacks };
  });
  return { groups, summaries: await summaries.summarize(store, q.tenant, ids, q.signal) };
}
