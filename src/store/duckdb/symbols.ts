import type { DuckDBConnection, DuckDBType, DuckDBVector } from '@duckdb/node-api';
import { BIGINT, INTEGER, LIST, UBIGINT, VARCHAR, listValue } from '@duckdb/node-api';
import type { Id } from '../../model/index.js';
import type { CommitBatch, StoredFunction, StoredLocation, StoredMapping, StoredStack, SymbolKind } from '../engine.js';
import type { EventLoopSlices } from '../event-loop-slices.js';
import { IdKeyTable } from '../id-key-table.js';
import { ColumnChunks } from './column-chunks.js';
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
 *
 * Looked up once per sample row, so without bigints: rows carry their stack ids in BigUint64Arrays,
 * read here as pairs of 32-bit words into an open-addressing table. A Map keyed by bigint cost a
 * bigint allocation and a hash per row, twice (assign, then append).
 */
export class StackKeys {
  private constructor(
    private table: IdKeyTable,
    private complete: boolean,
    private readonly capacity: number,
    private nextKey: number,
  ) {}

  static async load(conn: DuckDBConnection, capacity: number): Promise<StackKeys> {
    const r = await conn.runAndReadAll('SELECT count(*), coalesce(max(stack_key), 0) FROM stacks');
    const [count, maxKey] = r.getRows()[0]!;
    const fits = num(count!) <= capacity;
    const table = new IdKeyTable();
    if (fits) for (const [id, key] of (await conn.runAndReadAll('SELECT stack_id, stack_key FROM stacks')).getRows()) table.setId(big(id!), num(key!));
    return new StackKeys(table, fits, capacity, num(maxKey!) + 1);
  }

  /**
   * Keys for every stack the batch names: `rowKeys[p][i]` for row i of profile p; new stacks
   * (`fresh`, id → key) get new keys; known ones come from memory or, once memory is incomplete,
   * from the table.
   */
  async assign(conn: DuckDBConnection, batch: CommitBatch, slices: EventLoopSlices): Promise<AssignedKeys> {
    const table = this.table;
    const rowKeys: Int32Array[] = [];
    // Rows whose stack memory does not know: profile, row (rare once a service's stacks are stored).
    const missing: number[] = [];
    const unknown = new Map<Id, number>();
    for (let n = 0; n < batch.profiles.length; n++) {
      const p = batch.profiles[n]!;
      const words = new Uint32Array(p.stackIds.buffer, p.stackIds.byteOffset, p.stackIds.length * 2);
      const keys = new Int32Array(p.stackIds.length);
      for (let i = 0; i < keys.length; i++) {
        const k = table.get(words[2 * i]!, words[2 * i + 1]!);
        keys[i] = k;
        if (k < 0) {
          missing.push(n, i);
          unknown.set(p.stackIds[i]!, -1);
          const turn = slices.pause();
          if (turn) await turn;
        }
      }
      rowKeys.push(keys);
    }
    for (const s of batch.stacks) {
      if (table.getId(s.id) < 0) unknown.set(s.id, -1);
      const turn = slices.pause();
      if (turn) await turn;
    }

    const learned = new Map<Id, number>();
    if (unknown.size > 0 && !this.complete) {
      for (const [id, key] of await selectByIds(conn, 'stacks', 'stack_id', 'stack_id, stack_key', [...unknown.keys()])) {
        learned.set(big(id!), num(key!));
        unknown.delete(big(id!));
      }
    }
    const fresh = new Map<Id, number>();
    for (const id of unknown.keys()) {
      fresh.set(id, this.nextKey);
      learned.set(id, this.nextKey++);
      const turn = slices.pause();
      if (turn) await turn;
    }
    for (let j = 0; j < missing.length; j += 2) {
      const p = missing[j]!;
      const i = missing[j + 1]!;
      rowKeys[p]![i] = learned.get(batch.profiles[p]!.stackIds[i]!)!;
      const turn = slices.pause();
      if (turn) await turn;
    }
    return { rowKeys, fresh, learned };
  }

  /** After COMMIT only: the keys of this batch are stored. */
  async remember(assigned: AssignedKeys, slices: EventLoopSlices): Promise<void> {
    for (const [id, key] of assigned.learned) {
      const turn = slices.pause();
      if (turn) await turn;
      if (this.table.size >= this.capacity) {
        // Forget everything (a miss then costs one lookup in the table), as KnownIds does.
        this.table = new IdKeyTable();
        this.complete = false;
      }
      this.table.setId(id, key);
    }
  }
}

export interface AssignedKeys {
  /** Per profile of the batch, the stack key of each row. */
  readonly rowKeys: readonly Int32Array[];
  /** Stacks new to the table, with the keys they get. */
  readonly fresh: ReadonlyMap<Id, number>;
  /** Every key this batch looked up in the table or handed out (memory learns them after COMMIT). */
  readonly learned: ReadonlyMap<Id, number>;
}

/**
 * Appends the batch's symbols (the write path sends only those not stored yet: this engine's file has
 * one writer) in column chunks, as samples are; stacks go with their keys. List columns too: a list
 * item in a chunk is a plain JavaScript list whose elements are copied into the child vector at the
 * chunk's flush, while the appender's `appendList` made a native value per element (≈ 13 µs each: a
 * 25-frame stack cost ≈ 0.3 ms, and the symbols of a 3-hour store-ingest bench 18 % of its write CPU).
 */
export async function appendSymbols(conn: DuckDBConnection, batch: CommitBatch, stackKeys: AssignedKeys, slices: EventLoopSlices): Promise<void> {
  await appendChunks(conn, 'mappings', MAPPING_COLUMNS, batch.mappings, slices, (v, r, m) => {
    v[0]!.setItem(r, m.id);
    v[1]!.setItem(r, m.binary);
    v[2]!.setItem(r, m.buildId);
  });
  await appendChunks(conn, 'functions', FUNCTION_COLUMNS, batch.functions, slices, (v, r, f) => {
    v[0]!.setItem(r, f.id);
    v[1]!.setItem(r, f.name);
    v[2]!.setItem(r, f.systemName);
    v[3]!.setItem(r, f.file);
  });
  await appendChunks(conn, 'locations', LOCATION_COLUMNS, batch.locations, slices, (v, r, l) => {
    v[0]!.setItem(r, l.id);
    v[1]!.setItem(r, l.mappingId);
    v[2]!.setItem(r, l.address);
    v[3]!.setItem(r, listValue(l.functionIds as Id[]));
    v[4]!.setItem(r, listValue(l.lines.map((n) => BigInt(n))));
  });
  const fresh = batch.stacks.filter((s) => stackKeys.fresh.has(s.id));
  await appendChunks(conn, 'stacks', STACK_COLUMNS, fresh, slices, (v, r, s) => {
    v[0]!.setItem(r, stackKeys.fresh.get(s.id)!);
    v[1]!.setItem(r, s.id);
    v[2]!.setItem(r, listValue(s.locationIds as Id[]));
  });
}

/** Column types of the symbol tables, in table order (see schema.ts). */
const MAPPING_COLUMNS = [UBIGINT, VARCHAR, VARCHAR];
const FUNCTION_COLUMNS = [UBIGINT, VARCHAR, VARCHAR, VARCHAR];
const LOCATION_COLUMNS = [UBIGINT, UBIGINT, UBIGINT, LIST(UBIGINT), LIST(BIGINT)];
const STACK_COLUMNS = [INTEGER, UBIGINT, LIST(UBIGINT)];

/**
 * One appender per table per commit, inside the caller's transaction. A large batch (100 000 new
 * stacks) yields to the event loop between chunks; the transaction stays open meanwhile, and only this
 * engine's one writer uses it.
 */
async function appendChunks<T>(
  conn: DuckDBConnection,
  table: string,
  types: readonly DuckDBType[],
  rows: readonly T[],
  slices: EventLoopSlices,
  setRow: (vectors: readonly DuckDBVector[], row: number, value: T) => void,
): Promise<void> {
  if (rows.length === 0) return;
  const chunks = new ColumnChunks(await conn.createAppender(table), types, rows.length);
  for (const row of rows) {
    const turn = chunks.flushIfFull(slices);
    if (turn) await turn;
    setRow(chunks.vectors, chunks.nextRow(), row);
  }
  chunks.close();
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
