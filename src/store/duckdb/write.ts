import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { BIGINT, LIST, UBIGINT, listValue } from '@duckdb/node-api';
import type { Id, Profile, SymbolDictionary } from '../../model/index.js';
import { InputError, profileTypeId, seriesId, validateLabels } from '../../model/index.js';
import type { WriteResult } from '../store.js';
import type { RecentProfiles } from './recent-profiles.js';
import type { ProfileRows } from './profile-rows.js';
import { profileContentId, profileRows } from './profile-rows.js';
import { createDayTableSql, dayOf, dayTableName } from './schema.js';
import type { SeriesRecord, SeriesRegistry } from './series-registry.js';
import { big } from './sql.js';
import type { SymbolWriter } from './symbol-writer.js';

/** Latest time the store accepts (end of year 9999): keeps day-table names four-digit years. */
const MAX_TIME_MS = 253_402_300_799_999;

export interface WriteContext {
  readonly conn: DuckDBConnection;
  readonly registry: SeriesRegistry;
  readonly symbols: SymbolWriter;
  readonly recent: RecentProfiles;
  /** Days whose samples table exists (committed). */
  readonly days: Set<number>;
}

/** One caller's `Store.write`, already checked with `checkWriteInput`. */
export interface WriteCall {
  readonly tenant: string;
  readonly profiles: readonly Profile[];
}

interface PendingProfile {
  readonly call: number;
  readonly series: SeriesRecord;
  readonly profile: Profile;
  readonly rows: ProfileRows;
  readonly id: Id;
}

/**
 * Writes several callers' profiles in one transaction (group commit: one log sync for all of them).
 * Symbols, new series, samples and profile rows commit together or not at all, and DuckDB's commit
 * syncs its write-ahead log, so a resolved promise survives a crash. Profiles already stored (same
 * content id) are skipped, which makes replays harmless. The caller serializes calls (one writer).
 */
export async function writeCalls(ctx: WriteContext, calls: readonly WriteCall[]): Promise<WriteResult[]> {
  const results = calls.map(() => ({ profiles: 0, rows: 0 }));
  const { conn, registry } = ctx;
  const prepared = await ctx.symbols.prepare(conn, calls.flatMap((c) => c.profiles.map((p) => p.dict)));

  const newSeries = new Map<Id, SeriesRecord>();
  const pending: PendingProfile[] = [];
  const seen = new Set<Id>();
  calls.forEach(({ tenant, profiles }, call) => {
    for (const p of profiles) {
      const sid = seriesId(tenant, p.type, p.labels);
      let series = registry.get(sid) ?? newSeries.get(sid);
      if (!series) {
        series = { key: registry.allocateKey(), id: sid, tenant, type: p.type, typeId: profileTypeId(p.type), labels: p.labels, firstMs: Infinity, lastMs: -Infinity };
        newSeries.set(sid, series);
      }
      const rows = profileRows(p, prepared.stackKeys.get(p.dict)!);
      if (rows.stackKeys.length === 0) continue; // nothing to add to any sum
      const id = profileContentId(sid, p, rows);
      if (seen.has(id)) continue;
      seen.add(id);
      pending.push({ call, series, profile: p, rows, id });
    }
  });
  const fresh = await withoutStored(ctx, pending);
  if (fresh.length === 0) return results; // new symbols of skipped profiles are not needed

  const usedSeries = new Set<SeriesRecord>(fresh.map((f) => f.series));
  await conn.run('BEGIN TRANSACTION');
  try {
    await prepared.append(conn);
    const seriesToAdd = [...newSeries.values()].filter((s) => usedSeries.has(s));
    if (seriesToAdd.length > 0) {
      const a = await conn.createAppender('series');
      for (const s of seriesToAdd) {
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
    for (const f of fresh) {
      const timeMs = Math.floor(f.profile.timeMs);
      const day = dayOf(timeMs);
      let a = samples.get(day);
      if (!a) {
        if (!ctx.days.has(day)) await conn.run(createDayTableSql(day));
        a = await conn.createAppender(dayTableName(day));
        samples.set(day, a);
      }
      const { stackKeys, scaled, scale } = f.rows;
      const t = BigInt(timeMs);
      for (let i = 0; i < stackKeys.length; i++) {
        a.appendInteger(f.series.key);
        a.appendBigInt(t);
        a.appendInteger(stackKeys[i]!);
        a.appendDouble(scaled[i]!);
        a.appendDouble(scale);
        a.endRow();
      }
      results[f.call]!.profiles++;
      results[f.call]!.rows += stackKeys.length;
      profilesAppender.appendUBigInt(f.id);
      profilesAppender.appendInteger(f.series.key);
      profilesAppender.appendBigInt(t);
      profilesAppender.appendBigInt(BigInt(Math.floor(f.profile.durationNs)));
      profilesAppender.appendDouble(f.rows.total);
      profilesAppender.appendInteger(stackKeys.length);
      profilesAppender.endRow();
    }
    for (const a of samples.values()) a.closeSync();
    profilesAppender.closeSync();
    await conn.run('COMMIT');
  } catch (e) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw e;
  }

  prepared.committed();
  for (const s of newSeries.values()) if (usedSeries.has(s)) registry.add(s);
  for (const f of fresh) {
    const t = Math.floor(f.profile.timeMs);
    if (t < f.series.firstMs) f.series.firstMs = t;
    if (t > f.series.lastMs) f.series.lastMs = t;
    ctx.days.add(dayOf(t));
    ctx.recent.add(f.id, t);
  }
  return results;
}

/**
 * Drops the profiles whose content id is already stored. Recent ones are decided in memory; older
 * ones with one query, where zone maps on time_ms keep the scan short.
 */
async function withoutStored(ctx: WriteContext, pending: PendingProfile[]): Promise<PendingProfile[]> {
  const ask: PendingProfile[] = [];
  const fresh: PendingProfile[] = [];
  for (const p of pending) {
    const known = ctx.recent.stored(p.id, Math.floor(p.profile.timeMs));
    if (known === undefined) ask.push(p);
    else if (!known) fresh.push(p);
  }
  if (ask.length === 0) return fresh;
  let min = Infinity;
  let max = -Infinity;
  for (const p of ask) {
    min = Math.min(min, Math.floor(p.profile.timeMs));
    max = Math.max(max, Math.floor(p.profile.timeMs));
  }
  const r = await ctx.conn.runAndReadAll(
    'SELECT profile_id FROM profiles WHERE time_ms BETWEEN $2 AND $3 AND profile_id IN (SELECT unnest($1))',
    [listValue(ask.map((p) => p.id)), BigInt(min), BigInt(max)],
    [LIST(UBIGINT), BIGINT, BIGINT],
  );
  const stored = new Set<Id>(r.getRows().map(([id]) => big(id!)));
  for (const p of ask) if (!stored.has(p.id)) fresh.push(p);
  return fresh;
}

/** Refuses the whole call, before anything is touched, when any profile could not be stored faithfully. */
export function checkWriteInput(tenant: string, profiles: readonly Profile[]): void {
  if (tenant === '') throw new InputError('tenant must not be empty');
  const checkedDicts = new Set<SymbolDictionary>();
  profiles.forEach((p, n) => {
    const where = `profile ${n}`;
    if (!Number.isFinite(p.timeMs) || p.timeMs < 0 || p.timeMs > MAX_TIME_MS) {
      throw new InputError(`${where}: time ${p.timeMs} ms is outside 1970..9999`);
    }
    if (!(p.durationNs >= 0 && p.durationNs <= Number.MAX_SAFE_INTEGER)) {
      throw new InputError(`${where}: duration ${p.durationNs} ns is not a number between 0 and ${Number.MAX_SAFE_INTEGER}`);
    }
    if (p.stacks.length !== p.values.length) {
      throw new InputError(`${where}: ${p.stacks.length} stacks but ${p.values.length} values`);
    }
    validateLabels(p.labels);
    if (!checkedDicts.has(p.dict)) {
      checkDictionary(p.dict, where);
      checkedDicts.add(p.dict);
    }
    const nStacks = p.dict.stacks.length;
    for (let i = 0; i < p.stacks.length; i++) {
      const s = p.stacks[i]!;
      if (!Number.isInteger(s) || s < 0 || s >= nStacks) throw new InputError(`${where}: sample ${i} refers to stack ${s}, dictionary has ${nStacks}`);
      if (!Number.isFinite(p.values[i]!)) throw new InputError(`${where}: sample ${i} value ${p.values[i]} is not a finite number`);
    }
  });
}

/** Every index inside the dictionary points at an entry, so ids can be computed and symbols stored. */
function checkDictionary(d: SymbolDictionary, where: string): void {
  const bad = (what: string): never => {
    throw new InputError(`${where}: dictionary ${what} is out of range`);
  };
  // Number.isInteger as well as the bounds: a fractional index passes `< length` yet names no entry.
  const isIndex = (i: number, length: number) => Number.isInteger(i) && i >= 0 && i < length;
  for (const s of d.stacks) for (const l of s) if (!isIndex(l, d.locations.length)) bad(`location ${l}`);
  for (const loc of d.locations) {
    if (loc.mapping !== -1 && !isIndex(loc.mapping, d.mappings.length)) bad(`mapping ${loc.mapping}`);
    for (const ln of loc.lines) {
      if (!isIndex(ln.function, d.functions.length)) bad(`function ${ln.function}`);
      // Ids hash the line as an integer and the column is BIGINT: anything else cannot be stored.
      if (!(Number.isInteger(ln.line) && Math.abs(ln.line) < 2 ** 63)) {
        throw new InputError(`${where}: line number ${ln.line} is not a 64-bit integer`);
      }
    }
  }
}
