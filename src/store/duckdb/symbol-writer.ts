import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { BIGINT, LIST, UBIGINT, listValue } from '@duckdb/node-api';
import type { DictionaryIds, Id, SymbolDictionary } from '../../model/index.js';
import { ContentIds } from './content-ids.js';
import { KnownIds } from './known-ids.js';
import { big, num, selectByIds } from './sql.js';

/** How many ids each "already stored" set remembers (≈ 50–80 MB at most for the four of them). */
export const KNOWN_IDS_CAPACITY = 250_000;

interface NewStack {
  readonly key: number;
  readonly id: Id;
  readonly locationIds: readonly Id[];
}

/** Symbols one write call must add, and each dictionary's stacks as engine stack keys. */
export interface PreparedSymbols {
  /** `stackKeys.get(dict)[i]` is the stack key of `dict.stacks[i]`. */
  readonly stackKeys: Map<SymbolDictionary, Int32Array>;
  /** Content ids of each dictionary, for the caller's profile ids. */
  readonly ids: Map<SymbolDictionary, DictionaryIds>;
  append(conn: DuckDBConnection): Promise<void>;
  /** Called after COMMIT: only then may the caches say these symbols are stored. */
  committed(): void;
}

/**
 * Inserts only the symbols the store does not have yet. In-memory id sets (bounded, see KnownIds)
 * answer "already stored?"; only when a set has outgrown its bound does a miss ask the database.
 */
export class SymbolWriter {
  private readonly contentIds = new ContentIds();

  private constructor(
    private nextStackKey: number,
    private readonly stackKeys: KnownIds<number>,
    private readonly knownLocations: KnownIds<true>,
    private readonly knownFunctions: KnownIds<true>,
    private readonly knownMappings: KnownIds<true>,
  ) {}

  static async open(conn: DuckDBConnection, capacity = KNOWN_IDS_CAPACITY): Promise<SymbolWriter> {
    const r = await conn.runAndReadAll('SELECT coalesce(max(stack_key), 0) FROM stacks');
    return new SymbolWriter(
      num(r.getRows()[0]![0]!) + 1,
      await KnownIds.load(conn, 'stacks', 'stack_id, stack_key', capacity, (row) => num(row[1]!)),
      await KnownIds.load(conn, 'locations', 'location_id', capacity, () => true as const),
      await KnownIds.load(conn, 'functions', 'function_id', capacity, () => true as const),
      await KnownIds.load(conn, 'mappings', 'mapping_id', capacity, () => true as const),
    );
  }

  async prepare(conn: DuckDBConnection, dicts: Iterable<SymbolDictionary>): Promise<PreparedSymbols> {
    const ids = new Map<SymbolDictionary, DictionaryIds>();
    for (const d of dicts) if (!ids.has(d)) ids.set(d, this.contentIds.of(d));

    // Stacks: cache, then database, then new keys. Keys are collected into `resolved` before the
    // cache is touched: remembering the database's answers may evict entries this call still needs.
    const resolved = new Map<Id, number>();
    const unknownStacks = new Set<Id>();
    for (const di of ids.values()) {
      for (const s of di.stacks) {
        if (resolved.has(s)) continue;
        const k = this.stackKeys.get(s);
        if (k !== undefined) resolved.set(s, k);
        else unknownStacks.add(s);
      }
    }
    const found: [Id, number][] = [];
    if (!this.stackKeys.isComplete) {
      for (const [id, key] of await selectByIds(conn, 'stacks', 'stack_id', 'stack_id, stack_key', [...unknownStacks])) {
        found.push([big(id!), num(key!)]);
        resolved.set(big(id!), num(key!));
      }
    }
    for (const [id, key] of found) this.stackKeys.set(id, key); // committed earlier: safe to remember
    const newStacks = new Map<Id, NewStack>();
    const newLocationSources = new Map<Id, { dict: SymbolDictionary; index: number }>();
    const stackKeys = new Map<SymbolDictionary, Int32Array>();
    for (const [dict, di] of ids) {
      const keys = new Int32Array(di.stacks.length);
      for (let i = 0; i < di.stacks.length; i++) {
        const sid = di.stacks[i]!;
        let key = resolved.get(sid) ?? newStacks.get(sid)?.key;
        if (key === undefined) {
          key = this.nextStackKey++;
          const locs = dict.stacks[i]!;
          newStacks.set(sid, { key, id: sid, locationIds: locs.map((l) => di.locations[l]!) });
          for (const l of locs) newLocationSources.set(di.locations[l]!, { dict, index: l });
        }
        keys[i] = key;
      }
      stackKeys.set(dict, keys);
    }

    // Locations, functions, mappings of the new stacks that are not stored yet.
    const newLocations = await this.unstored(conn, 'locations', 'location_id', this.knownLocations, newLocationSources);
    const newFunctionSources = new Map<Id, { dict: SymbolDictionary; index: number }>();
    const newMappingSources = new Map<Id, { dict: SymbolDictionary; index: number }>();
    for (const { dict, index } of newLocations.values()) {
      const di = ids.get(dict)!;
      const loc = dict.locations[index]!;
      if (loc.mapping >= 0) newMappingSources.set(di.mappings[loc.mapping]!, { dict, index: loc.mapping });
      for (const ln of loc.lines) newFunctionSources.set(di.functions[ln.function]!, { dict, index: ln.function });
    }
    const newFunctions = await this.unstored(conn, 'functions', 'function_id', this.knownFunctions, newFunctionSources);
    const newMappings = await this.unstored(conn, 'mappings', 'mapping_id', this.knownMappings, newMappingSources);

    return {
      stackKeys,
      ids,
      append: async (c) => {
        await appendAll(c, 'mappings', newMappings, (a, id, { dict, index }) => {
          const m = dict.mappings[index]!;
          a.appendUBigInt(id);
          a.appendVarchar(m.binary);
          a.appendVarchar(m.buildId);
        });
        await appendAll(c, 'functions', newFunctions, (a, id, { dict, index }) => {
          const f = dict.functions[index]!;
          a.appendUBigInt(id);
          a.appendVarchar(f.name);
          a.appendVarchar(f.systemName);
          a.appendVarchar(f.file);
        });
        await appendAll(c, 'locations', newLocations, (a, id, { dict, index }) => {
          const di = ids.get(dict)!;
          const loc = dict.locations[index]!;
          a.appendUBigInt(id);
          if (loc.mapping >= 0) a.appendUBigInt(di.mappings[loc.mapping]!);
          else a.appendNull();
          a.appendUBigInt(BigInt.asUintN(64, loc.address));
          a.appendList(listValue(loc.lines.map((l) => di.functions[l.function]!)), LIST(UBIGINT));
          a.appendList(listValue(loc.lines.map((l) => BigInt(Math.trunc(l.line)))), LIST(BIGINT));
        });
        await appendAll(c, 'stacks', newStacks, (a, id, s) => {
          a.appendInteger(s.key);
          a.appendUBigInt(id);
          a.appendList(listValue(s.locationIds as Id[]), LIST(UBIGINT));
        });
      },
      committed: () => {
        for (const s of newStacks.values()) this.stackKeys.set(s.id, s.key);
        for (const id of newLocations.keys()) this.knownLocations.set(id, true);
        for (const id of newFunctions.keys()) this.knownFunctions.set(id, true);
        for (const id of newMappings.keys()) this.knownMappings.set(id, true);
      },
    };
  }

  /** The entries of `candidates` that neither the cache nor the table has. */
  private async unstored<T>(
    conn: DuckDBConnection,
    table: string,
    idColumn: string,
    known: KnownIds<true>,
    candidates: Map<Id, T>,
  ): Promise<Map<Id, T>> {
    const out = new Map<Id, T>();
    for (const [id, v] of candidates) if (known.get(id) === undefined) out.set(id, v);
    if (known.isComplete) return out;
    for (const [id] of await selectByIds(conn, table, idColumn, idColumn, [...out.keys()])) {
      out.delete(big(id!));
      known.set(big(id!), true);
    }
    return out;
  }
}

/** One appender per table per write: rows go in as a batch, inside the caller's transaction. */
async function appendAll<T>(
  conn: DuckDBConnection,
  table: string,
  rows: ReadonlyMap<Id, T>,
  appendRow: (a: DuckDBAppender, id: Id, row: T) => void,
): Promise<void> {
  if (rows.size === 0) return;
  const a = await conn.createAppender(table);
  for (const [id, row] of rows) {
    appendRow(a, id, row);
    a.endRow();
  }
  a.closeSync();
}
