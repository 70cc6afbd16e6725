import { InputError } from '../model/errors.js';
import type { Matcher, Selector } from '../model/matcher.js';
import type { ProfileType } from '../model/profile-type.js';
import { parseProfileType, profileTypeId } from '../model/profile-type.js';
import { parseMatchers, parseSelector } from '../query/selector.js';
import { checkRange } from '../query/time.js';
import type { SeriesQuery, Store, TimeRange } from '../store/store.js';

/** Pyroscope's private label naming a series' full profile type id (Grafana selects on it). */
export const PROFILE_TYPE_LABEL = '__profile_type__';

/**
 * querier.v1 start/end (Unix ms, int64). 0 means "not given": Pyroscope then looks at recent data
 * only; Kiln reads all of it for a missing start and up to now for a missing end.
 */
export function rangeFrom(start: bigint, end: bigint): TimeRange {
  const from = Number(start);
  const to = end === 0n ? Date.now() : Number(end);
  const range = { from, to };
  checkRange(range);
  return range;
}

/** profile_typeID + label_selector of a Select* request → the store's query. */
export function seriesQuery(tenant: string, profileTypeID: string, labelSelector: string, range: TimeRange): SeriesQuery {
  if (profileTypeID === '') throw new InputError('profile_typeID is required (e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds)');
  const selector = parseSelector(labelSelector.trim() === '' ? '{}' : labelSelector, profileTypeID);
  return { tenant, selector, ...range };
}

/**
 * The `matchers` of LabelNames / LabelValues / Series: each `{…}` (or `type{…}`) selects series; the
 * answer is the union. A matcher may pin the type with `__profile_type__="<id>"` or its name with
 * `__name__="process_cpu"` (as Grafana sends them); otherwise every profile type in range is searched.
 */
export async function seriesQueriesFor(store: Store, tenant: string, matchers: readonly string[], range: TimeRange): Promise<SeriesQuery[]> {
  const texts = matchers.length === 0 ? ['{}'] : matchers;
  let allTypes: ProfileType[] | undefined;
  const out: SeriesQuery[] = [];
  for (const text of texts) {
    const { typeId, typeName, rest } = splitTypeMatchers(text);
    let typeIds: string[];
    if (typeId !== undefined) typeIds = [typeId];
    else {
      allTypes ??= await store.profileTypes({ tenant, selector: { profileType: '', matchers: [] }, ...range });
      typeIds = allTypes.filter((t) => typeName === undefined || t.name === typeName).map(profileTypeId);
    }
    for (const profileType of typeIds) out.push({ tenant, selector: { profileType, matchers: rest }, ...range });
  }
  return out;
}

function splitTypeMatchers(text: string): { typeId?: string; typeName?: string; rest: Matcher[] } {
  const trimmed = text.trim();
  if (trimmed !== '' && !trimmed.startsWith('{')) {
    const s: Selector = parseSelector(trimmed);
    return { typeId: s.profileType, rest: [...s.matchers] };
  }
  const rest: Matcher[] = [];
  let typeId: string | undefined;
  let typeName: string | undefined;
  for (const m of parseMatchers(trimmed)) {
    if (m.name === PROFILE_TYPE_LABEL && m.op === '=') typeId = profileTypeId(parseProfileType(m.value));
    else if (m.name === '__name__' && m.op === '=') typeName = m.value;
    // Other private labels (__type__, __unit__ …) describe the type, which the store selects on already.
    else if (!m.name.startsWith('__')) rest.push(m);
  }
  return { typeId, typeName, rest };
}
