import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { BIGINT, LIST, UBIGINT, listValue } from '@duckdb/node-api';
import type { Id } from '../../model/index.js';
import type { CommitBatch, StoredFunction, StoredLocation, StoredMapping, StoredStack, SymbolKind } from '../engine.js';
import { KnownIds } from '../known-ids.js';
import { big, items, num, selectByIds, str } from './sql.js';

/** Table and id column of each symbol kind. */
export const SYMBOL_TABLES: Record<SymbolKind, { table: string; id: string }> = {
  stacks: { table: 'stacks', id: 'stack_id' },
  locations: { table: 'locations', id: 'location_id' },
  functions: { table: 'functions', id: 'function_id' },
  mappings: { table: 'mappings', id: 'mapping_id' },
};

/**
 * Stack id → this engine's stack key (the small integer samples carry). Kept in memory up to a bound
 * (complete while it fits: a miss then proves the stack is new); past it, misses ask the table.
 */
export class StackKeys {
  private constructor(
    private readonly keys: KnownIds<number>,
    private nextKey: number,
  ) {}

  static async load(conn: DuckDBConnection, capacity: number): Promise<StackKeys> {
    const r = await conn.runAndReadAll('SELECT count(*), coalesce(max(stack_key), 0) FROM stacks');
    const [count, maxKey] = r.getRows()[0]!;
    const fits = num(count!) <= capacity;
    const keys = new KnownIds<number>(capacity, fits);
    if (fits) for (const [id, key] of (await conn.runAndReadAll('SELECT stack_id, stack_key FROM stacks')).getRows()) keys.set(big(id!), num(key!));
    return new StackKeys(keys, num(maxKey!) + 1);
  }

  /**
   * Keys for every stack the batch names: new stacks (`fresh`) get new keys, known ones come from memory or, once memory is incomplete, from the table.
   */
  async assign(conn: DuckDBConnection, batch: CommitBatch): Promise<{ keyOf: Map<Id, number>; fresh: Set<Id> }> {
    const keyOf = new Map<Id, number>();
    const unknown = new Set<Id>();
    const see = (id: Id) => {
      if (keyOf.has(id)) return;
      const k = this.keys.get(id);
      if (k !== undefined) keyOf.set(id, k);
      else unknown.add(id);
    };
    for (const p of batch.profiles) for (const id of p.stackIds) see(id);
    for (const s of batch.stacks) see(s.id);
    if (unknown.size > 0 && !this.keys.isComplete) {
      for (const [id, key] of await selectByIds(conn, 'stacks', 'stack_id', 'stack_id, stack_key', [...unknown])) {
        keyOf.set(big(id!), num(key!));
        unknown.delete(big(id!));
      }
    }
    for (const id of unknown) keyOf.set(id, this.nextKey++);
    return { keyOf, fresh: unknown };
  }

  /** After COMMIT only: the keys of this batch are stored. */
  remember(keyOf: Map<Id, number>): void {
    for (const [id, key] of keyOf) this.keys.set(id, key);
  }
}

/**
 * Appends the batch's symbols (the write path sends only those not stored yet: this engine's file has
 * one writer). Stacks go with their keys.
 */
export async function appendSymbols(conn: DuckDBConnection, batch: CommitBatch, stackKeys: { keyOf: Map<Id, number>; fresh: Set<Id> }): Promise<void> {
  await appendAll(conn, 'mappings', batch.mappings, (a, m) => {
    a.appendUBigInt(m.id);
    a.appendVarchar(m.binary);
    a.appendVarchar(m.buildId);
  });
  await appendAll(conn, 'functions', batch.functions, (a, f) => {
    a.appendUBigInt(f.id);
    a.appendVarchar(f.name);
    a.appendVarchar(f.systemName);
    a.appendVarchar(f.file);
  });
  await appendAll(conn, 'locations', batch.locations, (a, l) => {
    a.appendUBigInt(l.id);
    if (l.mappingId !== null) a.appendUBigInt(l.mappingId);
    else a.appendNull();
    a.appendUBigInt(l.address);
    a.appendList(listValue(l.functionIds as Id[]), LIST(UBIGINT));
    a.appendList(listValue(l.lines.map((n) => BigInt(n))), LIST(BIGINT));
  });
  await appendAll(conn, 'stacks', batch.stacks.filter((s) => stackKeys.fresh.has(s.id)), (a, s) => {
    a.appendInteger(stackKeys.keyOf.get(s.id)!);
    a.appendUBigInt(s.id);
    a.appendList(listValue(s.locationIds as Id[]), LIST(UBIGINT));
  });
}

/** One appender per table per commit: rows go in as a batch, inside the caller's transaction. */
async function appendAll<T>(conn: DuckDBConnection, table: string, rows: readonly T[], appendRow: (a: DuckDBAppender, row: T) => void): Promise<void> {
  if (rows.length === 0) return;
  const a = await conn.createAppender(table);
  for (const row of rows) {
    appendRow(a, row);
    a.endRow();
  }
  a.closeSync();
}

export async function fetchSymbolRows(
  conn: DuckDBConnection,
  kind: SymbolKind,
  ids: readonly Id[],
): Promise<StoredStack[] | StoredLocation[] | StoredFunction[] | StoredMapping[]> {
  switch (kind) {
    case 'stacks':
      return (await selectByIds(conn, 'stacks', 'stack_id', 'stack_id, location_ids', ids)).map((r) => ({ id: big(r[0]!), locationIds: items(r[1]!).map(big) }));
    case 'locations':
      return (await selectByIds(conn, 'locations', 'location_id', 'location_id, mapping_id, address, function_ids, line_numbers', ids)).map((r) => ({
        id: big(r[0]!),
        mappingId: r[1] === null ? null : big(r[1]!),
        address: big(r[2]!),
        functionIds: items(r[3]!).map(big),
        lines: items(r[4]!).map(num),
      }));
    case 'functions':
      return (await selectByIds(conn, 'functions', 'function_id', 'function_id, name, system_name, file', ids)).map((r) => ({
        id: big(r[0]!),
        name: str(r[1]!),
        systemName: str(r[2]!),
        file: str(r[3]!),
      }));
    case 'mappings':
      return (await selectByIds(conn, 'mappings', 'mapping_id', 'mapping_id, binary_name, build_id', ids)).map((r) => ({
        id: big(r[0]!),
        binary: str(r[1]!),
        buildId: str(r[2]!),
      }));
  }
}
