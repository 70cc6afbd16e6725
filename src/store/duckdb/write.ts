import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import type { Id } from '../../model/index.js';
import type { CommitBatch } from '../engine.js';
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
  const stackKeys = await ctx.stackKeys.assign(conn, batch);
  const { keyOf } = stackKeys;

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

  await conn.run('BEGIN TRANSACTION');
  try {
    await appendSymbols(conn, batch, stackKeys);
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
    const samples = new Map<number, DuckDBAppender>();
    const profilesAppender = await conn.createAppender('profiles');
    for (const p of batch.profiles) {
      const series = seriesOf(p.seriesId);
      const day = dayOf(p.timeMs);
      let a = samples.get(day);
      if (!a) {
        if (!ctx.days.has(day)) await conn.run(createDayTableSql(day));
        a = await conn.createAppender(dayTableName(day));
        samples.set(day, a);
      }
      const t = BigInt(p.timeMs);
      for (let i = 0; i < p.stackIds.length; i++) {
        a.appendInteger(series.key);
        a.appendBigInt(t);
        a.appendInteger(keyOf.get(p.stackIds[i]!)!);
        a.appendDouble(p.scaled[i]!);
        a.appendDouble(p.scale);
        a.endRow();
      }
      profilesAppender.appendUBigInt(p.id);
      profilesAppender.appendInteger(series.key);
      profilesAppender.appendBigInt(t);
      profilesAppender.appendBigInt(BigInt(p.durationNs));
      profilesAppender.appendDouble(p.total);
      profilesAppender.appendInteger(p.stackIds.length);
      profilesAppender.endRow();
    }
    for (const a of samples.values()) a.closeSync();
    profilesAppender.closeSync();
    await conn.run('COMMIT');
  } catch (e) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw e;
  }

  ctx.stackKeys.remember(keyOf);
  for (const s of newSeries) registry.add(s);
  for (const p of batch.profiles) {
    const s = seriesOf(p.seriesId);
    if (p.timeMs < s.firstMs) s.firstMs = p.timeMs;
    if (p.timeMs > s.lastMs) s.lastMs = p.timeMs;
    ctx.days.add(dayOf(p.timeMs));
  }
}
