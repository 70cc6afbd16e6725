import { InputError } from '../model/errors.js';
import { parseSelector } from '../query/selector.js';
import { checkRange } from '../query/time.js';
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
