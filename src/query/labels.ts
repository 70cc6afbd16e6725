import type { Labels } from '../model/labels.js';
import type { ProfileType } from '../model/profile-type.js';
import { parseProfileType, profileTypeId } from '../model/profile-type.js';
import type { SeriesQuery, Store, TimeRange } from '../store/store.js';
import { parseSeriesSelector } from './selector.js';
import { checkRange } from './time.js';
import { isTypeLabel, pinnedTypeId, typeLabels, typeMatches } from './type-matchers.js';
import type { SplitMatchers } from './type-matchers.js';

/**
 * Listings — profile types, label names, label values, series — over several selectors, as
 * querier.v1's LabelNames/LabelValues/Series (`matchers`) and the legacy `/labels` ask for them. Each
 * selector may pin a type, name one (`process_cpu{…}`, `{__name__="memory"}`), match types with a
 * pattern, or leave the type open; the answer is the union over the selectors.
 */
export interface LabelQuery extends TimeRange {
  readonly tenant: string;
  /** Selector texts (`{…}`, `type{…}`, a type alone); [] or '' selects every series. */
  readonly selectors: readonly string[];
  readonly signal?: AbortSignal;
}

/** Profile types with a series the selectors select, sorted by id. */
export async function listProfileTypes(store: Store, q: LabelQuery): Promise<ProfileType[]> {
  const byId = new Map<string, ProfileType>();
  for (const types of await Promise.all((await seriesQueriesFor(store, q)).map((sq) => store.profileTypes(sq)))) {
    for (const t of types) byId.set(profileTypeId(t), t);
  }
  return [...byId.keys()].sort().map((id) => byId.get(id)!);
}

/** Names of the labels the selected series carry (not the private type labels), sorted. */
export async function listLabelNames(store: Store, q: LabelQuery): Promise<string[]> {
  const names = new Set<string>();
  for (const list of await Promise.all((await seriesQueriesFor(store, q)).map((sq) => store.labelNames(sq)))) {
    for (const n of list) names.add(n);
  }
  return [...names].sort();
}

/** Values of one label over the selected series, sorted; a private type label answers from the types. */
export async function listLabelValues(store: Store, q: LabelQuery, name: string): Promise<string[]> {
  const values = new Set<string>();
  if (isTypeLabel(name)) {
    for (const t of await listProfileTypes(store, q)) for (const l of typeLabels(t)) if (l.name === name) values.add(l.value);
  } else {
    for (const list of await Promise.all((await seriesQueriesFor(store, q)).map((sq) => store.labelValues(sq, name)))) {
      for (const v of list) values.add(v);
    }
  }
  return [...values].sort();
}

/**
 * The distinct label sets of the selected series, each with its type's private labels added (Grafana
 * builds its type picker from `__profile_type__`). `only` keeps just those names (empty = all).
 */
export async function listSeriesLabels(store: Store, q: LabelQuery, only: readonly string[] = []): Promise<Labels[]> {
  const wanted = only.length > 0 ? new Set(only) : undefined;
  const seen = new Set<string>();
  const out: Labels[] = [];
  for (const list of await Promise.all((await seriesQueriesFor(store, q)).map((sq) => store.series(sq)))) {
    for (const s of list) {
      const labels = [...s.labels, ...typeLabels(s.profileType)]
        .filter((l) => !wanted || wanted.has(l.name))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const key = JSON.stringify(labels);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(labels);
    }
  }
  return out;
}

/**
 * The store queries behind a listing. A selector with the type open is one query over every type
 * (the store's `profileType: ''`); a pinned type is one query; a type name or pattern asks the store
 * which types have matching series and queries each. All selectors parse before the store is asked.
 */
export async function seriesQueriesFor(store: Store, q: LabelQuery): Promise<SeriesQuery[]> {
  checkRange(q);
  const selectors: SplitMatchers[] = (q.selectors.length === 0 ? [''] : q.selectors).map(parseSeriesSelector);
  const base = { tenant: q.tenant, from: q.from, to: q.to, signal: q.signal };
  const out: SeriesQuery[] = [];
  for (const s of selectors) {
    const pinned = pinnedTypeId(s.type);
    if (s.type.length === 0) {
      out.push({ ...base, selector: { profileType: '', matchers: s.labels } });
    } else if (pinned !== undefined) {
      if (typeMatches(parseProfileType(pinned), s.type)) out.push({ ...base, selector: { profileType: pinned, matchers: s.labels } });
    } else {
      const types = await store.profileTypes({ ...base, selector: { profileType: '', matchers: s.labels } });
      for (const t of types) if (typeMatches(t, s.type)) out.push({ ...base, selector: { profileType: profileTypeId(t), matchers: s.labels } });
    }
  }
  return out;
}
