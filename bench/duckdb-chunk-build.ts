/**
 * What a commit's samples chunk costs to build, against taking one kept from the commit before
 * (src/store/duckdb/column-chunks.ts, ChunkPool): each iteration creates an appender on a samples-like
 * table, appends a commit-sized batch of rows (one full chunk and a partial one) and closes it, with a new
 * chunk or a pooled one. Rounds alternate the two; CPU time of this process (DuckDB runs appends in the
 * calling thread), so report it with the host's load.
 *
 *   npx tsx bench/duckdb-chunk-build.ts [iterations=300] [rows=5600]
 */
import os from 'node:os';
import { BIGINT, DOUBLE, DuckDBInstance, INTEGER } from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import { ChunkPool, ColumnChunks } from '../src/store/duckdb/column-chunks.js';

const iterations = Number(process.argv[2] ?? 300);
const rows = Number(process.argv[3] ?? 5600);
const TYPES: readonly DuckDBType[] = [INTEGER, BIGINT, INTEGER, DOUBLE, DOUBLE];

const db = await DuckDBInstance.create(':memory:');
const conn: DuckDBConnection = await db.connect();
await conn.run('CREATE TABLE samples (series_key INTEGER, time_ms BIGINT, stack_key INTEGER, value DOUBLE, scale DOUBLE)');

async function commitLike(columns: readonly DuckDBType[] | ChunkPool): Promise<void> {
  const chunks = new ColumnChunks(await conn.createAppender('samples'), columns);
  const [series, time, stack, value, scale] = chunks.vectors;
  for (let i = 0; i < rows; i++) {
    const r = chunks.nextRow();
    series!.setItem(r, 7);
    time!.setItem(r, 1_700_000_000_000n);
    stack!.setItem(r, i);
    value!.setItem(r, i * 10);
    scale!.setItem(r, 1);
  }
  chunks.close();
}

async function round(columns: readonly DuckDBType[] | ChunkPool): Promise<number> {
  const t0 = process.cpuUsage();
  for (let i = 0; i < iterations; i++) await commitLike(columns);
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / iterations;
}

const pool = new ChunkPool(TYPES);
const fresh: number[] = [];
const pooled: number[] = [];
await round(TYPES); // warm-up
await round(pool);
for (let k = 0; k < 5; k++) {
  if (k % 2 === 0) {
    fresh.push(await round(TYPES));
    pooled.push(await round(pool));
  } else {
    pooled.push(await round(pool));
    fresh.push(await round(TYPES));
  }
  await conn.run('DELETE FROM samples');
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const show = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
console.log(`${rows} rows per commit, ${iterations} commits a round, 5 rounds each, CPU µs per commit`);
console.log(`  new chunk each commit: median ${median(fresh).toFixed(0)} (${show(fresh)})`);
console.log(`  chunk from the pool:   median ${median(pooled).toFixed(0)} (${show(pooled)})`);
console.log(`  load avg ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
