/**
 * What a DuckDB commit of agent pushes costs, part by part, with the calls the engine makes
 * (src/store/duckdb/write.ts): statements on the connection, an appender per table, 2 048-row column
 * chunks, COMMIT. CPU is the whole process's (the main thread, libuv's pool threads that run each
 * statement, DuckDB's own), per transaction, over ROUNDS transactions after a warm-up.
 *
 *   npx tsx bench/duckdb-commit.ts [rounds=300] [memory]
 *
 * `memory`: an in-memory database (no write-ahead log, no fsync), to tell the log's share apart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import { BIGINT, DOUBLE, DuckDBInstance, INTEGER, UBIGINT } from '@duckdb/node-api';
import { ColumnChunks } from '../src/store/duckdb/column-chunks.js';
import { createDayTableSql, createSchema, dayTableName } from '../src/store/duckdb/schema.js';

const rounds = Number(process.argv[2] ?? 300);
const inMemory = process.argv[3] === 'memory';
const ROWS_PER_PUSH = 795; // an agent-sized CPU profile (bench/store-data.ts)
const SAMPLE_COLUMNS: readonly DuckDBType[] = [INTEGER, BIGINT, INTEGER, DOUBLE, DOUBLE];
const PROFILE_COLUMNS: readonly DuckDBType[] = [UBIGINT, INTEGER, BIGINT, BIGINT, DOUBLE, INTEGER];
const day = Math.floor(Date.UTC(2026, 0, 20) / 86_400_000);

const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-bench-commit-'));
const instance = await DuckDBInstance.create(inMemory ? ':memory:' : path.join(dir, 'kiln.duckdb'), { threads: '1' });
const conn = await instance.connect();
await createSchema(conn);
await conn.run(createDayTableSql(day));
let time = 1n;

/** `pushes` profiles' sample rows and profile rows, as commitBatch appends them. */
async function appendPushes(c: DuckDBConnection, pushes: number): Promise<void> {
  const samples = new ColumnChunks(await c.createAppender(dayTableName(day)), SAMPLE_COLUMNS);
  const profiles = new ColumnChunks(await c.createAppender('profiles'), PROFILE_COLUMNS);
  const [series, t, stack, value, scale] = samples.vectors;
  for (let p = 0; p < pushes; p++, time++) {
    for (let i = 0; i < ROWS_PER_PUSH; i++) {
      const r = samples.nextRow();
      series!.setItem(r, p);
      t!.setItem(r, time);
      stack!.setItem(r, i);
      value!.setItem(r, 1 + (i % 7));
      scale!.setItem(r, 52_631_578);
    }
    const r = profiles.nextRow();
    const v = profiles.vectors;
    v[0]!.setItem(r, time);
    v[1]!.setItem(r, p);
    v[2]!.setItem(r, time);
    v[3]!.setItem(r, 10_000_000_000n);
    v[4]!.setItem(r, ROWS_PER_PUSH);
    v[5]!.setItem(r, ROWS_PER_PUSH);
  }
  samples.close();
  profiles.close();
}

const parts: [string, () => Promise<void>][] = [
  ['one statement (SELECT 1)', () => conn.run('SELECT 1').then(() => undefined)],
  ['BEGIN + COMMIT, nothing written', async () => {
    await conn.run('BEGIN TRANSACTION');
    await conn.run('COMMIT');
  }],
  ['createAppender + close, no rows, no transaction', async () => (await conn.createAppender('profiles')).closeSync()],
  ['1 sample row, ROLLBACK', async () => {
    await conn.run('BEGIN TRANSACTION');
    const a = await conn.createAppender(dayTableName(day));
    a.appendInteger(0);
    a.appendBigInt(time);
    a.appendInteger(0);
    a.appendDouble(1);
    a.appendDouble(1);
    a.endRow();
    a.closeSync();
    await conn.run('ROLLBACK');
  }],
  ['1 push (795 rows + profile row), ROLLBACK', async () => {
    await conn.run('BEGIN TRANSACTION');
    await appendPushes(conn, 1);
    await conn.run('ROLLBACK');
  }],
  ['1 push, COMMIT', async () => {
    await conn.run('BEGIN TRANSACTION');
    await appendPushes(conn, 1);
    await conn.run('COMMIT');
  }],
  ['8 pushes (6 360 rows), COMMIT', async () => {
    await conn.run('BEGIN TRANSACTION');
    await appendPushes(conn, 8);
    await conn.run('COMMIT');
  }],
  // What a push costs once the commit's fixed part is shared (the write path's group commit gathers
  // up to 16 384 rows: DEFAULT_COMMIT_PACING in src/store/engine.ts).
  ['16 pushes (12 720 rows), COMMIT', async () => {
    await conn.run('BEGIN TRANSACTION');
    await appendPushes(conn, 16);
    await conn.run('COMMIT');
  }],
];

console.log(`${inMemory ? 'in-memory' : 'file'} database, ${rounds} transactions per line, ms of process CPU (all threads) and wall per transaction`);
try {
  for (const [label, run] of parts) {
    for (let i = 0; i < Math.min(30, rounds); i++) await run();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++) await run();
    const wall = (performance.now() - t0) / rounds;
    const cpu = process.cpuUsage(cpu0);
    console.log(`${label.padEnd(48)} ${((cpu.user + cpu.system) / 1000 / rounds).toFixed(3).padStart(7)} ms CPU ${wall.toFixed(3).padStart(8)} ms wall`);
  }
} finally {
  conn.closeSync();
  instance.closeSync();
  await rm(dir, { recursive: true, force: true });
}
console.log(`machine load avg: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
