import type { DuckDBConnection } from '@duckdb/node-api';
import { BIGINT } from '@duckdb/node-api';
import type { Labels } from '../../model/index.js';
import { formatLabels } from '../../model/index.js';
import type { SeriesPoints, SeriesPointsQuery, StackValue, TimeRange } from '../store.js';
import { dayOf, dayTableName } from './schema.js';
import type { SeriesRecord } from './series-registry.js';
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
 * sum(value) by stack over the series and range, entirely in DuckDB: each day table is filtered
 * (zone maps on time_ms) and pre-aggregated, then the partial sums are merged and only the surviving
 * stacks are joined to their content ids.
 */
export async function mergeStacks(
  conn: DuckDBConnection,
  days: ReadonlySet<number>,
  series: readonly SeriesRecord[],
  range: TimeRange,
): Promise<StackValue[]> {
  const tables = dayTablesIn(days, range);
  if (series.length === 0 || tables.length === 0) return [];
  const keys = intList(series.map((s) => s.key));
  const parts = tables.map(
    (t) =>
      `SELECT stack_key, sum(value * scale) AS v FROM ${t}
       WHERE time_ms >= $1 AND time_ms < $2 AND series_key IN (${keys}) GROUP BY stack_key`,
  );
  const sql = `SELECT st.stack_id, m.v FROM (
      SELECT stack_key, sum(v) AS v FROM (${parts.join(' UNION ALL ')}) GROUP BY stack_key
    ) m JOIN stacks st ON st.stack_key = m.stack_key`;
  const r = await conn.runAndReadAll(sql, [BigInt(Math.floor(range.from)), BigInt(Math.ceil(range.to))], [BIGINT, BIGINT]);
  return r.getRows().map(([id, v]) => ({ stackId: big(id!), value: num(v!) }));
}

/**
 * Totals per bucket and group from the per-profile totals (one row per profile, not per sample),
 * bucketed and grouped in DuckDB. Buckets start at `from` and are `stepMs` wide.
 */
export async function seriesPoints(
  conn: DuckDBConnection,
  series: readonly SeriesRecord[],
  q: SeriesPointsQuery,
): Promise<SeriesPoints[]> {
  if (series.length === 0 || q.to <= q.from) return [];
  const groups: Labels[] = [];
  const groupIndex = new Map<string, number>();
  const pairs: string[] = [];
  for (const s of series) {
    const labels = q.groupBy.flatMap((name) => s.labels.filter((l) => l.name === name));
    labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const k = formatLabels(labels);
    let g = groupIndex.get(k);
    if (g === undefined) {
      g = groups.push(labels) - 1;
      groupIndex.set(k, g);
    }
    pairs.push(`(${intList([s.key])}, ${g})`);
  }
  const step = Math.max(1, Math.floor(q.stepMs));
  const sql = `SELECT g.grp, (p.time_ms - $1) // $3 AS bucket, sum(p.total) AS total, count(*) AS profiles
    FROM profiles p JOIN (VALUES ${pairs.join(', ')}) g(series_key, grp) ON g.series_key = p.series_key
    WHERE p.time_ms >= $1 AND p.time_ms < $2
    GROUP BY ALL ORDER BY 1, 2`;
  const r = await conn.runAndReadAll(sql, [BigInt(Math.floor(q.from)), BigInt(Math.ceil(q.to)), BigInt(step)], [BIGINT, BIGINT, BIGINT]);
  const out = new Map<number, SeriesPoints>();
  for (const [grp, bucket, total, profiles] of r.getRows()) {
    const g = num(grp!);
    let sp = out.get(g);
    if (!sp) {
      sp = { labels: groups[g]!, points: [] };
      out.set(g, sp);
    }
    const value = q.aggregation === 'avg' ? num(total!) / num(profiles!) : num(total!);
    sp.points.push({ timeMs: Math.floor(q.from) + num(bucket!) * step, value });
  }
  return [...out.values()];
}
