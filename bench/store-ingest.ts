/**
 * Ingest benchmark for the embedded store: writes `--hours` of `--services` services (each 19 Hz × 16
 * CPUs, a profile every 10 s; the first is `checkout`, the one bench/store-query.ts reads) the way the
 * server would, one write call per `--batch` profiles, and reports rows/s and
 * profiles/s (time inside Store.write only; generating profiles is not counted), bytes on disk per raw
 * sample after a checkpoint, and RSS. DuckDB gets one thread: the target is "on one core".
 *
 *   npx tsx bench/store-ingest.ts --hours 24 --batch 1 --concurrency 16 --dir .bench/store-24h
 *
 * Function names are decoded from UTF-8 bytes per profile, as the pprof and rows decoders hand them
 * over; `--sliced-names` makes them V8 sliced strings instead, as this bench did before stop 25
 * (its figures up to then were measured that way).
 *
 * The data directory is left in place for bench/store-query.ts.
 *
 * BENCH_COUNTS=1 adds what the writes made the store do (bench/store-work.ts: commits, rows per commit,
 * appenders, statements, WAL bytes, checkpoints, GCs) and each thread's CPU inside the writes.
 * BENCH_PERF_CTL=fifo: perf record's control fifo (`perf record -D -1 --control fifo:FIFO …`), enabled
 * around each group of timed writes only, so perf sees the writes and not the profiles' generation.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { Profile } from '../src/model/index.js';
import { DuckDBEngine, EngineStore } from '../src/store/index.js';
import { BENCH_END_MS, DEFAULT_SHAPE, RAW_SAMPLES_PER_PROFILE, ServiceModel, profileTimes } from './store-data.js';
import { countStoreWork } from './store-work.js';
import { threadCpuSeconds } from './thread-cpu.js';

const { values: args } = parseArgs({
  options: {
    hours: { type: 'string', default: '24' },
    batch: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '1' },
    dir: { type: 'string', default: '.bench/store-24h' },
    threads: { type: 'string', default: '1' },
    services: { type: 'string', default: '1' },
    // Function names as V8 sliced strings, the bench's way before stop 25 (see DataShape.names).
    'sliced-names': { type: 'boolean', default: false },
  },
});
const hours = Number(args.hours);
const batch = Number(args.batch);
const concurrency = Number(args.concurrency);

rmSync(args.dir, { recursive: true, force: true });
const engine = await DuckDBEngine.open(args.dir, { threads: Number(args.threads) });
const store = await EngineStore.open(engine);
const countsNow = process.env.BENCH_COUNTS ? countStoreWork(path.join(args.dir, 'kiln.duckdb.wal')) : undefined;
const perfFifo = process.env.BENCH_PERF_CTL;
const services = Array.from({ length: Number(args.services) }, (_, i) => ({
  model: new ServiceModel({ ...DEFAULT_SHAPE, seed: DEFAULT_SHAPE.seed + i, names: args['sliced-names'] ? 'sliced' : 'flat' }),
  labels: { service_name: i === 0 ? 'checkout' : `service-${i}`, namespace: 'shop' },
}));
// Every service pushes once per interval, interleaved in time as they would arrive at a server.
const times = profileTimes(hours, BENCH_END_MS).flatMap((t) => services.map((svc) => ({ t, svc })));

let writeMs = 0;
let rows = 0;
let profiles = 0;
let peakRss = 0;
const wallStart = performance.now();
// `concurrency` write calls in flight at once, as when many agents push to one server: the store
// then commits them together. Profiles are generated ahead in chunks, outside the timed part.
// Timed: wall clock and this process's CPU time (all threads, DuckDB's included) around the writes;
// the CPU figure is what "one core" means when other jobs share the machine.
let cpuUs = 0;
/** BENCH_COUNTS: each thread's CPU seconds inside the timed writes. */
const writeThreads: Record<string, number> = {};
const CHUNK = 8 * batch * concurrency;
for (let c = 0; c < times.length; c += CHUNK) {
  const calls: Profile[][] = [];
  for (let j = c; j < Math.min(times.length, c + CHUNK); j += batch) {
    calls.push(times.slice(j, Math.min(j + batch, c + CHUNK)).map(({ t, svc }) => svc.model.profile(t, svc.labels)));
  }
  for (let i = 0; i < calls.length; i += concurrency) {
    if (perfFifo) writeFileSync(perfFifo, 'enable\n');
    const threads0 = countsNow ? threadCpuSeconds() : undefined;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const rs = await Promise.all(calls.slice(i, i + concurrency).map((ps) => store.write('anonymous', ps)));
    const cpu = process.cpuUsage(cpu0);
    if (perfFifo) writeFileSync(perfFifo, 'disable\n');
    if (threads0) for (const [t, s] of Object.entries(threadCpuSeconds())) writeThreads[t] = (writeThreads[t] ?? 0) + s - (threads0[t] ?? 0);
    cpuUs += cpu.user + cpu.system;
    writeMs += performance.now() - t0;
    for (const r of rs) {
      rows += r.rows;
      profiles += r.profiles;
    }
  }
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}
const wallMs = performance.now() - wallStart;
const counts = countsNow?.();
const threads = countsNow ? Object.fromEntries(Object.entries(writeThreads).map(([t, s]) => [t, +s.toFixed(2)])) : undefined;
const t0 = performance.now();
await engine.checkpoint();
const checkpointMs = performance.now() - t0;
const stats = await store.stats();
peakRss = Math.max(peakRss, process.memoryUsage().rss);
await store.close();

const rawSamples = profiles * RAW_SAMPLES_PER_PROFILE;
const out = {
  hours,
  services: services.length,
  batch,
  concurrency,
  names: args['sliced-names'] ? 'sliced' : 'flat',
  profiles,
  rows,
  rowsPerProfile: Math.round(rows / profiles),
  rowsPerSecond: Math.round(rows / (writeMs / 1000)),
  profilesPerSecond: Math.round(profiles / (writeMs / 1000)),
  rowsPerCpuSecond: Math.round(rows / (cpuUs / 1e6)),
  profilesPerCpuSecond: Math.round(profiles / (cpuUs / 1e6)),
  writeSeconds: +(writeMs / 1000).toFixed(2),
  writeCpuSeconds: +(cpuUs / 1e6).toFixed(2),
  loadAverage: loadavg()[0]!.toFixed(1),
  wallSeconds: +(wallMs / 1000).toFixed(2),
  checkpointSeconds: +(checkpointMs / 1000).toFixed(2),
  bytesOnDisk: stats.bytesOnDisk,
  bytesPerRawSample: +(stats.bytesOnDisk / rawSamples).toFixed(3),
  bytesPerRow: +(stats.bytesOnDisk / rows).toFixed(2),
  peakRssMiB: Math.round(peakRss / 2 ** 20),
  ...(counts ? { counts, perPush: perPush(counts, profiles), writeThreadCpuSeconds: threads } : {}),
};
console.log(JSON.stringify(out, null, 2));

/** Counts per profile written (one agent push each here), and rows per commit. */
function perPush(counts: Record<string, number>, pushes: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(counts)) out[k] = +(v / pushes).toFixed(4);
  out['rows per commit'] = Math.round(counts['commit rows']! / Math.max(1, counts.commits!));
  return out;
}
