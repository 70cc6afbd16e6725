/**
 * Long-range merges on the embedded store: writes `--days` of one service (19 Hz × 16 CPUs, one
 * profile per `--interval-s` seconds carrying that interval's samples), then measures the merge a
 * flame graph needs (mergeStacks limited to the flame graph's stack budget + resolveStacks) over
 * 1 h, 24 h, 7 d and 30 d ranges ending at the data's end — first from raw samples only (the anchor:
 * what Kiln did before hourly rollups), then with every finished hour rolled up. Wall-clock p50/p95
 * of `--runs` runs after one warm-up; note the machine's load beside them.
 *
 *   npx tsx bench/store-long-range.ts --days 30 --interval-s 60 --dir .bench/store-30d
 *   npx tsx bench/store-long-range.ts --dir .bench/store-30d --reuse      # measure an existing directory again
 *
 * `--reuse` first forgets the directory's rollups, so every run measures the raw anchor and the
 * rolled-up queries side by side again.
 *
 * The interval is a bench shortcut: a 10 s interval for 30 days is ~200 M sample rows, over an hour
 * of ingest on a 2-core machine. A 60 s interval keeps the same samples per hour (so the same rolled
 * hour sizes) with fewer, larger raw profiles; the raw anchor is then faster than it would be at 10 s.
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { CPU_TYPE, profileTypeId } from '../src/model/index.js';
import type { MergeQuery } from '../src/store/index.js';
import { DuckDBEngine, EngineStore } from '../src/store/index.js';
import { DATABASE_FILE } from '../src/store/duckdb/duckdb-engine.js';
import { latency, longRanges } from './latency.js';
import { BENCH_END_MS, DEFAULT_SHAPE, ServiceModel } from './store-data.js';

const { values: args } = parseArgs({
  options: {
    days: { type: 'string', default: '30' },
    'interval-s': { type: 'string', default: '60' },
    dir: { type: 'string', default: '.bench/store-30d' },
    runs: { type: 'string', default: '7' },
    threads: { type: 'string', default: '2' },
    reuse: { type: 'boolean', default: false },
    limit: { type: 'string', default: '32768' },
  },
});
const days = Number(args.days);
const intervalMs = Number(args['interval-s']) * 1000;
const runs = Number(args.runs);
const HOUR = 3_600_000;

if (args.reuse && existsSync(args.dir)) {
  const db = await DuckDBInstance.create(path.join(args.dir, DATABASE_FILE));
  const c = await db.connect();
  await c.run('DELETE FROM rollup_hour');
  await c.run('DELETE FROM rolled_hours');
  c.closeSync();
  db.closeSync();
} else {
  rmSync(args.dir, { recursive: true, force: true });
  const engine = await DuckDBEngine.open(args.dir, { threads: Number(args.threads), rollup: false });
  const store = await EngineStore.open(engine);
  const model = new ServiceModel(DEFAULT_SHAPE);
  const labels = { service_name: 'checkout', namespace: 'shop' };
  const n = Math.round((days * 24 * HOUR) / intervalMs);
  const start = BENCH_END_MS - n * intervalMs;
  const t0 = performance.now();
  for (let i = 0; i < n; i += 32) {
    const calls = [];
    for (let j = i; j < Math.min(n, i + 32); j++) calls.push(store.write('anonymous', [model.profile(start + j * intervalMs, labels, intervalMs)]));
    await Promise.all(calls);
    if (i % 2880 === 0) process.stderr.write(`wrote ${i}/${n} profiles (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
  await engine.checkpoint();
  await store.close();
}

const engine = await DuckDBEngine.open(args.dir, { threads: Number(args.threads), rollup: false });
const store = await EngineStore.open(engine);
const stats = await store.stats();
const selector = { profileType: profileTypeId(CPU_TYPE), matchers: [{ name: 'service_name', op: '=' as const, value: 'checkout' }] };
const limit = Number(args.limit);
// Ranges end 17 min past an hour, as a "last N" range from a browser would: ragged edges on both sides.
const end = BENCH_END_MS - 43 * 60_000;
const q = (hours: number): MergeQuery => ({ tenant: 'anonymous', selector, from: end - hours * HOUR, to: end, limit });


async function flame(query: MergeQuery): Promise<void> {
  const merged = await store.mergeStacks(query);
  await store.resolveStacks(query.tenant, merged.map((m) => m.stackId));
}

const ranges = longRanges(days);
const raw: Record<string, unknown> = {};
for (const h of ranges) raw[`${h}h`] = await latency(() => flame(q(h)), runs);
const t0 = performance.now();
let rolledHours = 0;
for (let n = 1; n > 0; ) rolledHours += n = await engine.rollUp(BENCH_END_MS + 24 * HOUR);
const rollupSeconds = +((performance.now() - t0) / 1000).toFixed(1);
await engine.checkpoint();
const rolled: Record<string, unknown> = {};
for (const h of ranges) rolled[`${h}h`] = await latency(() => flame(q(h)), runs);
const after = await store.stats();
await store.close();
console.log(
  JSON.stringify(
    {
      days,
      intervalSeconds: intervalMs / 1000,
      sampleRows: stats.rows,
      bytesOnDiskBeforeRollup: stats.bytesOnDisk,
      bytesOnDiskWithRollup: after.bytesOnDisk,
      rolledHours,
      rollupSeconds,
      limit,
      runs,
      mergeAndResolveRawOnlyMs: raw,
      mergeAndResolveWithRollupMs: rolled,
      loadAverage: loadavg()[0]!.toFixed(1),
    },
    null,
    2,
  ),
);
