import type { DuckDBConnection } from '@duckdb/node-api';
import { BIGINT, LIST, UBIGINT, listValue } from '@duckdb/node-api';
import type { StackValue, TimeRange } from '../store.js';
import { OTHER_STACK_ID } from '../store.js';
import { dayOf, dayTableName } from './schema.js';
import { big, intList, num } from './sql.js';

/**
 * Samples tables a range touches, among the days that exist. Walks the stored days, not the calendar:
 * a range can span millions of days (`now-100y`) while retention keeps a few dozen.
 */
export function dayTablesIn(days: ReadonlySet<number>, range: TimeRange): string[] {
  if (range.to <= range.from) return [];
  const first = dayOf(range.from);
  const last = dayOf(range.to - 1);
  return [...days]
    .filter((d) => d >= first && d <= last)
    .sort((a, b) => a - b)
    .map(dayTableName);
}

/**
 * `series_key → group` as SQL: a filter on the key when there is one group (zone maps and a plain IN
 * list), a join on an inline VALUES table when there are several.
 */
function groupSql(groups: readonly (readonly number[])[]): { join: string; where: string; grp: string } {
  if (groups.length === 1) return { join: '', where: `series_key IN (${intList(groups[0]!)})`, grp: '0' };
  const pairs = groups.flatMap((keys, g) => keys.map((k) => `(${intList([k])}, ${g})`));
  return { join: `JOIN (VALUES ${pairs.join(', ')}) g(series_key, grp) USING (series_key)`, where: 'true', grp: 'g.grp' };
}

/**
 * sum(value) by stack per group over the range, entirely in DuckDB. Whole rolled hours come from the
 * hourly rollup (rollup.ts); the rest — the ragged edges and hours not rolled yet — from the day
 * tables, each filtered (zone maps on time_ms) and pre-aggregated. The partial sums are merged and,
 * when limited, each group keeps its `limit` heaviest stacks plus one remainder row. Only surviving
 * stacks are joined to their content ids.
 */
export async function mergeStacks(
  conn: DuckDBConnection,
  days: ReadonlySet<number>,
  groups: readonly (readonly number[])[],
  plan: { readonly raw: readonly (readonly [number, number])[]; readonly hours: readonly (readonly [number, number])[] },
  limit: number,
): Promise<StackValue[][]> {
  const out: StackValue[][] = groups.map(() => []);
  if (groups.every((g) => g.length === 0)) return out;
  const { join, where, grp } = groupSql(groups);
  const parts: string[] = [];
  for (const [table, intervals] of rawTables(days, plan.raw)) {
    const when = intervals.map(([a, b]) => `(time_ms >= ${intList([Math.floor(a)])} AND time_ms < ${intList([Math.ceil(b)])})`).join(' OR ');
    parts.push(`SELECT ${grp} AS grp, stack_key, sum(value * scale) AS v FROM ${table} ${join} WHERE (${when}) AND ${where} GROUP BY ALL`);
  }
  if (plan.hours.length > 0) {
    const when = plan.hours.map(([a, b]) => `hour BETWEEN ${intList([a])} AND ${intList([b])}`).join(' OR ');
    parts.push(`SELECT ${grp} AS grp, stack_key, sum(value) AS v FROM rollup_hour ${join} WHERE (${when}) AND ${where} GROUP BY ALL`);
  }
  if (parts.length === 0) return out;
  const merged = `SELECT grp, stack_key, sum(v) AS v FROM (${parts.join(' UNION ALL ')}) GROUP BY grp, stack_key`;
  const sql =
    limit > 0
      ? `WITH r AS (SELECT grp, stack_key, v, row_number() OVER (PARTITION BY grp ORDER BY v DESC, stack_key) AS rn FROM (${merged}))
         SELECT r.grp, st.stack_id, r.v FROM r JOIN stacks st ON st.stack_key = r.stack_key WHERE r.rn <= ${intList([limit])}
         UNION ALL SELECT grp, NULL, sum(v) FROM r WHERE rn > ${intList([limit])} GROUP BY grp
         ORDER BY 1, 3 DESC`
      : `SELECT m.grp, st.stack_id, m.v FROM (${merged}) m JOIN stacks st ON st.stack_key = m.stack_key`;
  const r = await conn.runAndReadAll(sql);
  for (const [g, id, v] of r.getRows()) out[num(g!)]!.push({ stackId: id === null ? OTHER_STACK_ID : big(id), value: num(v!) });
  // The remainder row goes last, after the kept stacks.
  for (const rows of out) {
    const i = rows.findIndex((x) => x.stackId === OTHER_STACK_ID);
    if (i >= 0 && i !== rows.length - 1) rows.push(rows.splice(i, 1)[0]!);
  }
  return out;
}

/** Day tables the raw intervals touch, each with the intervals (clipped to nothing) it must answer. */
function rawTables(days: ReadonlySet<number>, intervals: readonly (readonly [number, number])[]): Map<string, (readonly [number, number])[]> {
  const out = new Map<string, (readonly [number, number])[]>();
  for (const iv of intervals) {
    for (const table of dayTablesIn(days, { from: iv[0], to: iv[1] })) {
      const list = out.get(table) ?? [];
      list.push(iv);
      out.set(table, list);
    }
  }
  return out;
}

/**
 * Totals per bucket and group from the per-profile totals (one row per profile, not per sample),
 * bucketed and grouped in DuckDB. Buckets start at `from` and are `stepMs` wide.
 */
export async function seriesPoints(
  conn: DuckDBConnection,
  groups: readonly (readonly number[])[],
  range: TimeRange,
  stepMs: number,
  aggregation: 'sum' | 'avg',
): Promise<{ timeMs: number; value: number }[][]> {
  const out: { timeMs: number; value: number }[][] = groups.map(() => []);
  if (groups.every((g) => g.length === 0) || range.to <= range.from) return out;
  const { join, where, grp } = groupSql(groups);
  const step = Math.max(1, Math.floor(stepMs));
  const sql = `SELECT ${grp} AS grp, (time_ms - $1) // $3 AS bucket, sum(total) AS total, count(*) AS profiles
    FROM profiles ${join}
    WHERE time_ms >= $1 AND time_ms < $2 AND ${where}
    GROUP BY ALL ORDER BY 1, 2`;
  const r = await conn.runAndReadAll(sql, [BigInt(Math.floor(range.from)), BigInt(Math.ceil(range.to)), BigInt(step)], [BIGINT, BIGINT, BIGINT]);
  for (const [g, bucket, total, profiles] of r.getRows()) {
    const value = aggregation === 'avg' ? num(total!) / num(profiles!) : num(total!);
    out[num(g!)]!.push({ timeMs: Math.floor(range.from) + num(bucket!) * step, value });
  }
  return out;
}

/** Profiles of the series (by surrogate key) in the range from the per-profile table, by time then id. */
export async function listProfiles(
  conn: DuckDBConnection,
  keys: readonly number[],
  range: TimeRange,
  limit: number,
): Promise<{ id: bigint; seriesKey: number; timeMs: number; total: number }[]> {
  if (keys.length === 0 || range.to <= range.from || limit <= 0) return [];
  const r = await conn.runAndReadAll(
    `SELECT profile_id, series_key, time_ms, total FROM profiles
     WHERE time_ms >= $1 AND time_ms < $2 AND series_key IN (${intList(keys)})
     ORDER BY time_ms, profile_id LIMIT ${intList([Math.floor(limit)])}`,
    [BigInt(Math.floor(range.from)), BigInt(Math.ceil(range.to))],
    [BIGINT, BIGINT],
  );
  return r.getRows().map(([id, key, t, total]) => ({ id: big(id!), seriesKey: num(key!), timeMs: num(t!), total: num(total!) }));
}

/** Profiles and their sample rows (`row_count`) for the series in the range, counted by DuckDB. */
export async function countProfiles(conn: DuckDBConnection, keys: readonly number[], range: TimeRange): Promise<{ profiles: number; rows: number }> {
  if (keys.length === 0 || range.to <= range.from) return { profiles: 0, rows: 0 };
  const r = await conn.runAndReadAll(
    `SELECT count(*), coalesce(sum(row_count), 0) FROM profiles WHERE time_ms >= $1 AND time_ms < $2 AND series_key IN (${intList(keys)})`,
    [BigInt(Math.floor(range.from)), BigInt(Math.ceil(range.to))],
    [BIGINT, BIGINT],
  );
  const [row] = r.getRows();
  return { profiles: num(row?.[0] ?? 0), rows: num(row?.[1] ?? 0) };
}

/** sum(value) by stack over the span samples of these spans, series (by key) and range. */
export async function mergeSpanStacks(conn: DuckDBConnection, keys: readonly number[], range: TimeRange, spanIds: readonly bigint[]): Promise<StackValue[]> {
  if (keys.length === 0 || spanIds.length === 0 || range.to <= range.from) return [];
  const r = await conn.runAndReadAll(
    `SELECT stack_id, sum(value) FROM span_samples
     WHERE time_ms >= $1 AND time_ms < $2 AND series_key IN (${intList(keys)}) AND span_id IN (SELECT unnest($3))
     GROUP BY stack_id`,
    [BigInt(Math.floor(range.from)), BigInt(Math.ceil(range.to)), listValue([...spanIds])],
    [BIGINT, BIGINT, LIST(UBIGINT)],
  );
  return r.getRows().map(([id, v]) => ({ stackId: big(id!), value: num(v!) }));
}

/** Per (series, profile time, span) the sum of its span samples, by time then span id, at most `limit`. */
export async function listSpans(
  conn: DuckDBConnection,
  keys: readonly number[],
  range: TimeRange,
  limit: number,
): Promise<{ spanId: bigint; seriesKey: number; timeMs: number; total: number }[]> {
  if (keys.length === 0 || range.to <= range.from || limit <= 0) return [];
  const r = await conn.runAndReadAll(
    `SELECT span_id, series_key, time_ms, sum(value) AS total FROM span_samples
     WHERE time_ms >= $1 AND time_ms < $2 AND series_key IN (${intList(keys)})
     GROUP BY span_id, series_key, time_ms ORDER BY time_ms, span_id, series_key LIMIT ${intList([Math.floor(limit)])}`,
    [BigInt(Math.floor(range.from)), BigInt(Math.ceil(range.to))],
    [BIGINT, BIGINT],
  );
  return r.getRows().map(([span, key, t, total]) => ({ spanId: big(span!), seriesKey: num(key!), timeMs: num(t!), total: num(total!) }));
}

/**
 * The samples of the given profiles: their (series, time) from `profiles`, then those instants' rows of
 * the day tables they fall in. `shared` counts other profiles stored at one of those instants.
 */
export async function mergeProfileStacks(
  conn: DuckDBConnection,
  days: ReadonlySet<number>,
  keys: readonly number[],
  range: TimeRange,
  profileIds: readonly bigint[],
): Promise<{ stacks: StackValue[]; shared: number }> {
  if (keys.length === 0 || profileIds.length === 0 || range.to <= range.from) return { stacks: [], shared: 0 };
  const params = [BigInt(Math.floor(range.from)), BigInt(Math.ceil(range.to)), listValue([...profileIds])];
  const types = [BIGINT, BIGINT, LIST(UBIGINT)];
  const selected = `SELECT DISTINCT series_key, time_ms FROM profiles
    WHERE time_ms >= $1 AND time_ms < $2 AND series_key IN (${intList(keys)}) AND profile_id IN (SELECT unnest($3))`;
  const at = (await conn.runAndReadAll(selected, params, types)).getRows().map(([k, t]) => [num(k!), num(t!)] as const);
  if (at.length === 0) return { stacks: [], shared: 0 };
  const [sharedRow] = (
    await conn.runAndReadAll(
      `SELECT count(*) FROM profiles p JOIN (${selected}) s USING (series_key, time_ms) WHERE p.profile_id NOT IN (SELECT unnest($3))`,
      params,
      types,
    )
  ).getRows();
  const byTable = new Map<string, string[]>();
  for (const [k, t] of at) {
    const table = dayTablesIn(days, { from: t, to: t + 1 })[0];
    if (table) byTable.set(table, [...(byTable.get(table) ?? []), `(${intList([k])}, ${intList([t])})`]);
  }
  if (byTable.size === 0) return { stacks: [], shared: num(sharedRow?.[0] ?? 0) };
  const parts = [...byTable].map(
    ([table, pairs]) =>
      `SELECT stack_key, sum(value * scale) AS v FROM ${table} JOIN (VALUES ${pairs.join(', ')}) w(series_key, time_ms) USING (series_key, time_ms) GROUP BY stack_key`,
  );
  const r = await conn.runAndReadAll(
    `SELECT st.stack_id, m.v FROM (SELECT stack_key, sum(v) AS v FROM (${parts.join(' UNION ALL ')}) GROUP BY stack_key) m JOIN stacks st ON st.stack_key = m.stack_key`,
  );
  return { stacks: r.getRows().map(([id, v]) => ({ stackId: big(id!), value: num(v!) })), shared: num(sharedRow?.[0] ?? 0) };
}
