import type { Matcher } from '../model/matcher.js';
import type { SeriesQuery, Store } from '../store/store.js';

/**
 * The store as the query layer sees it when reads may be scoped: every read's selector gets the
 * scope's matchers ANDed, as if the user had written them. The engine is built on this object, so the
 * rule holds in one place for flame graphs, tables, series, diffs, exports and listings alike —
 * profile types, label names and values included, which the store computes from the selected series
 * only, so nothing outside the scope is named. `scope` is read per call (the current request's, see
 * src/server/auth-context.ts); [] leaves the query as it is.
 */
export function withScope(store: Store, scope: () => readonly Matcher[]): Store {
  const scoped = <Q extends SeriesQuery>(q: Q): Q => {
    const extra = scope();
    if (extra.length === 0) return q;
    return { ...q, selector: { ...q.selector, matchers: [...q.selector.matchers, ...extra] } };
  };
  return {
    write: (tenant, profiles) => store.write(tenant, profiles),
    profileTypes: (q) => store.profileTypes(scoped(q)),
    labelNames: (q) => store.labelNames(scoped(q)),
    labelValues: (q, name) => store.labelValues(scoped(q), name),
    series: (q) => store.series(scoped(q)),
    mergeStacks: (q) => store.mergeStacks(scoped(q)),
    mergeStacksGrouped: (q) => store.mergeStacksGrouped(scoped(q)),
    // Stack ids come from a scoped merge; resolving them reveals nothing the merge did not select.
    resolveStacks: (tenant, ids, signal) => store.resolveStacks(tenant, ids, signal),
    seriesPoints: (q) => store.seriesPoints(scoped(q)),
    listProfiles: (q) => store.listProfiles(scoped(q)),
    listSpans: (q) => store.listSpans(scoped(q)),
    footprint: (q) => store.footprint(scoped(q)),
    dropBefore: (ms) => store.dropBefore(ms),
    stats: () => store.stats(),
    health: () => store.health(),
    close: () => store.close(),
  };
}
