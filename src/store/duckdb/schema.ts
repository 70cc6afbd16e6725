import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * Tables of the embedded store. Ids are the model's content hashes (UBIGINT). Two integer surrogate
 * keys exist only inside this engine: `series_key` and `stack_key`. Samples carry them instead of the
 * 64-bit hashes because random hashes do not compress (8 B per row), while small dense integers
 * bit-pack to 1–2 B; the hashes stay in `series` and `stacks`, so everything outside sees content ids.
 *
 * Samples live in one table per UTC day (`samples_YYYYMMDD`). Retention then is `DROP TABLE`, which
 * frees the day's blocks at once; a shared table with `DELETE WHERE day < …` would leave deleted rows
 * in row groups until a vacuum that DuckDB only does for fully-deleted groups. A range query reads
 * only the day tables it touches, and zone maps on `time_ms` prune inside a day.
 *
 * Each sample row stores `value / scale` with `scale` the profile's gcd (e.g. the sampling period):
 * CPU values are counts × 52 631 578 ns, which need 35 bits, while the counts need ~9. `scale` and
 * `time_ms` and `series_key` are constant within a profile, so DuckDB stores them run-length encoded.
 */
export const DAY_MS = 86_400_000;

const TABLES = [
  `CREATE TABLE IF NOT EXISTS series (
     series_key INTEGER NOT NULL, series_id UBIGINT NOT NULL, tenant VARCHAR NOT NULL,
     profile_type VARCHAR NOT NULL, labels VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS mappings (mapping_id UBIGINT NOT NULL, binary_name VARCHAR NOT NULL, build_id VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS functions (
     function_id UBIGINT NOT NULL, name VARCHAR NOT NULL, system_name VARCHAR NOT NULL, file VARCHAR NOT NULL)`,
  // mapping_id NULL = unknown mapping; function_ids/line_numbers are the frames, innermost first.
  `CREATE TABLE IF NOT EXISTS locations (
     location_id UBIGINT NOT NULL, mapping_id UBIGINT, address UBIGINT NOT NULL,
     function_ids UBIGINT[] NOT NULL, line_numbers BIGINT[] NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS stacks (stack_key INTEGER NOT NULL, stack_id UBIGINT NOT NULL, location_ids UBIGINT[] NOT NULL)`,
  // One row per stored profile: replay detection (profile_id), time series without touching samples
  // (total), and series time bounds on start-up.
  `CREATE TABLE IF NOT EXISTS profiles (
     profile_id UBIGINT NOT NULL, series_key INTEGER NOT NULL, time_ms BIGINT NOT NULL,
     duration_ns BIGINT NOT NULL, total DOUBLE NOT NULL, row_count INTEGER NOT NULL)`,
  // Samples recorded inside traced spans (span profiles), written only for profiles whose samples carry
  // a span id: a profile without spans costs nothing here. One table, not per day: its rows are few
  // (a span's samples) and read by span id; retention deletes by time. Stack content ids, no surrogate key.
  `CREATE TABLE IF NOT EXISTS span_samples (
     series_key INTEGER NOT NULL, time_ms BIGINT NOT NULL, span_id UBIGINT NOT NULL, stack_id UBIGINT NOT NULL, value DOUBLE NOT NULL)`,
];

export async function createSchema(conn: DuckDBConnection): Promise<void> {
  for (const ddl of TABLES) await conn.run(ddl);
}

/** Day number (days since the epoch, UTC) of a Unix-millisecond time. */
export function dayOf(timeMs: number): number {
  return Math.floor(timeMs / DAY_MS);
}

export function dayTableName(day: number): string {
  const d = new Date(day * DAY_MS);
  const yyyy = String(d.getUTCFullYear()).padStart(4, '0');
  const mm = String(d.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(d.getUTCDate()).padStart(2, '0');
  return `samples_${yyyy}${mm}${dd}`;
}

const DAY_TABLE = /^samples_(\d{4})(\d{2})(\d{2})$/;

/** The day a `samples_YYYYMMDD` table holds, or undefined for any other table. */
export function dayOfTableName(name: string): number | undefined {
  const m = DAY_TABLE.exec(name);
  if (!m) return undefined;
  return dayOf(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
}

export function createDayTableSql(day: number): string {
  return `CREATE TABLE IF NOT EXISTS ${dayTableName(day)} (
    series_key INTEGER NOT NULL, time_ms BIGINT NOT NULL, stack_key INTEGER NOT NULL,
    value DOUBLE NOT NULL, scale DOUBLE NOT NULL)`;
}

/** Days that have a samples table, ascending. */
export async function listDays(conn: DuckDBConnection): Promise<number[]> {
  const r = await conn.runAndReadAll(`SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'`);
  const days: number[] = [];
  for (const [name] of r.getRows()) {
    const d = typeof name === 'string' ? dayOfTableName(name) : undefined;
    if (d !== undefined) days.push(d);
  }
  return days.sort((a, b) => a - b);
}
