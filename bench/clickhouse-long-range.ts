/**
 * Long-range merges on ClickHouse (issue 7): the flame graph's merge (top `--limit` stacks + their
 * symbols) over 1 h, 24 h, 7 d and 30 d of one service, answered by the engine (whole days and hours
 * from the `samples_1d`/`samples_1h` rollups its materialized views fill, raw rows only at the ragged
 * edges), side by side with the anchor: the same merge as one SQL statement over the raw `samples`
 * table, which is what a store without rollups reads. p50/p95 of `--runs` runs after one warm-up.
 *
 * Starts its own clickhouse-server (Debian's package) on loopback ports and removes it afterwards.
 *
 *   npx tsx bench/clickhouse-long-range.ts --days 30 --interval-s 3600
 *
 * The interval is a bench shortcut, as in bench/store-long-range.ts: one profile per hour keeps the
 * stacks per rolled hour (what the rollup path reads) but makes the raw anchor far cheaper than real
 * 10 s profiles would be, so the ratio shown is a lower bound.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { CPU_TYPE, profileTypeId } from '../src/model/index.js';
import type { MergeQuery } from '../src/store/index.js';
import { EngineStore } from '../src/store/index.js';
import { ClickHouseEngine } from '../src/store/clickhouse/clickhouse-engine.js';
import { startClickHouse } from '../test/support/clickhouse.js';
import { latency, longRanges } from './latency.js';
import { BENCH_END_MS, DEFAULT_SHAPE, ServiceModel } from './store-data.js';

const { values: args } = parseArgs({
  options: {
    days: { type: 'string', default: '30' },
    'interval-s': { type: 'string', default: '3600' },
    runs: { type: 'string', default: '7' },
    limit: { type: 'string', default: '32768' },
  },
});
const days = Number(args.days);
const intervalMs = Number(args['interval-s']) * 1000;
const runs = Number(args.runs);
const limit = Number(args.limit);
const HOUR = 3_600_000;
const TENANT = 'anonymous';

const ch = await startClickHouse();
try {
  const engine = await ClickHouseEngine.open(ch.url);
  const store = await EngineStore.open(engine);
  const model = new ServiceModel(DEFAULT_SHAPE);
  const labels = { service_name: 'checkout', namespace: 'shop' };
  const n = Math.round((days * 24 * HOUR) / intervalMs);
  const start = BENCH_END_MS - n * intervalMs;
  const t0 = performance.now();
  for (let i = 0; i < n; i += 16) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 16); j++) batch.push(model.profile(start + j * intervalMs, labels, intervalMs));
    await store.write(TENANT, batch);
    if (i % 160 === 0) process.stderr.write(`wrote ${i}/${n} profiles (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
  const ingestSeconds = (performance.now() - t0) / 1000;
  await ch.query('OPTIMIZE TABLE kiln.samples_1h FINAL');
  await ch.query('OPTIMIZE TABLE kiln.samples_1d FINAL');

  const selector = { profileType: profileTypeId(CPU_TYPE), matchers: [{ name: 'service_name', op: '=' as const, value: 'checkout' }] };
  // Ranges end 43 min past an hour, as a "last N" range from a browser would: ragged edges on both sides.
  const end = BENCH_END_MS - 43 * 60_000;
  const q = (hours: number): MergeQuery => ({ tenant: TENANT, selector, from: end - hours * HOUR, to: end, limit });
  const [{ rows }] = await ch.query<{ rows: string }>('SELECT count() AS rows FROM kiln.samples');
  const [{ id: seriesId }] = await ch.query<{ id: string }>('SELECT toString(any(series_id)) AS id FROM kiln.samples');

    /** The engine's answer: rollups for whole days and hours, raw rows at the edges. */
  async function viaEngine(query: MergeQuery): Promise<void> {
    const merged = await store.mergeStacks(query);
    await store.resolveStacks(query.tenant, merged.map((m) => m.stackId));
  }
  /** The anchor: the same top-K merge over raw rows only, then the same symbol lookup. */
  async function rawOnly(query: MergeQuery): Promise<void> {
    const top = await ch.query<{ stack: string }>(
      `SELECT toString(stack_id) AS stack, sum(scaled * scale) AS v FROM kiln.samples
       WHERE tenant = '${TENANT}' AND series_id = ${seriesId} AND time_ms >= ${query.from} AND time_ms < ${query.to}
       GROUP BY stack_id ORDER BY v DESC LIMIT ${limit}`,
    );
    await store.resolveStacks(query.tenant, top.map((r) => BigInt(r.stack)));
  }

  const ranges = longRanges(days);
  const raw: Record<string, unknown> = {};
  const rolled: Record<string, unknown> = {};
  for (const h of ranges) {
    raw[`${h}h`] = await latency(() => rawOnly(q(h)), runs);
    rolled[`${h}h`] = await latency(() => viaEngine(q(h)), runs);
  }
  await store.close();
  console.log(
    JSON.stringify(
      {
        days,
        intervalSeconds: intervalMs / 1000,
        profiles: n,
        sampleRows: Number(rows),
        ingestSeconds: +ingestSeconds.toFixed(1),
        limit,
        runs,
        mergeAndResolveRawRowsMs: raw,
        mergeAndResolveEngineMs: rolled,
        loadAverage: loadavg()[0]!.toFixed(1),
      },
      null,
      2,
    ),
  );
} finally {
  await ch.destroy();
}
