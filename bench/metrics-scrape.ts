/**
 * The cost of Kiln's function metrics (src/insight): 200 services × top 10 functions by self and by
 * total (4 200 series) on a real server with the embedded DuckDB store.
 *
 * - store cost per window: one evaluation (one grouped merge over every service for the 1 min window,
 *   one symbol lookup for the kept stacks, a top table per service, rendering) — wall and process CPU
 *   (DuckDB's threads included), the first (cold symbol cache) and the median of the rest;
 * - scrape cost: GET /metrics over HTTP — process CPU per scrape (the in-process client only counts
 *   bytes off a socket, so this is the server's cost) and bytes on the wire, median of `--runs`;
 *   plus the server's body assembly alone (`ServerMetrics.exposition()`).
 *
 *   npx tsx bench/metrics-scrape.ts --services 200 --runs 20 --windows 5
 *
 * With `--cost` (prices with a node_pool rule; half the services on spot) and `--anomaly-days N` (the
 * same profiles written at this time on each of the past N days), a second evaluator exports the cost
 * and anomaly series too; both evaluators run in turn, the plain one as the anchor, and evaluations
 * that re-read the anomaly baseline (every 5 min in a server) are timed apart from those that reuse it.
 *
 * Data: per service 6 profiles (one per 10 s) of 19 Hz × 4 CPUs over a call tree of 300 stacks on 200
 * functions (bench/store-data.ts' ServiceModel, seeded per service).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_METRICS } from '../src/insight/config.js';
import { costSection } from '../src/insight/cost.js';
import { InsightEvaluator } from '../src/insight/evaluator.js';
import { startServer } from '../src/server/server.js';
import { openStore } from '../src/store/index.js';
import { ServiceModel } from './store-data.js';

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '200' },
    runs: { type: 'string', default: '20' },
    windows: { type: 'string', default: '5' },
    cost: { type: 'boolean', default: false },
    'anomaly-days': { type: 'string', default: '0' },
  },
});
const services = Number(args.services);
const runs = Number(args.runs);
const windows = Number(args.windows);
const END = Date.UTC(2026, 0, 20, 6);
const WINDOW_MS = 60_000;
const DAY_MS = 86_400_000;
const anomalyDays = Number(args['anomaly-days']);
const COST = costSection({ core_hour: 0.04, currency: 'USD', prices: [{ match: '{node_pool="spot"}', core_hour: 0.01 }] }, 'bench');

const dir = mkdtempSync(path.join(tmpdir(), 'kiln-bench-metrics-'));
const store = await openStore(dir, { threads: 2 });
const server = await startServer({ store, host: '127.0.0.1', port: 0 });
try {
  const t0 = performance.now();
  for (let s = 0; s < services; s++) {
    const model = new ServiceModel({ distinctStacks: 300, zipfExponent: 1.1, functions: 200, seed: 1000 + s });
    const labels = { service_name: `svc-${String(s).padStart(3, '0')}`, namespace: `ns-${s % 10}`, ...(args.cost ? { node_pool: s % 2 === 0 ? 'spot' : 'ondemand' } : {}) };
    // 4 CPUs' worth of samples: intervalMs scales the sample count, so ask for 10 s × (4 / 16).
    for (let d = 0; d <= anomalyDays; d++) {
      const end = END - d * DAY_MS;
      await store.write('anonymous', Array.from({ length: 6 }, (_, i) => ({ ...model.profile(end - WINDOW_MS + i * 10_000, labels, 2500), durationNs: 10_000 * 1e6 })));
    }
  }
  const stats = await store.stats();
  process.stderr.write(`wrote ${services} services × 6 profiles: ${stats.rows} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  const evaluator = new InsightEvaluator({ store, externalUrl: server.url, log: (m) => process.stderr.write(`${m}\n`), now: () => END });
  const plainSettings = { metrics: { ...DEFAULT_METRICS, windowMs: WINDOW_MS, delayMs: 0, topN: 10, anomalyDays: 0 }, rules: [], alerting: undefined, remoteWrite: undefined };
  evaluator.apply(plainSettings);
  server.context.metrics.appendText(() => evaluator.exposition());

  const evals: { wallMs: number; cpuMs: number; storeMs: number }[] = [];
  for (let i = 0; i < windows; i++) {
    const cpu = process.cpuUsage();
    const w0 = performance.now();
    const report = await evaluator.evaluate();
    const wallMs = performance.now() - w0;
    const used = process.cpuUsage(cpu);
    if (report.errors.length > 0) throw new Error(report.errors.join('; '));
    evals.push({ wallMs, cpuMs: (used.user + used.system) / 1000, storeMs: report.storeMs });
  }
  const report = evaluator.lastReport()!;

  // Cost and anomaly series: a second evaluator over the same store, run in turn with the plain one.
  const extended: { plain: number[]; cached: number[]; refresh: number[]; series: number } = { plain: [], cached: [], refresh: [], series: 0 };
  if (args.cost || anomalyDays > 0) {
    const richer = new InsightEvaluator({ store, externalUrl: server.url, log: (m) => process.stderr.write(`${m}\n`), now: () => END });
    const settings = { ...plainSettings, metrics: { ...plainSettings.metrics, anomalyDays }, cost: args.cost ? COST : undefined };
    const cpuOf = async (e: InsightEvaluator) => {
      const cpu = process.cpuUsage();
      const r = await e.evaluate();
      if (r.errors.length > 0) throw new Error(r.errors.join('; '));
      const used = process.cpuUsage(cpu);
      extended.series = e === richer ? r.seriesExported : extended.series;
      return (used.user + used.system) / 1000;
    };
    richer.apply(settings);
    await cpuOf(richer); // symbols of every day's stacks resolved once
    for (let i = 0; i < windows; i++) {
      extended.plain.push(await cpuOf(evaluator));
      extended.cached.push(await cpuOf(richer));
      richer.apply(settings); // a reload forgets the baseline: the next evaluation re-reads it, as every 5 min
      extended.refresh.push(await cpuOf(richer));
    }
  }

  // A bare HTTP/1.1 GET over a socket, bytes counted but never decoded: the client's share of the
  // process CPU stays near zero, so the CPU measured per scrape is the server's.
  const scrape = () =>
    new Promise<number>((resolve, reject) => {
      let bytes = 0;
      const sock = net.connect(server.port, '127.0.0.1', () => sock.write('GET /metrics HTTP/1.1\r\nHost: bench\r\nAccept: text/plain\r\nConnection: close\r\n\r\n'));
      sock.on('data', (d: Buffer) => (bytes += d.length));
      sock.on('end', () => resolve(bytes));
      sock.on('error', reject);
    });
  const insightBytes = Buffer.byteLength(evaluator.exposition());
  await scrape();
  const scrapes: { cpuMs: number; wallMs: number; bytes: number }[] = [];
  for (let i = 0; i < runs; i++) {
    const cpu = process.cpuUsage();
    const w0 = performance.now();
    const bytes = await scrape();
    const wallMs = performance.now() - w0;
    const used = process.cpuUsage(cpu);
    scrapes.push({ cpuMs: (used.user + used.system) / 1000, wallMs, bytes });
  }
  const assembly: number[] = [];
  for (let i = 0; i < runs; i++) {
    const cpu = process.cpuUsage();
    await server.context.metrics.exposition();
    const used = process.cpuUsage(cpu);
    assembly.push((used.user + used.system) / 1000);
  }

  const median = (xs: number[]) => {
    const s = xs.slice().sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)]!;
  };
  const warm = evals.slice(1);
  const f = (x: number) => x.toFixed(1);
  console.log(`services ${services}, series exported ${report.seriesExported}, cut ${report.seriesCut}, rows in store ${stats.rows}`);
  console.log(`evaluation (store cost per window): cold ${f(evals[0]!.wallMs)} ms wall / ${f(evals[0]!.cpuMs)} ms CPU; warm median of ${warm.length}: ${f(median(warm.map((e) => e.wallMs)))} ms wall / ${f(median(warm.map((e) => e.cpuMs)))} ms CPU (store part ${f(median(warm.map((e) => e.storeMs)))} ms)`);
  console.log(`scrape over HTTP, median of ${runs}: ${f(median(scrapes.map((s) => s.cpuMs)))} ms CPU (server; the client only counts bytes), ${f(median(scrapes.map((s) => s.wallMs)))} ms wall, ${median(scrapes.map((s) => s.bytes))} bytes (function metrics ${insightBytes} bytes)`);
  console.log(`server body assembly (exposition()), median of ${runs}: ${f(median(assembly))} ms CPU`);
  if (extended.plain.length > 0) {
    console.log(
      `with ${args.cost ? 'cost' : ''}${args.cost && anomalyDays > 0 ? ' and ' : ''}${anomalyDays > 0 ? `anomalies over ${anomalyDays} days` : ''} (${extended.series} series), process CPU per evaluation, median of ${windows}: ` +
        `plain (anchor, same run) ${f(median(extended.plain))} ms; extended, baseline reused ${f(median(extended.cached))} ms; extended, baseline re-read ${f(median(extended.refresh))} ms`,
    );
  }
  console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}`);
} finally {
  await server.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
