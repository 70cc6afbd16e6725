/**
 * Query benchmark for the embedded store, over the data bench/store-ingest.ts left behind (run that
 * first with --hours 24). Reports p50/p95 of the merge a flame graph needs (mergeStacks, then
 * resolveStacks for the surviving stacks) over the last 1 h and the whole 24 h, of a time series
 * over 24 h, and the process RSS. Latency is wall clock, so note the machine's load next to it.
 *
 *   npx tsx bench/store-query.ts --dir .bench/store-24h --runs 20 --threads 2
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { CPU_TYPE, profileTypeId } from '../src/model/index.js';
import type { SeriesQuery, Store } from '../src/store/index.js';
import { DuckDBEngine, EngineStore } from '../src/store/index.js';
import { BENCH_END_MS } from './store-data.js';

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string', default: '.bench/store-24h' },
    runs: { type: 'string', default: '20' },
    threads: { type: 'string', default: '2' },
  },
});
const runs = Number(args.runs);

const engine = await DuckDBEngine.open(args.dir, { threads: Number(args.threads) });
const store = await EngineStore.open(engine);
const stats = await store.stats();
if (stats.rows === 0) throw new Error(`no data in ${args.dir}: run bench/store-ingest.ts --hours 24 first`);

const selector = { profileType: profileTypeId(CPU_TYPE), matchers: [{ name: 'service_name', op: '=' as const, value: 'checkout' }] };
const q = (hours: number): SeriesQuery => ({ tenant: 'anonymous', selector, from: BENCH_END_MS - hours * 3_600_000, to: BENCH_END_MS });

interface Timing {
  readonly first: number;
  readonly p50: number;
  readonly p95: number;
}

async function measure(fn: () => Promise<unknown>): Promise<Timing> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  const first = ms[0]!;
  const sorted = ms.slice(1).sort((a, b) => a - b);
  const at = (p: number) => +sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(1);
  return { first: +first.toFixed(1), p50: at(0.5), p95: at(0.95) };
}

async function flameGraphData(s: Store, query: SeriesQuery): Promise<number> {
  const merged = await s.mergeStacks(query);
  const resolved = await s.resolveStacks(query.tenant, merged.map((m) => m.stackId));
  return resolved.stacks.size;
}

const merged24 = await store.mergeStacks(q(24));
const out = {
  rows: stats.rows,
  series: stats.series,
  stacksIn24h: merged24.length,
  threads: Number(args.threads),
  runs,
  mergeStacks1hMs: await measure(() => store.mergeStacks(q(1))),
  mergeStacks24hMs: await measure(() => store.mergeStacks(q(24))),
  mergeAndResolve1hMs: await measure(() => flameGraphData(store, q(1))),
  mergeAndResolve24hMs: await measure(() => flameGraphData(store, q(24))),
  seriesPoints24hStep1mMs: await measure(() => store.seriesPoints({ ...q(24), stepMs: 60_000, groupBy: [], aggregation: 'sum' })),
  rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
  loadAverage: loadavg()[0]!.toFixed(1),
};
await store.close();
console.log(JSON.stringify(out, null, 2));
