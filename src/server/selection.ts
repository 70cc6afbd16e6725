import { InputError } from '../model/errors.js';
import { parseProfileIdText } from '../query/profile-ids.js';
import { parseSelector } from '../query/selector.js';
import { checkRange } from '../query/time.js';
import type { Id } from '../model/ids.js';
import { spanIdFromHex } from '../model/profile.js';
import type { SeriesQuery, TimeRange } from '../store/store.js';

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

/** profile_typeID + label_selector of a Select* request → the query layer's query, with the request's signal. */
export function seriesQuery(tenant: string, profileTypeID: string, labelSelector: string, range: TimeRange, signal: AbortSignal): SeriesQuery {
  if (profileTypeID === '') throw new InputError('profile_typeID is required (e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds)');
  const selector = parseSelector(labelSelector.trim() === '' ? '{}' : labelSelector, profileTypeID);
  return { tenant, selector, ...range, signal };
}

/** A merge's query, narrowed to the samples of some spans or to some profiles when a selector says so. */
export type NarrowedQuery = SeriesQuery & { readonly spanIds?: readonly Id[]; readonly profileIds?: readonly Id[] };

/**
 * `span_selector` (span ids as 16 hex digits, as Tempo sends them) and `profile_id_selector` (the ids
 * Kiln gives out in exemplars and heatmaps) → the query narrowed to those spans' samples or those
 * profiles; empty selectors leave the query whole.
 */
export function withIdSelectors(q: SeriesQuery, r: { readonly spanSelector?: readonly string[]; readonly profileIdSelector: readonly string[] }): NarrowedQuery {
  const spans = r.spanSelector ?? [];
  const spanIds = spans.map((s) => {
    const id = spanIdFromHex(s);
    if (id === undefined) throw new InputError(`span_selector: invalid span id ${JSON.stringify(s.slice(0, 80))} (16 hex digits expected)`);
    return id;
  });
  const profileIds = r.profileIdSelector.map((id) => parseProfileIdText(id, 'profile_id_selector'));
  return { ...q, ...(spanIds.length > 0 ? { spanIds } : {}), ...(profileIds.length > 0 ? { profileIds } : {}) };
}

/** The selectors of SelectMergeStacktraces / SelectMergeProfile that Kiln cannot answer. */
export interface UnservedSelectors {
  readonly traceIdSelector?: readonly string[];
  readonly stackTraceSelector?: { readonly goPgo?: unknown };
}

/**
 * Kiln keeps no trace ids per sample (span and profile ids it keeps: see withIdSelectors) and builds
 * no Go PGO profiles, so a
 * request that narrows by one of them is refused (InvalidArgument) — answering with the whole
 * selection would be an answer to a different question.
 */
export function refuseUnservedSelectors(r: UnservedSelectors): void {
  const refuse = (field: string, why: string) => {
    throw new InputError(`${field} is not supported by Kiln: ${why}; leave it empty to merge the whole selection`);
  };
  if ((r.traceIdSelector?.length ?? 0) > 0) refuse('trace_id_selector', 'samples are stored without trace ids');
  if (r.stackTraceSelector?.goPgo !== undefined) refuse('stack_trace_selector.go_pgo', 'Go PGO profiles are not built');
}
