import { statSync } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { BIGINT } from '@duckdb/node-api';
import { DAY_MS, dayOf, dayTableName } from './schema.js';
import type { HourlyRollup } from './rollup.js';
import type { SeriesRegistry } from './series-registry.js';
import { intList, num } from './sql.js';

/**
 * Drops every day that ends at or before `olderThanMs`: its samples table goes with one DROP TABLE
 * (its blocks return to the file's free list at the checkpoint), its profile rows are deleted, and
 * series left without data are forgotten. Partial days are kept whole.
 */
export async function dropDaysBefore(
  conn: DuckDBConnection,
  days: Set<number>,
  registry: SeriesRegistry,
  rollup: HourlyRollup,
  olderThanMs: number,
): Promise<number> {
  const firstKept = dayOf(olderThanMs);
  const doomed = [...days].filter((d) => d < firstKept);
  const boundaryMs = firstKept * DAY_MS;
  const emptied = [...registry.all()].filter((s) => s.lastMs < boundaryMs);
  await conn.run('BEGIN TRANSACTION');
  try {
    for (const d of doomed) await conn.run(`DROP TABLE IF EXISTS ${dayTableName(d)}`);
    await conn.run('DELETE FROM profiles WHERE time_ms < $1', [BigInt(boundaryMs)], [BIGINT]);
    await conn.run('DELETE FROM span_samples WHERE time_ms < $1', [BigInt(boundaryMs)], [BIGINT]);
    await rollup.dropBefore(conn, firstKept);
    if (emptied.length > 0) await conn.run(`DELETE FROM series WHERE series_key IN (${intList(emptied.map((s) => s.key))})`);
    await conn.run('COMMIT');
  } catch (e) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw e;
  }
  for (const d of doomed) days.delete(d);
  rollup.forgetBefore(firstKept);
  for (const s of emptied) registry.remove(s.key);
  for (const s of registry.all()) if (s.firstMs < boundaryMs) s.firstMs = boundaryMs;
  if (doomed.length > 0) await conn.run('CHECKPOINT');
  return doomed.length;
}

/** Sample rows across all day tables (DuckDB answers count(*) from table metadata). */
export async function countRows(conn: DuckDBConnection, days: ReadonlySet<number>): Promise<number> {
  if (days.size === 0) return 0;
  const parts = [...days].map((d) => `SELECT count(*) AS n FROM ${dayTableName(d)}`);
  const r = await conn.runAndReadAll(`SELECT coalesce(sum(n), 0) FROM (${parts.join(' UNION ALL ')})`);
  return num(r.getRows()[0]![0]!);
}

/** The database file plus its write-ahead log. */
export function bytesOnDisk(dbFile: string): number {
  let total = 0;
  for (const f of [dbFile, `${dbFile}.wal`]) {
    try {
      total += statSync(f).size;
    } catch {
      // no WAL right after a checkpoint
    }
  }
  return total;
}
