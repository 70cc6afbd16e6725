import type { DuckDBConnection, DuckDBPreparedStatement, DuckDBType } from '@duckdb/node-api';
import { BIGINT, DOUBLE, INTEGER, UBIGINT } from '@duckdb/node-api';
import type { Id } from '../../model/index.js';
import type { CommitBatch, ProfileRow } from '../engine.js';
import { EventLoopSlices } from '../event-loop-slices.js';
import { ChunkPool, ColumnChunks } from './column-chunks.js';
import { createDayTableSql, dayOf, dayTableName } from './schema.js';
import type { KeyedSeries, SeriesRegistry } from './series-registry.js';
import type { StackKeys } from './symbols.js';
import { appendSymbols } from './symbols.js';

export interface WriteContext {
  readonly conn: DuckDBConnection;
  readonly registry: SeriesRegistry;
  readonly stackKeys: StackKeys;
  /** Days whose samples table exists (committed). */
  readonly days: Set<number>;
}

/**
 * Stores one batch in one transaction: symbols, new series, samples and profile rows commit together
 * or not at all, and DuckDB's commit syncs its write-ahead log, so a resolved promise survives a
 * crash. Content ids become this file's surrogate keys here (see schema.ts). The caller serializes
 * calls (one writer).
 */
export async function commitBatch(ctx: WriteContext, batch: CommitBatch): Promise<void> {
  const { conn, registry } = ctx;
  // A large batch's JavaScript side (keys, list values, column chunks) yields to the event loop
  // between slices, so /healthz and queries are answered while it is written.
  const slices = new EventLoopSlices();
  const stackKeys = await ctx.stackKeys.assign(conn, batch, slices);

  const newSeries: KeyedSeries[] = [];
  const seriesKey = new Map<Id, KeyedSeries>();
  for (const s of batch.series) {
    if (registry.get(s.id) || seriesKey.has(s.id)) continue;
    const rec = { ...s, key: registry.allocateKey(), firstMs: Infinity, lastMs: -Infinity };
    newSeries.push(rec);
    seriesKey.set(s.id, rec);
  }
  const seriesOf = (id: Id): KeyedSeries => {
    const s = registry.get(id) ?? seriesKey.get(id);
    if (!s) throw new Error(`commit names series ${id} that neither the batch nor the store has`);
    return s;
  };

  const profileInsert = await preparedProfileInsert(conn, batch.profiles.length);
  await conn.run('BEGIN TRANSACTION');
  try {
    await appendSymbols(conn, batch, stackKeys, slices);
    if (newSeries.length > 0) {
      const a = await conn.createAppender('series');
      for (const s of newSeries) {
        a.appendInteger(s.key);
        a.appendUBigInt(s.id);
        a.appendVarchar(s.tenant);
        a.appendVarchar(s.typeId);
        a.appendVarchar(JSON.stringify(s.labels));
        a.endRow();
      }
      a.closeSync();
    }
    const samples = new Map<number, ColumnChunks>();
    const profiles = profileInsert ? undefined : new ColumnChunks(await conn.createAppender('profiles'), PROFILE_CHUNKS);
    for (let n = 0; n < batch.profiles.length; n++) {
      const p = batch.profiles[n]!;
      const series = seriesOf(p.seriesId);
      const day = dayOf(p.timeMs);
      let chunks = samples.get(day);
      if (!chunks) {
        if (!ctx.days.has(day)) await conn.run(createDayTableSql(day));
        chunks = new ColumnChunks(await conn.createAppender(dayTableName(day)), SAMPLE_CHUNKS);
        samples.set(day, chunks);
      }
      const t = BigInt(p.timeMs);
      await addSamples(chunks, series.key, t, stackKeys.rowKeys[n]!, p, slices);
      if (profiles) addProfile(profiles, p, series.key, t);
      else bindProfile(profileInsert!, n, p, series.key, t);
    }
    for (const c of samples.values()) c.close();
    profiles?.close();
    await profileInsert?.run();
    await appendSpanSamples(conn, batch.profiles, (p) => seriesOf(p.seriesId).key);
    await conn.run('COMMIT');
  } catch (e) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw e;
  }

  await ctx.stackKeys.remember(stackKeys, slices);
  for (const s of newSeries) registry.add(s);
  for (const p of batch.profiles) {
    const s = seriesOf(p.seriesId);
    if (p.timeMs < s.firstMs) s.firstMs = p.timeMs;
    if (p.timeMs > s.lastMs) s.lastMs = p.timeMs;
    ctx.days.add(dayOf(p.timeMs));
  }
}

/** `span_samples` rows of the profiles that have any (most have none, and add nothing here). */
async function appendSpanSamples(conn: DuckDBConnection, profiles: readonly ProfileRow[], keyOf: (p: ProfileRow) => number): Promise<void> {
  const withSpans = profiles.filter((p) => p.spans !== undefined && p.spans.spanIds.length > 0);
  if (withSpans.length === 0) return;
  const a = await conn.createAppender('span_samples');
  for (const p of withSpans) {
    const key = keyOf(p);
    const s = p.spans!;
    for (let i = 0; i < s.spanIds.length; i++) {
      a.appendInteger(key);
      a.appendBigInt(BigInt(p.timeMs));
      a.appendUBigInt(s.spanIds[i]!);
      a.appendUBigInt(s.stackIds[i]!);
      a.appendDouble(s.values[i]!);
      a.endRow();
    }
  }
  a.closeSync();
}

/** Column types of a samples day table and of `profiles`, in table order (see schema.ts). */
const SAMPLE_COLUMNS: readonly DuckDBType[] = [INTEGER, BIGINT, INTEGER, DOUBLE, DOUBLE];
const PROFILE_COLUMNS: readonly DuckDBType[] = [UBIGINT, INTEGER, BIGINT, BIGINT, DOUBLE, INTEGER];
/** Their chunks, kept from one commit to the next (commits run one at a time; see ChunkPool). */
const SAMPLE_CHUNKS = new ChunkPool(SAMPLE_COLUMNS);
const PROFILE_CHUNKS = new ChunkPool(PROFILE_COLUMNS);

/** One samples row per stack of the profile: (series_key, time_ms, stack_key, value, scale). */
async function addSamples(chunks: ColumnChunks, seriesKey: number, timeMs: bigint, stackKeys: Int32Array, p: ProfileRow, slices: EventLoopSlices): Promise<void> {
  const [series, time, stack, value, scale] = chunks.vectors;
  for (let i = 0; i < stackKeys.length; i++) {
    const turn = chunks.flushIfFull(slices);
    if (turn) await turn;
    const r = chunks.nextRow();
    series!.setItem(r, seriesKey);
    time!.setItem(r, timeMs);
    stack!.setItem(r, stackKeys[i]!);
    value!.setItem(r, p.scaled[i]!);
    scale!.setItem(r, p.scale);
  }
}

/**
 * A commit of up to this many profiles inserts their rows with one prepared INSERT … VALUES (one per
 * row count, kept per connection) instead of an appender: DuckDB 1.5 plans an INSERT at every appender
 * flush (≈ 1.1–1.35 ms whatever its row count), while a prepared statement was planned once. A steady
 * commit holds one to a few dozen profiles (one per agent push); larger ones keep the appender.
 */
const PREPARED_PROFILE_ROWS = 64;
const PROFILE_PARAMS = PROFILE_COLUMNS.length;
const profileInserts = new WeakMap<DuckDBConnection, Map<number, DuckDBPreparedStatement>>();

/** The prepared INSERT for `rows` profile rows on this connection, or undefined past PREPARED_PROFILE_ROWS. */
async function preparedProfileInsert(conn: DuckDBConnection, rows: number): Promise<DuckDBPreparedStatement | undefined> {
  if (rows === 0 || rows > PREPARED_PROFILE_ROWS) return undefined;
  let byRows = profileInserts.get(conn);
  if (!byRows) profileInserts.set(conn, (byRows = new Map()));
  let stmt = byRows.get(rows);
  if (!stmt) {
    const values = Array.from({ length: rows }, (_, r) => `(${Array.from({ length: PROFILE_PARAMS }, (_, c) => `$${r * PROFILE_PARAMS + c + 1}`).join(', ')})`);
    stmt = await conn.prepare(`INSERT INTO profiles VALUES ${values.join(', ')}`);
    byRows.set(rows, stmt);
  }
  return stmt;
}

/** Row `n` of a prepared profile INSERT: the same columns as addProfile. */
function bindProfile(stmt: DuckDBPreparedStatement, n: number, p: ProfileRow, seriesKey: number, timeMs: bigint): void {
  const at = n * PROFILE_PARAMS + 1;
  stmt.bindUBigInt(at, p.id);
  stmt.bindInteger(at + 1, seriesKey);
  stmt.bindBigInt(at + 2, timeMs);
  stmt.bindBigInt(at + 3, BigInt(p.durationNs));
  stmt.bindDouble(at + 4, p.total);
  stmt.bindInteger(at + 5, p.stackIds.length);
}

/** The profile's row: (profile_id, series_key, time_ms, duration_ns, total, row_count). */
function addProfile(chunks: ColumnChunks, p: ProfileRow, seriesKey: number, timeMs: bigint): void {
  const r = chunks.nextRow();
  const v = chunks.vectors;
  v[0]!.setItem(r, p.id);
  v[1]!.setItem(r, seriesKey);
  v[2]!.setItem(r, timeMs);
  v[3]!.setItem(r, BigInt(p.durationNs));
  v[4]!.setItem(r, p.total);
  v[5]!.setItem(r, p.stackIds.length);
}
