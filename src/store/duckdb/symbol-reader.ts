import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { FunctionInfo, Id, Mapping } from '../../model/index.js';
import { emptyDictionary } from '../../model/index.js';
import type { ResolvedStacks } from '../store.js';
import { BoundedCache } from './bounded-cache.js';
import { big, items, num, selectByIds, str } from './sql.js';

const CACHE_CAPACITY = 200_000;

interface StoredLocation {
  readonly mapping: Id | null;
  readonly address: bigint;
  readonly functions: readonly Id[];
  readonly lines: readonly number[];
}

/**
 * Symbols for exactly the stacks a query kept. Content ids never change meaning, so every level
 * (stack, location, function, mapping) is cached by id and only misses reach the database.
 */
export class SymbolReader {
  private readonly stacks = new BoundedCache<Id, readonly Id[]>(CACHE_CAPACITY);
  private readonly locations = new BoundedCache<Id, StoredLocation>(CACHE_CAPACITY);
  private readonly functions = new BoundedCache<Id, FunctionInfo>(CACHE_CAPACITY);
  private readonly mappings = new BoundedCache<Id, Mapping>(CACHE_CAPACITY);

  async resolve(conn: DuckDBConnection, stackIds: readonly Id[]): Promise<ResolvedStacks> {
    const stacks = await this.fill(conn, this.stacks, unique(stackIds), 'stacks', 'stack_id', 'stack_id, location_ids', (row) =>
      items(row[1]!).map(big),
    );
    const locIds = new Set<Id>();
    for (const locs of stacks.values()) for (const l of locs) locIds.add(l);
    const locations = await this.fill(
      conn,
      this.locations,
      [...locIds],
      'locations',
      'location_id',
      'location_id, mapping_id, address, function_ids, line_numbers',
      (row) => ({
        mapping: row[1] === null ? null : big(row[1]!),
        address: big(row[2]!),
        functions: items(row[3]!).map(big),
        lines: items(row[4]!).map(num),
      }),
    );
    const fnIds = new Set<Id>();
    const mapIds = new Set<Id>();
    for (const l of locations.values()) {
      for (const f of l.functions) fnIds.add(f);
      if (l.mapping !== null) mapIds.add(l.mapping);
    }
    const functions = await this.fill(conn, this.functions, [...fnIds], 'functions', 'function_id', 'function_id, name, system_name, file', (row) => ({
      name: str(row[1]!),
      systemName: str(row[2]!),
      file: str(row[3]!),
    }));
    const mappings = await this.fill(conn, this.mappings, [...mapIds], 'mappings', 'mapping_id', 'mapping_id, binary_name, build_id', (row) => ({
      binary: str(row[1]!),
      buildId: str(row[2]!),
    }));

    // Entries are unique by content id already, so the dictionary is indexed by id (cheap bigint
    // lookups) rather than rebuilt through DictionaryBuilder's string keys.
    const dict = emptyDictionary();
    const fnIndex = new Map<Id, number>();
    const mapIndex = new Map<Id, number>();
    const locIndex = new Map<Id, number>();
    const functionIndex = (fid: Id): number => {
      let i = fnIndex.get(fid);
      if (i === undefined) fnIndex.set(fid, (i = dict.functions.push(functions.get(fid)!) - 1));
      return i;
    };
    const mappingIndex = (mid: Id | null): number => {
      const m = mid === null ? undefined : mappings.get(mid);
      if (mid === null || m === undefined) return -1;
      let i = mapIndex.get(mid);
      if (i === undefined) mapIndex.set(mid, (i = dict.mappings.push(m) - 1));
      return i;
    };
    const locationIndex = (lid: Id): number => {
      let i = locIndex.get(lid);
      if (i === undefined) {
        const l = locations.get(lid)!;
        const lines = l.functions.map((fid, k) => ({ function: functionIndex(fid), line: l.lines[k] ?? 0 }));
        i = dict.locations.push({ mapping: mappingIndex(l.mapping), address: l.address, lines }) - 1;
        locIndex.set(lid, i);
      }
      return i;
    };
    const out = new Map<Id, number>();
    for (const [sid, locs] of stacks) out.set(sid, dict.stacks.push(locs.map(locationIndex)) - 1);
    return { dict, stacks: out };
  }

  /** Entries for `ids` from the cache, the misses from `table`; ids the table lacks are left out. */
  private async fill<T>(
    conn: DuckDBConnection,
    cache: BoundedCache<Id, T>,
    ids: readonly Id[],
    table: string,
    idColumn: string,
    columns: string,
    decode: (row: readonly DuckDBValue[]) => T,
  ): Promise<Map<Id, T>> {
    const out = new Map<Id, T>();
    const missing: Id[] = [];
    for (const id of ids) {
      const v = cache.get(id);
      if (v === undefined) missing.push(id);
      else out.set(id, v);
    }
    for (const row of await selectByIds(conn, table, idColumn, columns, missing)) {
      const id = big(row[0]!);
      const v = decode(row);
      cache.set(id, v);
      out.set(id, v);
    }
    return out;
  }
}

function unique(ids: readonly Id[]): Id[] {
  return [...new Set(ids)];
}
