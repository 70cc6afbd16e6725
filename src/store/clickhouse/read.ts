import type { Id, Labels } from '../../model/index.js';
import { parseProfileType } from '../../model/index.js';
import type { ListedProfileRow, ListedSpanRow, ProfileCounts, ProfileMerge, SeriesRecord } from '../engine.js';
import type { StackValue, TimeRange } from '../store.js';
import { OTHER_STACK_ID } from '../store.js';
import type { Connection } from './connection.js';
import type { Segment } from './ranges.js';
import { levelsAlignedTo, splitRange } from './ranges.js';
import type { Layout } from './schema.js';
import { LEVELS } from './schema.js';
import { idArray, idList, int, quote, timeWithin } from './sql.js';

/**
 * The engine's reads. Each is one statement: every part of the range (rollup days, rollup hours, raw
 * edges) is a branch of one UNION ALL, aggregated again on top, so ClickHouse does all the summing,
 * bucketing, grouping and top-K, and only results cross the wire.
 */

export interface Reader {
  readonly conn: Connection;
  readonly layout: Layout;
}

/** Series of the tenant with data in the range, with their labels and first/last time there. */
export async function listSeries(r: Reader, tenant: string, range: TimeRange, profileType: string, signal?: AbortSignal): Promise<SeriesRecord[]> {
  const segments = splitRange(range, LEVELS);
  if (segments.length === 0) return [];
  const typeCond = profileType === '' ? '' : ` AND profile_type = ${quote(profileType)}`;
  const parts = segments.map((s) => {
    if (s.level) {
      const col = s.level.column;
      return `SELECT series_id, minMerge(first_ms) AS f, maxMerge(last_ms) AS l FROM ${r.layout.table(`profiles_${s.level.suffix}`)}
        WHERE tenant = ${quote(tenant)}${typeCond} AND ${col} >= ${int(s.from)} AND ${col} < ${int(s.to)} GROUP BY series_id`;
    }
    return `SELECT series_id, min(time_ms) AS f, max(time_ms) AS l FROM ${r.layout.table('profiles')}
      WHERE tenant = ${quote(tenant)}${typeCond} AND ${timeWithin(s.from, s.to)} GROUP BY series_id`;
  });
  const sql = `SELECT toString(series_id) AS id, ptype, names, vals, first, last
    FROM (SELECT series_id, min(f) AS first, max(l) AS last FROM (${parts.join(' UNION ALL ')}) GROUP BY series_id)
    ANY INNER JOIN (
      SELECT series_id, any(profile_type) AS ptype, any(label_names) AS names, any(label_values) AS vals
      FROM ${r.layout.table('series')} WHERE tenant = ${quote(tenant)}${typeCond} GROUP BY series_id
    ) USING series_id`;
  const rows = await r.conn.query<{ id: string; ptype: string; names: string[]; vals: string[]; first: string; last: string }>(sql, signal);
  return rows.map((row) => {
    const labels: Labels = row.names.map((name, i) => ({ name, value: row.vals[i] ?? '' }));
    return {
      id: BigInt(row.id),
      tenant,
      type: parseProfileType(row.ptype),
      typeId: row.ptype,
      labels,
      firstMs: Number(row.first),
      lastMs: Number(row.last),
    };
  });
}

/** Series id → group index, as SQL; undefined when a series sits in two groups (then groups run apart). */
function groupExpression(groups: readonly (readonly Id[])[]): { ids: Id[]; expr: string } | undefined {
  const groupOf = new Map<Id, number>();
  for (let i = 0; i < groups.length; i++) {
    for (const id of groups[i]!) {
      const g = groupOf.get(id);
      if (g !== undefined && g !== i) return undefined;
      groupOf.set(id, i);
    }
  }
  const ids = [...groupOf.keys()];
  const expr = groups.length === 1 ? '0' : `transform(series_id, ${idArray(ids)}, [${[...groupOf.values()].join(', ')}], 0)`;
  return { ids, expr };
}

/** The WHERE of one segment over the samples tables. */
function sampleBranch(r: Reader, tenant: string, s: Segment, ids: Id[], g: string): string {
  const where = `tenant = ${quote(tenant)} AND series_id IN (${idList(ids)})`;
  if (s.level) {
    const col = s.level.column;
    return `SELECT ${g} AS g, stack_id, sum(value) AS v FROM ${r.layout.table(`samples_${s.level.suffix}`)}
      WHERE ${where} AND ${col} >= ${int(s.from)} AND ${col} < ${int(s.to)} GROUP BY g, stack_id`;
  }
  return `SELECT ${g} AS g, stack_id, sum(scaled * scale) AS v FROM ${r.layout.table('samples')}
    WHERE ${where} AND ${timeWithin(s.from, s.to)} GROUP BY g, stack_id`;
}

/**
 * sum(value) by stack per group. With `limit` > 0, ClickHouse sorts each group's stacks (value
 * descending, then id), keeps the top `limit` and sums the rest into one row: only limit+1 rows per
 * group come back, whatever the number of stacks.
 */
export async function mergeStacks(
  r: Reader,
  tenant: string,
  groups: readonly (readonly Id[])[],
  range: TimeRange,
  limit: number,
  signal?: AbortSignal,
): Promise<StackValue[][]> {
  const out: StackValue[][] = groups.map(() => []);
  const segments = splitRange(range, LEVELS);
  if (segments.length === 0 || groups.every((g) => g.length === 0)) return out;
  const grouping = groupExpression(groups);
  if (!grouping) {
    const each = await Promise.all(groups.map((g) => mergeStacks(r, tenant, [g], range, limit, signal)));
    return each.map((e) => e[0] ?? []);
  }
  const union = segments.map((s) => sampleBranch(r, tenant, s, grouping.ids, grouping.expr)).join(' UNION ALL ');
  const summed = `SELECT g, stack_id, sum(v) AS value FROM (${union}) GROUP BY g, stack_id`;
  if (limit <= 0) {
    const rows = await r.conn.query<{ g: number; id: string; value: number }>(`SELECT g, toString(stack_id) AS id, value FROM (${summed})`, signal);
    for (const row of rows) out[row.g]!.push({ stackId: BigInt(row.id), value: row.value });
    return out;
  }
  const k = Math.floor(limit);
  const rows = await r.conn.query<{ g: number; top: [string, number][]; n: string; rest: number }>(
    `SELECT g, arrayMap(x -> (toString(x.1), x.2), arraySlice(sorted, 1, ${k})) AS top, n, rest FROM (
       SELECT g, arraySort(x -> (-x.2, x.1), groupArray((stack_id, value))) AS sorted, length(sorted) AS n,
              arraySum(x -> x.2, arraySlice(sorted, ${k + 1})) AS rest
       FROM (${summed}) GROUP BY g)`,
    signal,
  );
  for (const row of rows) {
    const list = out[row.g]!;
    for (const [id, value] of row.top) list.push({ stackId: BigInt(id), value });
    if (Number(row.n) > k) list.push({ stackId: OTHER_STACK_ID, value: row.rest });
  }
  return out;
}

/**
 * Totals per bucket `[from + k·step, …)` and group, from the per-profile rows and their rollups.
 * Rollup units are used only where they align with the buckets (from and step whole hours or days).
 */
export async function seriesPoints(
  r: Reader,
  tenant: string,
  groups: readonly (readonly Id[])[],
  range: TimeRange,
  stepMs: number,
  aggregation: 'sum' | 'avg',
  signal?: AbortSignal,
): Promise<{ timeMs: number; value: number }[][]> {
  const out: { timeMs: number; value: number }[][] = groups.map(() => []);
  const from = Math.floor(range.from);
  const step = Math.max(1, Math.floor(stepMs));
  const segments = splitRange(range, levelsAlignedTo(LEVELS, from, step));
  if (segments.length === 0 || groups.every((g) => g.length === 0)) return out;
  const grouping = groupExpression(groups);
  if (!grouping) {
    const each = await Promise.all(groups.map((g) => seriesPoints(r, tenant, [g], range, stepMs, aggregation, signal)));
    return each.map((e) => e[0] ?? []);
  }
  const where = `tenant = ${quote(tenant)} AND series_id IN (${idList(grouping.ids)})`;
  const g = grouping.expr;
  const parts = segments.map((s) => {
    if (s.level) {
      const col = s.level.column;
      return `SELECT ${g} AS g, intDiv(${col} * ${s.level.unitMs} - ${int(from)}, ${step}) AS k, sumMerge(total) AS t, countMerge(profiles) AS c
        FROM ${r.layout.table(`profiles_${s.level.suffix}`)} WHERE ${where} AND ${col} >= ${int(s.from)} AND ${col} < ${int(s.to)} GROUP BY g, k`;
    }
    return `SELECT ${g} AS g, intDiv(time_ms - ${int(from)}, ${step}) AS k, sum(total) AS t, count() AS c
      FROM ${r.layout.table('profiles')} WHERE ${where} AND ${timeWithin(s.from, s.to)} GROUP BY g, k`;
  });
  const rows = await r.conn.query<{ g: number; k: string; total: number; n: string }>(
    `SELECT g, k, sum(t) AS total, sum(c) AS n FROM (${parts.join(' UNION ALL ')}) GROUP BY g, k ORDER BY g, k`,
    signal,
  );
  for (const row of rows) {
    const value = aggregation === 'avg' ? row.total / Number(row.n) : row.total;
    out[row.g]!.push({ timeMs: from + Number(row.k) * step, value });
  }
  return out;
}

/** The WHERE of a per-profile or span-sample read: the tenant's series, within the range. */
function seriesInRange(tenant: string, seriesIds: readonly Id[], range: TimeRange): string {
  return `tenant = ${quote(tenant)} AND series_id IN (${idList(seriesIds)}) AND ${timeWithin(range.from, range.to)}`;
}

/** Profiles of the series in the range, from the per-profile table (no sample is read), by time then id. */
export async function listProfiles(
  r: Reader,
  tenant: string,
  seriesIds: readonly Id[],
  range: TimeRange,
  limit: number,
  signal?: AbortSignal,
): Promise<ListedProfileRow[]> {
  if (seriesIds.length === 0 || range.to <= range.from || limit <= 0) return [];
  const rows = await r.conn.query<{ id: string; series: string; t: string; total: number }>(
    `SELECT toString(profile_id) AS id, toString(series_id) AS series, time_ms AS t, total FROM ${r.layout.table('profiles')}
     WHERE ${seriesInRange(tenant, seriesIds, range)}
     ORDER BY time_ms, profile_id LIMIT ${int(limit)}`,
    signal,
  );
  return rows.map((row) => ({ id: BigInt(row.id), seriesId: BigInt(row.series), timeMs: Number(row.t), total: row.total }));
}

/** Profiles and their sample rows for the series in the range, counted by ClickHouse. */
export async function countProfiles(r: Reader, tenant: string, seriesIds: readonly Id[], range: TimeRange, signal?: AbortSignal): Promise<ProfileCounts> {
  if (seriesIds.length === 0 || range.to <= range.from) return { profiles: 0, rows: 0 };
  const [row] = await r.conn.query<{ n: string; rows: string }>(
    `SELECT count() AS n, sum(rows) AS rows FROM ${r.layout.table('profiles')}
     WHERE ${seriesInRange(tenant, seriesIds, range)}`,
    signal,
  );
  return { profiles: Number(row?.n ?? 0), rows: Number(row?.rows ?? 0) };
}

/** sum(value) by stack over the span samples of these spans, series and range, in ClickHouse. */
export async function mergeSpanStacks(
  r: Reader,
  tenant: string,
  seriesIds: readonly Id[],
  range: TimeRange,
  spanIds: readonly Id[],
  signal?: AbortSignal,
): Promise<StackValue[]> {
  if (seriesIds.length === 0 || spanIds.length === 0 || range.to <= range.from) return [];
  const rows = await r.conn.query<{ id: string; value: number }>(
    `SELECT toString(stack_id) AS id, sum(value) AS value FROM ${r.layout.table('span_samples')}
     WHERE ${seriesInRange(tenant, seriesIds, range)} AND span_id IN (${idList(spanIds)})
     GROUP BY stack_id`,
    signal,
  );
  return rows.map((row) => ({ stackId: BigInt(row.id), value: row.value }));
}

/** Per (series, profile time, span) the sum of its span samples, by time then span id, at most `limit`. */
export async function listSpans(
  r: Reader,
  tenant: string,
  seriesIds: readonly Id[],
  range: TimeRange,
  limit: number,
  signal?: AbortSignal,
): Promise<ListedSpanRow[]> {
  if (seriesIds.length === 0 || range.to <= range.from || limit <= 0) return [];
  const rows = await r.conn.query<{ span: string; series: string; t: string; total: number }>(
    `SELECT toString(span_id) AS span, toString(series_id) AS series, time_ms AS t, sum(value) AS total FROM ${r.layout.table('span_samples')}
     WHERE ${seriesInRange(tenant, seriesIds, range)}
     GROUP BY span_id, series_id, time_ms ORDER BY time_ms, span_id, series_id LIMIT ${int(limit)}`,
    signal,
  );
  return rows.map((row) => ({ spanId: BigInt(row.span), seriesId: BigInt(row.series), timeMs: Number(row.t), total: row.total }));
}

/**
 * The samples of the given profiles: their (series, time) from `profiles`, then the sample rows of
 * exactly those instants. `shared` counts other profiles stored at one of those instants.
 */
export async function mergeProfileStacks(
  r: Reader,
  tenant: string,
  seriesIds: readonly Id[],
  range: TimeRange,
  profileIds: readonly Id[],
  signal?: AbortSignal,
): Promise<ProfileMerge> {
  if (seriesIds.length === 0 || profileIds.length === 0 || range.to <= range.from) return { stacks: [], shared: 0 };
  const where = seriesInRange(tenant, seriesIds, range);
  const at = await r.conn.query<{ series: string; t: string }>(
    `SELECT DISTINCT toString(series_id) AS series, time_ms AS t FROM ${r.layout.table('profiles')} WHERE ${where} AND profile_id IN (${idList(profileIds)})`,
    signal,
  );
  if (at.length === 0) return { stacks: [], shared: 0 };
  const instants = `(series_id, time_ms) IN (${at.map((a) => `(${a.series}, ${int(Number(a.t))})`).join(', ')})`;
  const [shared] = await r.conn.query<{ n: string }>(
    `SELECT count() AS n FROM ${r.layout.table('profiles')} WHERE ${where} AND ${instants} AND profile_id NOT IN (${idList(profileIds)})`,
    signal,
  );
  const rows = await r.conn.query<{ id: string; value: number }>(
    `SELECT toString(stack_id) AS id, sum(scaled * scale) AS value FROM ${r.layout.table('samples')} WHERE ${where} AND ${instants} GROUP BY stack_id`,
    signal,
  );
  return { stacks: rows.map((row) => ({ stackId: BigInt(row.id), value: row.value })), shared: Number(shared?.n ?? 0) };
}
