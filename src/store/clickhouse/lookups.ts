import type { Id } from '../../model/index.js';
import type { ProfileLookupHint, StoredFunction, StoredLocation, StoredMapping, StoredStack, SymbolKind } from '../engine.js';
import type { Reader } from './read.js';
import { DAY_MS } from './schema.js';
import { chunks, idList, quote, timeWithin } from './sql.js';

/**
 * Lookups by content id: symbols for the stacks that survived a merge, and which ids are already
 * stored (replay detection, symbol novelty). Ids go as IN lists, in chunks, against tables ordered by
 * that id; ReplacingMergeTree may still hold a repeat of a row until it merges, so rows are deduplicated here.
 */

const IDS_PER_QUERY = 20_000;

const ID_COLUMN: Record<SymbolKind, string> = {
  stacks: 'stack_id',
  locations: 'location_id',
  functions: 'function_id',
  mappings: 'mapping_id',
};

async function byIdChunks<R extends { id: string }, T>(
  r: Reader,
  ids: readonly Id[],
  sql: (list: string) => string,
  convert: (row: R) => T,
  signal?: AbortSignal,
): Promise<T[]> {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const part of chunks([...new Set(ids)], IDS_PER_QUERY)) {
    for (const row of await r.conn.query<R>(sql(idList(part)), signal)) {
      if (seen.has(row.id)) continue;
      seen.add(row.id);
      out.push(convert(row));
    }
  }
  return out;
}

export function fetchStacks(r: Reader, ids: readonly Id[], signal?: AbortSignal): Promise<StoredStack[]> {
  return byIdChunks<{ id: string; location_ids: string[] }, StoredStack>(
    r,
    ids,
    (list) => `SELECT toString(stack_id) AS id, location_ids FROM ${r.layout.table('stacks')} WHERE stack_id IN (${list})`,
    (row) => ({ id: BigInt(row.id), locationIds: row.location_ids.map(BigInt) }),
    signal,
  );
}

export function fetchLocations(r: Reader, ids: readonly Id[], signal?: AbortSignal): Promise<StoredLocation[]> {
  return byIdChunks<{ id: string; mapping_id: string | null; address: string; function_ids: string[]; lines: string[] }, StoredLocation>(
    r,
    ids,
    (list) =>
      `SELECT toString(location_id) AS id, mapping_id, address, function_ids, lines FROM ${r.layout.table('locations')} WHERE location_id IN (${list})`,
    (row) => ({
      id: BigInt(row.id),
      mappingId: row.mapping_id === null ? null : BigInt(row.mapping_id),
      address: BigInt(row.address),
      functionIds: row.function_ids.map(BigInt),
      lines: row.lines.map(Number),
    }),
    signal,
  );
}

export function fetchFunctions(r: Reader, ids: readonly Id[], signal?: AbortSignal): Promise<StoredFunction[]> {
  return byIdChunks<{ id: string; name: string; system_name: string; file: string }, StoredFunction>(
    r,
    ids,
    (list) => `SELECT toString(function_id) AS id, name, system_name, file FROM ${r.layout.table('functions')} WHERE function_id IN (${list})`,
    (row) => ({ id: BigInt(row.id), name: row.name, systemName: row.system_name, file: row.file }),
    signal,
  );
}

export function fetchMappings(r: Reader, ids: readonly Id[], signal?: AbortSignal): Promise<StoredMapping[]> {
  return byIdChunks<{ id: string; binary: string; build_id: string }, StoredMapping>(
    r,
    ids,
    (list) => `SELECT toString(mapping_id) AS id, binary, build_id FROM ${r.layout.table('mappings')} WHERE mapping_id IN (${list})`,
    (row) => ({ id: BigInt(row.id), binary: row.binary, buildId: row.build_id }),
    signal,
  );
}

/** Which of these symbol ids are stored. */
export async function storedSymbols(r: Reader, kind: SymbolKind, ids: readonly Id[]): Promise<Set<Id>> {
  const col = ID_COLUMN[kind];
  const rows = await byIdChunks<{ id: string }, Id>(
    r,
    ids,
    (list) => `SELECT DISTINCT toString(${col}) AS id FROM ${r.layout.table(kind)} WHERE ${col} IN (${list})`,
    (row) => BigInt(row.id),
  );
  return new Set(rows);
}

/**
 * Which of these profile ids are stored, every one with a time in [fromMs, toMs] (so only those hours
 * are read) and, when `where` says so, of these tenants and series (the profiles key's next columns).
 */
export async function storedProfiles(r: Reader, ids: readonly Id[], fromMs: number, toMs: number, where?: ProfileLookupHint): Promise<Set<Id>> {
  const narrow = where && where.tenants.length > 0 && where.seriesIds.length > 0 && where.seriesIds.length <= IDS_PER_QUERY
    ? ` AND tenant IN (${where.tenants.map(quote).join(', ')}) AND series_id IN (${idList(where.seriesIds)})`
    : '';
  const rows = await byIdChunks<{ id: string }, Id>(
    r,
    ids,
    (list) =>
      `SELECT DISTINCT toString(profile_id) AS id FROM ${r.layout.table('profiles')}
       WHERE ${timeWithin(Math.floor(fromMs), Math.ceil(toMs) + 1)}${narrow} AND profile_id IN (${list})`,
    (row) => BigInt(row.id),
  );
  return new Set(rows);
}

/**
 * Profiles within `windowMs` of the newest one. The newest day comes from the daily rollup (one row
 * per series and day), so only that day's raw rows are read to find the newest time.
 */
export async function recentProfiles(r: Reader, windowMs: number): Promise<{ ids: { id: Id; timeMs: number }[]; floorMs: number }> {
  const [days] = await r.conn.query<{ n: string; day: string }>(`SELECT count() AS n, max(day) AS day FROM ${r.layout.table('profiles_1d')}`);
  if (!days || Number(days.n) === 0) return { ids: [], floorMs: -Infinity };
  const [newest] = await r.conn.query<{ t: string }>(
    `SELECT max(time_ms) AS t FROM ${r.layout.table('profiles')} WHERE ${timeWithin(Number(days.day) * DAY_MS, (Number(days.day) + 1) * DAY_MS)}`,
  );
  const newestMs = Number(newest?.t ?? 0) || Number(days.day) * DAY_MS;
  const floorMs = newestMs - windowMs;
  const rows = await r.conn.query<{ id: string; t: string }>(
    `SELECT toString(profile_id) AS id, time_ms AS t FROM ${r.layout.table('profiles')} WHERE ${timeWithin(floorMs, newestMs + 1)}`,
  );
  return { ids: rows.map((row) => ({ id: BigInt(row.id), timeMs: Number(row.t) })), floorMs };
}
