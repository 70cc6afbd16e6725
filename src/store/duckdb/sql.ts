import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { LIST, UBIGINT, listValue } from '@duckdb/node-api';
import type { Id } from '../../model/index.js';

/** Small SQL helpers shared by the engine's read and write paths. */

/**
 * Rows of `table` whose `idColumn` is one of `ids`, the ids passed as one list parameter (never
 * spliced into SQL). DuckDB turns `IN (SELECT unnest(list))` into a hash join, one scan of the column.
 */
export async function selectByIds(
  conn: DuckDBConnection,
  table: string,
  idColumn: string,
  columns: string,
  ids: readonly Id[],
): Promise<DuckDBValue[][]> {
  if (ids.length === 0) return [];
  const r = await conn.runAndReadAll(
    `SELECT ${columns} FROM ${table} WHERE ${idColumn} IN (SELECT unnest($1))`,
    [listValue(ids as Id[])],
    [LIST(UBIGINT)],
  );
  return r.getRows();
}

/** A JS number from an integer or double column (DuckDB hands BIGINT/HUGEINT back as bigint). */
export function num(v: DuckDBValue): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v === null) return 0;
  throw new Error(`expected a number from DuckDB, got ${typeof v}`);
}

export function big(v: DuckDBValue): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  throw new Error(`expected a bigint from DuckDB, got ${typeof v}`);
}

export function str(v: DuckDBValue): string {
  if (typeof v === 'string') return v;
  throw new Error(`expected a string from DuckDB, got ${typeof v}`);
}

/** Items of a LIST value. */
export function items(v: DuckDBValue): readonly DuckDBValue[] {
  if (v !== null && typeof v === 'object' && 'items' in v && Array.isArray(v.items)) return v.items as DuckDBValue[];
  throw new Error('expected a LIST from DuckDB');
}

/** `a, b, c` for integers we produced ourselves (keys), safe to inline. */
export function intList(values: Iterable<number>): string {
  const out: string[] = [];
  for (const v of values) {
    if (!Number.isSafeInteger(v)) throw new Error(`not an integer key: ${v}`);
    out.push(String(v));
  }
  return out.join(', ');
}

/** Runs `fn` after every earlier call has settled: one writer at a time on the write connection. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
