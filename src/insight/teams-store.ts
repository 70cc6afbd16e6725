import type { SeriesQuery, Store } from '../store/store.js';
import type { Teams } from './teams.js';
import { TEAM_LABEL, expandTeams } from './teams.js';

/**
 * The store as the query layer sees it when teams are configured: every read's selector goes through
 * expandTeams first, so `{team="payments"}` means the team's matchers in flame graphs, tables, series,
 * listings, exports and every protocol alike — the query engine is built on this one object, which is
 * the one place the rewrite happens. `teams` is read per call, so a reloaded config applies at once.
 *
 * Listings also show the label: `team` is among the label names while teams are configured, and its
 * values are the configured teams that own at least one selected series, with any `team` values the
 * series carry themselves.
 */
export function withTeams(store: Store, teams: () => Teams): Store {
  const expanded = <Q extends SeriesQuery>(q: Q): Q => {
    const selector = expandTeams(q.selector, teams());
    return selector === q.selector ? q : { ...q, selector };
  };
  return {
    write: (tenant, profiles) => store.write(tenant, profiles),
    profileTypes: (q) => store.profileTypes(expanded(q)),
    async labelNames(q) {
      const names = await store.labelNames(expanded(q));
      if (teams().size === 0 || names.includes(TEAM_LABEL)) return names;
      return [...names, TEAM_LABEL].sort();
    },
    async labelValues(q, name) {
      const own = await store.labelValues(expanded(q), name);
      const current = teams();
      if (name !== TEAM_LABEL || current.size === 0) return own;
      const q2 = expanded(q);
      // One cheap listing per team (teams are tens, not thousands): does the team own a selected series?
      const owned = await Promise.all(
        [...current].map(async ([team, matchers]) => {
          const names = await store.labelNames({ ...q2, selector: { ...q2.selector, matchers: [...q2.selector.matchers, ...matchers] } });
          return names.length > 0 ? team : undefined;
        }),
      );
      return [...new Set([...own, ...owned.filter((t): t is string => t !== undefined)])].sort();
    },
    series: (q) => store.series(expanded(q)),
    mergeStacks: (q) => store.mergeStacks(expanded(q)),
    mergeStacksGrouped: (q) => store.mergeStacksGrouped(expanded(q)),
    resolveStacks: (tenant, ids, signal) => store.resolveStacks(tenant, ids, signal),
    seriesPoints: (q) => store.seriesPoints(expanded(q)),
    listProfiles: (q) => store.listProfiles(expanded(q)),
    listSpans: (q) => store.listSpans(expanded(q)),
    footprint: (q) => store.footprint(expanded(q)),
    dropBefore: (ms) => store.dropBefore(ms),
    stats: () => store.stats(),
    health: () => store.health(),
    close: () => store.close(),
  };
}
