import type { StoreStats } from '../store.js';
import type { Reader } from './read.js';
import { DAY_MS, timedTables } from './schema.js';
import { int, quote } from './sql.js';

/**
 * Retention and statistics. Retention drops whole day partitions — raw samples, profiles and every
 * rollup in step — with `ALTER TABLE … DROP PARTITION`, which unlinks the parts (no rewrite). In a
 * cluster the ALTER runs ON CLUSTER against the local tables; the days come from the daily rollups
 * read through the Distributed tables, so days held only by other shards are found too.
 */
export async function dropDaysBefore(r: Reader, olderThanMs: number): Promise<number> {
  const firstKept = Math.floor(olderThanMs / DAY_MS);
  const rows = await r.conn.query<{ day: string }>(
    `SELECT DISTINCT day FROM (
       SELECT day FROM ${r.layout.table('samples_1d')} WHERE day < ${int(firstKept)}
       UNION ALL SELECT day FROM ${r.layout.table('profiles_1d')} WHERE day < ${int(firstKept)})
     ORDER BY day`,
  );
  const days = rows.map((row) => Number(row.day));
  for (const day of days) {
    for (const t of timedTables()) {
      await r.conn.command(`ALTER TABLE ${r.layout.local(t)}${r.layout.onCluster} DROP PARTITION ${day}`);
    }
  }
  return days.length;
}

/**
 * Series with data (from the daily rollup, so dropped days no longer count them), raw sample rows,
 * and the bytes of the database's active parts on every server of the cluster.
 */
export async function stats(r: Reader): Promise<StoreStats> {
  const parts = r.layout.cluster ? `cluster(${quote(r.layout.cluster)}, system, parts)` : 'system.parts';
  const [row] = await r.conn.query<{ series: string; rows: string; bytes: string }>(
    `SELECT
       (SELECT uniqExact(series_id) FROM ${r.layout.table('profiles_1d')}) AS series,
       (SELECT count() FROM ${r.layout.table('samples')}) AS rows,
       (SELECT sum(bytes_on_disk) FROM ${parts} WHERE database = ${quote(r.layout.database)} AND active) AS bytes`,
  );
  return { series: Number(row?.series ?? 0), rows: Number(row?.rows ?? 0), bytesOnDisk: Number(row?.bytes ?? 0) };
}
