import { BIGINT, DOUBLE, DuckDBInstance, INTEGER } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkPool, ColumnChunks } from '../../src/store/duckdb/column-chunks.js';

const TYPES = [INTEGER, BIGINT, DOUBLE];
let conn: DuckDBConnection;

beforeAll(async () => {
  const db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
});
afterAll(() => conn.closeSync());

/** Appends rows (batch, i, i / 2) for i in [0, count) through `chunks` into table t. */
function appendRows(chunks: ColumnChunks, batch: number, count: number): void {
  const [a, b, c] = chunks.vectors;
  for (let i = 0; i < count; i++) {
    const r = chunks.nextRow();
    a!.setItem(r, batch);
    b!.setItem(r, BigInt(i));
    c!.setItem(r, i / 2);
  }
}

async function rowsOf(batch: number): Promise<{ n: number; sum: number; sumHalf: number }> {
  const reader = await conn.runAndReadAll(`SELECT count(*)::INTEGER, coalesce(sum(b), 0)::DOUBLE, coalesce(sum(c), 0)::DOUBLE FROM t WHERE a = ${batch}`);
  const [n, sum, sumHalf] = reader.getRows()[0]! as [number, number, number];
  return { n, sum, sumHalf };
}

const expected = (count: number) => ({ n: count, sum: (count * (count - 1)) / 2, sumHalf: (count * (count - 1)) / 4 });

describe('ColumnChunks from a ChunkPool (a chunk kept from one commit to the next)', () => {
  it('stores exactly each commit\'s rows when the chunk comes back shrunk by a partial flush, and when it is reused', async () => {
    await conn.run('CREATE TABLE t (a INTEGER, b BIGINT, c DOUBLE)');
    const pool = new ChunkPool(TYPES);
    // 100 rows: one partial flush, which sets the chunk's size to 100.
    const first = new ColumnChunks(await conn.createAppender('t'), pool);
    appendRows(first, 1, 100);
    first.close();
    // The same chunk again: 2 100 rows need one full chunk of 2 048 (not 100) and a partial one of 52.
    const second = new ColumnChunks(await conn.createAppender('t'), pool);
    expect(second.vectors[0]).toBe(first.vectors[0]);
    appendRows(second, 2, 2100);
    second.close();
    // Fewer rows than the last chunk held: nothing past them is appended.
    const third = new ColumnChunks(await conn.createAppender('t'), pool);
    appendRows(third, 3, 3);
    third.close();
    expect(await rowsOf(1)).toEqual(expected(100));
    expect(await rowsOf(2)).toEqual(expected(2100));
    expect(await rowsOf(3)).toEqual(expected(3));
  });

  it('does not hand out a chunk whose appender was never closed (a failed commit): its rows never reach a table', async () => {
    await conn.run('CREATE TABLE t2 (a INTEGER, b BIGINT, c DOUBLE)');
    const pool = new ChunkPool(TYPES);
    const failed = new ColumnChunks(await conn.createAppender('t2'), pool);
    appendRows(failed, 9, 50);
    // No close(): the commit failed before its appender closed.
    const next = new ColumnChunks(await conn.createAppender('t2'), pool);
    expect(next.vectors[0]).not.toBe(failed.vectors[0]);
    appendRows(next, 4, 7);
    next.close();
    const reader = await conn.runAndReadAll('SELECT a, count(*)::INTEGER FROM t2 GROUP BY a ORDER BY a');
    expect(reader.getRows()).toEqual([[4, 7]]);
  });
});
