import type { DuckDBConnection } from '@duckdb/node-api';
import { BIGINT } from '@duckdb/node-api';
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
 * sum(value) by stack per group over the range, entirely in DuckDB: each day table is filtered
 * (zone maps on time_ms) and pre-aggregated, the partial sums merged, and — when limited — each
 * group's `limit` heaviest stacks kept plus one remainder row. Only surviving stacks are joined to
 * their content ids.
 */
export async function mergeStacks(
  conn: DuckDBConnection,
  days: ReadonlySet<number>,
  groups: readonly (readonly number[])[],
  range: TimeRange,
  limit: number,
): Promise<StackValue[][]> {
  const out: StackValue[][] = groups.map(() => []);
  const tables = dayTablesIn(days, range);
  if (groups.every((g) => g.length === 0) || tables.length === 0) return out;
  const { join, where, grp } = groupSql(groups);
  const parts = tables.map(
    (t) => `SELECT ${grp} AS grp, stack_key, sum(value * scale) AS v FROM ${t} ${join}
       WHERE time_ms >= $1 AND time_ms < $2 AND ${where} GROUP BY ALL`,
  );
  const merged = `SELECT grp, stack_key, sum(v) AS v FROM (${parts.join(' UNION ALL ')}) GROUP BY grp, stack_key`;
  const sql =
    limit > 0
      ? `WITH r AS (SELECT grp, stack_key, v, row_number() OVER (PARTITION BY grp ORDER BY v DESC, stack_key) AS rn FROM (${merged}))
         SELECT r.grp, st.stack_id, r.v FROM r JOIN stacks st ON st.stack_key = r.stack_key WHERE r.rn <= ${intList([limit])}
         UNION ALL SELECT grp, NULL, sum(v) FROM r WHERE rn > ${intList([limit])} GROUP BY grp
         ORDER BY 1, 3 DESC`
      : `SELECT m.grp, st.stack_id, m.v FROM (${merged}) m JOIN stacks st ON st.stack_key = m.stack_key`;
  const r = await conn.runAndReadAll(sql, [BigInt(Math.floor(range.from)), BigInt(Math.ceil(range.to))], [BIGINT, BIGINT]);
  for (const [g, id, v] of r.getRows()) out[num(g!)]!.push({ stackId: id === null ? OTHER_STACK_ID : big(id), value: num(v!) });
  // The remainder row goes last, after the kept stacks.
  for (const rows of out) {
    const i = rows.findIndex((x) => x.stackId === OTHER_STACK_ID);
    if (i >= 0 && i !== rows.length - 1) rows.push(rows.splice(i, 1)[0]!);
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
