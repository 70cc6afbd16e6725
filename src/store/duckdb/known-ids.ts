import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { Id } from '../../model/index.js';
import { BoundedCache } from './bounded-cache.js';
import { big, num } from './sql.js';

/**
 * The ids a table holds (with one value each, e.g. a stack's key), kept in memory up to `capacity`.
 * While the map is *complete* (loaded whole at open and never trimmed since) a miss proves an id is
 * new, so the write path asks the database nothing; once it outgrows the bound it forgets, stops
 * being complete, and misses are checked against the table. Memory stays bounded, and no duplicate
 * row is written either way.
 */
export class KnownIds<V> {
  private readonly ids: BoundedCache<Id, V>;
  private complete = true;

  constructor(readonly capacity: number) {
    this.ids = new BoundedCache(capacity);
  }

  /** Loads `column` (and the value column) of every row of `table` if they fit; else starts incomplete. */
  static async load<V>(
    conn: DuckDBConnection,
    table: string,
    columns: string,
    capacity: number,
    value: (row: readonly DuckDBValue[]) => V,
  ): Promise<KnownIds<V>> {
    const k = new KnownIds<V>(capacity);
    const n = num((await conn.runAndReadAll(`SELECT count(*) FROM ${table}`)).getRows()[0]![0]!);
    if (n > capacity) {
      k.complete = false;
      return k;
    }
    const r = await conn.runAndReadAll(`SELECT ${columns} FROM ${table}`);
    for (const row of r.getRows()) k.set(big(row[0]!), value(row));
    return k;
  }

  get(id: Id): V | undefined {
    return this.ids.get(id);
  }

  /** When true, an id `get` does not know is surely not in the table. */
  get isComplete(): boolean {
    return this.complete;
  }

  /** Only for ids that are committed to the table. */
  set(id: Id, value: V): void {
    if (this.ids.set(id, value)) this.complete = false;
  }
}
