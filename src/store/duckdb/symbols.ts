import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { BIGINT, INTEGER, LIST, UBIGINT, listValue } from '@duckdb/node-api';
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
 * one writer). Stacks go with their keys.
 */
export async function appendSymbols(conn: DuckDBConnection, batch: CommitBatch, stackKeys: AssignedKeys, slices: EventLoopSlices): Promise<void> {
  const appendAll = <T>(table: string, rows: readonly T[], appendRow: (a: DuckDBAppender, row: T) => void) => appendInSlices(conn, table, rows, appendRow, slices);
  await appendAll('mappings', batch.mappings, (a, m) => {
    a.appendUBigInt(m.id);
    a.appendVarchar(m.binary);
    a.appendVarchar(m.buildId);
  });
  await appendAll('functions', batch.functions, (a, f) => {
    a.appendUBigInt(f.id);
    a.appendVarchar(f.name);
    a.appendVarchar(f.systemName);
    a.appendVarchar(f.file);
  });
  await appendAll('locations', batch.locations, (a, l) => {
    a.appendUBigInt(l.id);
    if (l.mappingId !== null) a.appendUBigInt(l.mappingId);
    else a.appendNull();
    a.appendUBigInt(l.address);
    a.appendList(listValue(l.functionIds as Id[]), LIST(UBIGINT));
    a.appendList(listValue(l.lines.map((n) => BigInt(n))), LIST(BIGINT));
  });
  if (stackKeys.fresh.size < STAGED_STACKS) {
    await appendAll('stacks', batch.stacks.filter((s) => stackKeys.fresh.has(s.id)), (a, s) => {
      a.appendInteger(stackKeys.fresh.get(s.id)!);
      a.appendUBigInt(s.id);
      a.appendList(listValue(s.locationIds as Id[]), LIST(UBIGINT));
    });
  } else await appendStacks(conn, batch.stacks, stackKeys.fresh, slices);
}

/**
 * New stacks from which the staging table pays: below it, three more statements per commit cost more
 * than the list values they save (the usual commit of agent pushes adds tens of stacks, not thousands).
 */
const STAGED_STACKS = 4096;

/** The staging table's columns: a row per frame, and one at position -1 per stack (so a stack of no frames is kept). */
const STACK_FRAME_COLUMNS = [INTEGER, UBIGINT, INTEGER, UBIGINT];

/**
 * The batch's stacks new to this file (those `fresh` gives a key) go in as one row per frame, in column chunks (no value object built per row), into a
 * temporary table of this connection, and DuckDB assembles each stack's location list in SQL on its
 * own threads. Stored rows are the same as appending each stack with its list; inside the caller's
 * transaction, so a rollback takes the staged rows too.
 */
async function appendStacks(conn: DuckDBConnection, stacks: readonly StoredStack[], fresh: ReadonlyMap<Id, number>, slices: EventLoopSlices): Promise<void> {
  if (fresh.size === 0) return;
  await conn.run('CREATE TEMP TABLE IF NOT EXISTS stack_frames_in (stack_key INTEGER, stack_id UBIGINT, pos INTEGER, location_id UBIGINT)');
  const chunks = new ColumnChunks(await conn.createAppender('stack_frames_in', 'main', 'temp'), STACK_FRAME_COLUMNS);
  const [key, id, pos, location] = chunks.vectors;
  for (const s of stacks) {
    const k = fresh.get(s.id);
    if (k === undefined) continue;
    const frames = s.locationIds;
    for (let j = -1; j < frames.length; j++) {
      const turn = chunks.flushIfFull(slices);
      if (turn) await turn;
      const r = chunks.nextRow();
      key!.setItem(r, k);
      id!.setItem(r, s.id);
      pos!.setItem(r, j);
      location!.setItem(r, j < 0 ? 0n : frames[j]!);
    }
  }
  chunks.close();
  await conn.run(
    'INSERT INTO stacks SELECT stack_key, stack_id, coalesce(list(location_id ORDER BY pos) FILTER (WHERE pos >= 0), []::UBIGINT[]) FROM stack_frames_in GROUP BY stack_key, stack_id',
  );
  await conn.run('DELETE FROM stack_frames_in');
}

/**
 * One appender per table per commit: rows go in as a batch, inside the caller's transaction. A large
 * batch (100 000 new stacks: each list value is built in JavaScript, ~5 µs) yields to the event loop
 * between slices; the transaction stays open meanwhile, and only this engine's one writer uses it.
 */
async function appendInSlices<T>(
  conn: DuckDBConnection,
  table: string,
  rows: readonly T[],
  appendRow: (a: DuckDBAppender, row: T) => void,
  slices: EventLoopSlices,
): Promise<void> {
  if (rows.length === 0) return;
  const a = await conn.createAppender(table);
  for (const row of rows) {
    appendRow(a, row);
    a.endRow();
    const turn = slices.pause();
    if (turn) await turn;
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
