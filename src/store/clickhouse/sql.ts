import type { Id } from '../../model/index.js';

/** A ClickHouse string literal. */
export function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** `1, 2, 3` for `IN (…)`. */
export function idList(ids: readonly Id[]): string {
  return ids.join(', ');
}

/** An Array(UInt64) literal; the first element's cast fixes the type when every id happens to be small. */
export function idArray(ids: readonly Id[]): string {
  if (ids.length === 0) return 'CAST([] AS Array(UInt64))';
  return `[toUInt64(${ids[0]})${ids.length > 1 ? `, ${ids.slice(1).join(', ')}` : ''}]`;
}

/** An Int64 literal from a JavaScript time (ms), clamped to integers. */
export function int(n: number): string {
  return String(Math.trunc(n));
}

/** Splits a long id list so no single statement grows without bound. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const HOUR = 3_600_000;

/**
 * `time_ms` in [fromMs, toMs), written twice: once in the sort key's own terms (`intDiv(time_ms, 3600000)`,
 * the hour prefix of samples' and profiles' ORDER BY) so the primary index prunes by hour, and once exactly.
 */
export function timeWithin(fromMs: number, toMs: number): string {
  const hour = `intDiv(time_ms, ${HOUR})`;
  return `${hour} >= ${int(Math.floor(fromMs / HOUR))} AND ${hour} <= ${int(Math.floor((toMs - 1) / HOUR))} AND time_ms >= ${int(fromMs)} AND time_ms < ${int(toMs)}`;
}
